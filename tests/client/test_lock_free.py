"""``Run.log_metric``'s lock-free path (client/series_buffer.py): the thread that made a series writes its points
into blocks without the writer's lock; another thread logging to the same series writes to a buffer of its own; the
writer copies out the points written so far while more are written. Every point logged is stored once, with the
step it was given."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from jupyter_mltrack.client import series_buffer as SB
from jupyter_mltrack.client.tracking import get_client
from jupyter_mltrack.core.errors import InvalidInput


@pytest.fixture
def switch_often():
    """Thread switches every microsecond instead of every 5 ms: races that need a switch at one bytecode show."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _series(store, run_id, name="m"):
    return store.get_series(run_id, name)["points"]


def test_threads_sharing_a_series_get_every_step_once(tracking, store, switch_often):
    run = tracking.start_run("shared", capture_environment=False)
    run.log_metric("m", -1.0)  # the main thread makes the series: its owner
    nthreads, per = 4, 20_000
    start, stop = threading.Barrier(nthreads + 1), threading.Event()
    counts = [0] * (nthreads + 1)  # points logged so far, per thread

    def log(t):
        start.wait()
        while not stop.is_set():  # from before the owner's last point until after it: they overlap
            run.log_metric("m", t * 1e6 + counts[t])
            counts[t] += 1

    threads = [threading.Thread(target=log, args=(t,)) for t in range(1, nthreads + 1)]
    for th in threads:
        th.start()
    start.wait()
    while counts[0] < per or min(counts[1:]) < 10:  # the owner logs on until every other thread has logged too
        run.log_metric("m", float(counts[0]))
        counts[0] += 1
    stop.set()
    for th in threads:
        th.join()
    run.end()
    tracking.flush()
    p = _series(store, run.id)
    assert sorted(p.steps.tolist()) == list(range(1 + sum(counts)))  # no step twice, none skipped
    logged = [t * 1e6 + i for t in range(nthreads + 1) for i in range(counts[t])]
    assert sorted(p.values.tolist()) == sorted([-1.0] + logged)
    by_value = dict(zip(p.values.tolist(), p.steps.tolist()))
    for t in range(nthreads + 1):  # each thread's points in the order it logged them
        steps = [by_value[t * 1e6 + i] for i in range(counts[t])]
        assert steps == sorted(steps)
    buf = get_client().writer._bufs[(run.id, "m", "{}")]
    assert buf.first == threading.get_ident() and len(buf.lanes) == nthreads  # each other thread: a buffer of its own
    # ended by the thread that wrote it lock-free: every write takes the lock now, and once all is stored no block
    # is kept, for the series or for the other threads' buffers
    assert buf.owner == 0 and buf.cap == 0 and not buf.full
    assert [(lane.cap, lane.full) for lane in buf.lanes.values()] == [(0, [])] * nthreads


def test_points_logged_while_the_writer_takes_them_are_kept(tracking, store, switch_often):
    w = get_client().writer
    w.interval = 0.0005  # the writer takes the arrays over and over while they grow
    run = tracking.start_run("busy", capture_environment=False)
    passes = w.passes
    n = 0
    while n < 60_000 or (w.passes - passes < 5 and n < 3_000_000):  # until the writer has taken points 5 times
        run.log_metric("m", n * 0.5, step=n)
        n += 1
    taken_while_logging = w.passes - passes
    run.end()
    tracking.flush()
    p = _series(store, run.id)
    assert taken_while_logging >= 5
    assert p.steps.tolist() == list(range(n))
    assert np.array_equal(p.values, np.arange(n) * 0.5)


def test_lock_free_logging_is_held_back_at_the_cap(tracking, store):
    w = get_client().writer
    run = tracking.start_run("capped", capture_environment=False)
    tracking.flush()
    real = w.sink

    class Slow:
        def write(self, batch):
            import time

            time.sleep(0.01)
            return real.write(batch)

        def __getattr__(self, name):
            return getattr(real, name)

    w.sink, w.interval, w.max_points, w.flush_points = Slow(), 0.01, 300, 100
    try:
        buf = None
        for i in range(5000):
            run.log_metric("m", float(i))
            buf = buf or w._bufs[(run.id, "m", "{}")]
            assert buf.pending() <= w.max_points  # the producer waited instead of growing the buffer
        tracking.flush()
    finally:
        w.sink = real
    run.end()
    tracking.flush()
    assert _series(store, run.id).values.tolist() == [float(i) for i in range(5000)]


def test_a_step_past_the_64_bit_range_is_refused_on_both_paths(tracking, store):
    run = tracking.start_run("edge", capture_environment=False)
    run.log_metric("m", 1.0, step=2**63 - 1)
    message = "metric 'm': the step after 9223372036854775807 would pass the 64-bit range; give steps explicitly"
    with pytest.raises(InvalidInput) as e:
        run.log_metric("m", 2.0)
    assert str(e.value) == message
    errors = []

    def other_thread():
        try:
            run.log_metric("m", 3.0)
        except InvalidInput as x:
            errors.append(str(x))

    th = threading.Thread(target=other_thread)
    th.start()
    th.join()
    assert errors == [message]
    run.log_metric("m", 4.0, step=7)  # nothing half-appended: the series goes on
    run.end()
    tracking.flush()
    p = _series(store, run.id)
    assert (p.steps.tolist(), p.values.tolist()) == ([7, 2**63 - 1], [4.0, 1.0])


def test_without_the_gil_every_append_takes_the_lock(tracking, store, monkeypatch):
    monkeypatch.setattr(SB, "LOCK_FREE", False)
    run = tracking.start_run("locked", capture_environment=False)
    for i in range(100):
        run.log_metric("m", float(i))
    buf = get_client().writer._bufs[(run.id, "m", "{}")]
    assert buf.owner == 0
    run.end()
    tracking.flush()
    assert _series(store, run.id).values.tolist() == [float(i) for i in range(100)]


def test_a_forked_child_logs_to_its_parents_series(store_dir, store, run_py):
    """The child's copy of the series starts empty (the parent's unflushed points are the parent's to store) and
    its own points are stored by its own writer."""
    run_py("""
        import os, sys
        import jupyter_mltrack as R
        R.set_tracking_uri(sys.argv[1])
        with R.start_run("parent", capture_environment=False) as run:
            for v in (1.0, 2.0, 3.0):
                run.log_metric("m", v)
            run.flush()
            run.log_metric("m", 4.0)  # not flushed when the child is forked
            pid = os.fork()
            if pid == 0:
                try:
                    run.log_metric("m", 100.0)
                    run.log_metric("m", 101.0)
                    R.flush(timeout=10)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            run.log_metric("m", 5.0)
    """, store_dir)
    (run,) = store.search_runs()[0]
    assert sorted(_series(store, run["id"]).values.tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0, 100.0, 101.0]
