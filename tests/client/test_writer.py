"""client/writer.py: the background writer — exit flush, retries, refused data, back-pressure, heartbeats.

Sinks here are the real local backend on a real store; the "flaky" and "slow" sinks only wrap it to inject a failure
or a delay in front of the real write."""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from jupyter_mltrack.client import writer as W
from jupyter_mltrack.client.backend import LocalBackend
from jupyter_mltrack.client.writer import Writer, WriterError
from jupyter_mltrack.core.errors import InvalidInput, NotFound
from jupyter_mltrack.client.tracking import get_client


class FlakySink:
    """The real backend behind a write that raises RuntimeError ``failures`` times first."""

    def __init__(self, target, failures: int):
        self.target = target
        self.failures = failures
        self.calls = 0

    def write(self, batch):
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("disk unplugged")
        return self.target.write(batch)

    def __getattr__(self, name):
        return getattr(self.target, name)


class SlowSink:
    """The real backend behind a write that takes ``delay`` seconds; records the points of every batch."""

    def __init__(self, target, delay: float):
        self.target = target
        self.delay = delay
        self.batch_points: list[int] = []

    def write(self, batch):
        time.sleep(self.delay)
        self.batch_points.append(sum(len(m["values"]) for m in batch.get("metrics", [])))
        return self.target.write(batch)


def rejected_files() -> list[Path]:
    return sorted((Path(os.environ["MLTRACK_HOME"]) / "rejected").glob("*.json"))


# ------------------------------------------------------------------------------------------------------------------
# interpreter exit (real subprocesses)


EXIT_SCRIPT = """
    import sys
    import jupyter_mltrack as R
    R.set_tracking_uri(sys.argv[1])
    run = R.start_run("script", params={"lr": 0.01, "layers": [3, 4]}, tags={"kind": "exit-test"},
                      capture_environment=False)
    for i in range(100_000):
        run.log_metric("loss", 1.0 / (i + 1))
    run.log_metric("acc", 0.5, context={"subset": "val"})
    print(run.id, flush=True)
    if len(sys.argv) > 2:
        raise RuntimeError("the script died")
    # no end(), no flush(): the exit hooks must store everything
"""


def test_everything_is_stored_at_interpreter_exit(store_dir, store, run_py):
    run_id = run_py(EXIT_SCRIPT, store_dir).stdout.strip()
    run = store.get_run(run_id)
    assert run["params"] == {"lr": 0.01, "layers": [3, 4]} and run["tags"] == {"kind": "exit-test"}
    series = {m["key"]: m for m in run["metrics"]}
    assert series["loss"]["count"] == 100_000 and series["loss"]["last_step"] == 99_999
    assert series["loss"]["last"] == 1.0 / 100_000
    assert series["acc[subset=val]"]["last"] == 0.5
    p = store.get_series(run_id, "loss")["points"]
    assert p.steps.tolist() == list(range(100_000))
    np.testing.assert_array_equal(p.values, 1.0 / (np.arange(100_000) + 1))
    # a script that ends normally finishes its open runs
    assert run["status"] == "finished" and run["end_time"] is not None and run["error"] is None


def test_a_script_dying_of_an_exception_fails_its_run(store_dir, store, run_py):
    r = run_py(EXIT_SCRIPT, store_dir, "die", check=False)
    assert r.returncode == 1 and "the script died" in r.stderr
    run = store.get_run(r.stdout.strip())
    assert run["status"] == "failed"
    assert "RuntimeError: the script died" in run["error"] and "Traceback" in run["error"]
    assert {m["key"]: m["count"] for m in run["metrics"]}["loss"] == 100_000  # the data is stored anyway


def test_a_short_script_still_captures_its_environment(store_dir, store, run_py):
    r = run_py("""
        import sys
        import jupyter_mltrack as R
        R.set_tracking_uri(sys.argv[1])
        with R.start_run("short") as run:
            run.log_metric("m", 1.0)
        print(run.id)
    """, store_dir)
    run = store.get_run(r.stdout.strip())
    assert run["status"] == "finished" and run["metrics"][0]["count"] == 1
    assert [a["name"] for a in run["artifacts"]] == ["environment"], r.stderr


def test_a_forked_child_can_log(store_dir, store, run_py):
    run_py("""
        import os, sys
        import jupyter_mltrack as R
        R.set_tracking_uri(sys.argv[1])
        with R.start_run("parent", capture_environment=False) as run:
            run.log_metric("m", 1.0)
            run.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    with R.start_run("child", parent=False, capture_environment=False) as child:
                        child.log_param("p", 1)
                    R.flush(timeout=10)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
    """, store_dir)
    runs = {r["name"]: r for r in store.search_runs()[0]}
    assert runs["parent"]["status"] == "finished"
    assert "child" in runs and runs["child"]["params"] == {"p": 1}


# ------------------------------------------------------------------------------------------------------------------
# transient failures


def test_transient_sink_failures_are_retried_and_reported(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    sink = FlakySink(LocalBackend(store), failures=2)
    w = writers(sink, interval=0.05)
    buf = w.series("r", "m", "{}")
    for i in range(1000):
        w.add_point(buf, None, float(i), 1000.0 + i)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.flush(timeout=30, raise_errors=False)
    assert sink.failures == 0 and sink.calls >= 3
    assert w.stats["retries"] == 2
    assert store.get_series("r", "m")["points"].values.tolist() == [float(i) for i in range(1000)]
    assert store.get_run("r")["tags"] == {"t": "v"}
    assert w.errors and "disk unplugged" in w.errors[0] and "nothing is lost" in w.errors[0]
    assert rejected_files() == []


def test_a_sink_failure_is_warned_about_on_the_next_api_call(tracking, store):
    w = get_client().writer
    sink = FlakySink(w.sink, failures=2)
    w.sink = sink
    run = tracking.start_run(capture_environment=False)
    run.log_metric("m", 1.0)
    w.flush(timeout=30, raise_errors=False)
    assert sink.failures == 0
    assert store.get_run(run.id)["metrics"][0]["last"] == 1.0
    assert any("disk unplugged" in e for e in w.errors)
    with pytest.warns(RuntimeWarning, match="cannot write to the store yet"):
        run.log_metric("m", 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once only
        run.log_metric("m", 3.0)
    assert run._hold is False  # warned: the next points take the lock-free path again
    run.end()
    tracking.flush()
    assert store.get_run(run.id)["metrics"][0]["count"] == 3


def test_a_report_that_comes_in_while_the_runs_are_told_all_is_warned_is_not_lost(tracking):
    """``Writer._alerted`` on the user's thread tells every run there is nothing left to warn about while the writer
    thread reports a new problem: the runs must end up told to warn (the report's own telling may have come first)."""
    w = get_client().writer
    runs = [tracking.start_run(f"r{i}", capture_environment=False) for i in range(3)]

    class Racer:  # a report lands while the watchers are told there is nothing to warn about
        armed = False

        def writer_alert(self, on):
            if self.armed and not on:
                w.unreported.append("jupyter_mltrack: a problem reported meanwhile")

    racer = Racer()
    w.watch(racer)
    racer.armed = True
    w._alerted()
    assert [r._hold for r in runs] == [True] * 3
    w._watchers.discard(racer)
    with pytest.warns(RuntimeWarning, match="reported meanwhile"):
        runs[0].log_metric("m", 1.0)
    assert [r._hold for r in runs] == [False] * 3
    for r in runs:
        r.end()


def test_a_run_ended_by_another_thread_refuses_points_from_its_own(tracking, store):
    run = tracking.start_run("ended elsewhere", capture_environment=False)
    run.log_metric("m", 1.0)
    th = threading.Thread(target=run.end)
    th.start()
    th.join()
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_metric("m", 2.0)
    tracking.flush()
    assert store.get_series(run.id, "m")["points"].values.tolist() == [1.0]


def test_flush_does_not_raise_once_a_transient_failure_is_resolved(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(FlakySink(LocalBackend(store), failures=1), interval=0.05)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.flush(timeout=30)
    assert store.get_run("r")["tags"] == {"t": "v"}


def test_flush_raises_when_the_sink_keeps_failing(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    sink = FlakySink(LocalBackend(store), failures=10**9)
    w = writers(sink, interval=0.05)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    t0 = time.monotonic()
    with pytest.raises(WriterError, match="disk unplugged"):
        w.flush(timeout=0.5)
    assert time.monotonic() - t0 < 10
    with pytest.raises(WriterError, match="has not stored everything yet \\(disk unplugged\\); it keeps retrying"):
        w.flush(timeout=0.3)  # the failure itself was already reported: now the timeout speaks
    assert store.get_run("r")["tags"] == {}
    # the data was kept: once the sink recovers, it is stored
    sink.failures = 0
    w.flush(timeout=30)
    assert store.get_run("r")["tags"] == {"t": "v"}


# ------------------------------------------------------------------------------------------------------------------
# refused data


def test_a_conflict_from_another_process_is_saved_and_the_rest_is_stored(tracking, store, store_dir, run_py):
    run = tracking.start_run(capture_environment=False)
    run.flush()
    # another process sets the param first
    run_py("""
        import sys
        from jupyter_mltrack.core.store import Store
        Store(sys.argv[1]).write_batch({"params": [{"run_id": sys.argv[2], "key": "lr", "value": 0.2}]})
    """, store_dir, run.id)
    run.log_param("lr", 0.1)  # this process cannot know
    run.log_param("other", "kept")
    run.log_metric("m", 1.0)
    run.set_tag("t", "v")
    with pytest.raises(WriterError, match="param 'lr'.*already 0.2.*saved to"):
        run.flush()
    info = store.get_run(run.id)
    assert info["params"] == {"lr": 0.2, "other": "kept"}
    assert info["metrics"][0]["last"] == 1.0 and info["tags"] == {"t": "v"}
    files = rejected_files()
    assert len(files) == 1
    assert json.loads(files[0].read_text()) == [{"run_id": run.id, "key": "lr", "value": 0.1}]
    assert str(files[0]) in get_client().writer.errors[-1]
    run.log_metric("m", 2.0)  # the writer goes on
    run.end()
    tracking.flush()
    assert store.get_run(run.id)["status"] == "finished"


def test_a_refused_item_only_costs_its_own_run(tracking, store):
    get_client().writer.interval = 60  # everything below goes into one batch
    good = tracking.start_run("good", params={"a": 1}, capture_environment=False)
    bad = tracking.start_run("bad", parent=False, capture_environment=False)
    good.log_metric("m", 1.0)
    bad.log_input(999_999)  # no such artifact: the store refuses it for good
    good.set_tag("t", "v")
    bad.end()
    good.end()
    w = get_client().writer
    w.close()  # joins the writer thread: every part of the batch is written or refused by now
    assert any("no artifact 999999" in e for e in w.errors)
    info = store.get_run(good.id)
    assert info["status"] == "finished"
    assert info["params"] == {"a": 1} and info["metrics"][0]["last"] == 1.0 and info["tags"] == {"t": "v"}
    (f,) = rejected_files()
    assert json.loads(f.read_text())["inputs"] == [{"run_id": bad.id, "artifact_id": 999_999, "role": "input"}]


def test_a_refused_item_does_not_lose_the_rest_of_its_run(tracking, store):
    get_client().writer.interval = 60  # everything below goes into one batch
    run = tracking.start_run(params={"a": 1}, capture_environment=False)
    run.log_metric("m", 1.0)
    run.log_input(999_999)
    with pytest.raises(WriterError, match="no artifact 999999"):
        run.flush()
    assert len(rejected_files()) == 1
    info = store.get_run(run.id)
    assert info["params"] == {"a": 1} and info["metrics"][0]["last"] == 1.0


def test_flush_waits_for_every_part_of_a_split_batch(store, writers):
    store.write_batch({"runs": [{"id": "good"}]})
    sink = SlowSink(LocalBackend(store), delay=0.6)  # the good run's part is still on its way when flush() returns
    w = writers(sink, interval=60)
    w.add("tags", {"run_id": "ghost", "key": "t", "value": "x"})
    w.add("tags", {"run_id": "good", "key": "t", "value": "kept"})
    with pytest.raises(WriterError, match="unknown run: ghost"):
        w.flush(timeout=30)
    assert store.get_run("good")["tags"] == {"t": "kept"}


def test_an_unknown_parent_is_refused_without_blocking_the_writer(store_dir, store, run_py):
    r = run_py("""
        import sys
        import jupyter_mltrack as R
        from jupyter_mltrack.client.tracking import get_client
        from jupyter_mltrack.client.writer import WriterError
        R.set_tracking_uri(sys.argv[1])
        get_client().writer.interval = 60
        a = R.start_run("a", capture_environment=False)
        a.flush()
        b = R.start_run("b", parent="nosuchparent", capture_environment=False)
        a.log_metric("m", 1.0)
        try:
            R.flush(timeout=20)
        except WriterError as e:
            print(e, file=sys.stderr)
        b.end()
        a.log_metric("m", 2.0)
        a.end()
        print(a.id, b.id, flush=True)
    """, store_dir, timeout=60)
    a_id, b_id = r.stdout.split()
    assert "unknown parent run: nosuchparent" in r.stderr
    a = store.get_run(a_id)
    assert a["status"] == "finished" and a["metrics"][0]["count"] == 2
    with pytest.raises(NotFound):
        store.get_run(b_id)
    refused = [json.loads(f.read_text()) for f in rejected_files()]
    assert any(x.get("runs", [{}])[0].get("id") == b_id for x in refused if isinstance(x, dict))


def test_invalid_data_sent_by_hand_is_refused_and_saved(store, writers):
    """The writer's own input is validated by the API, but the sink still refuses bad batches for good."""
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)
    w.add("updates", {"run_id": "r", "status": "exploded"})
    with pytest.raises(WriterError, match="status 'exploded'"):
        w.flush(timeout=30)
    (f,) = rejected_files()
    assert json.loads(f.read_text())["updates"] == [{"run_id": "r", "status": "exploded"}]
    w.add("tags", {"run_id": "r", "key": "after", "value": "ok"})
    w.flush(timeout=30)
    assert store.get_run("r")["tags"] == {"after": "ok"}


def test_a_failing_deferred_job_is_reported(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)

    def capture_something():
        raise OSError("no such device")

    w.defer(capture_something)
    w.defer(lambda: {"tags": [{"run_id": "r", "key": "deferred", "value": "yes"}]})
    with pytest.raises(WriterError) as e:
        w.flush(timeout=30)
    assert str(e.value) == "jupyter_mltrack: could not capture capture_something: OSError('no such device')"
    assert store.get_run("r")["tags"] == {"deferred": "yes"}


def test_a_failing_deferred_job_without_a_name_is_reported_as_data(store, writers):
    import functools

    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60)

    def capture(what):
        raise OSError(f"no {what}")

    w.defer(functools.partial(capture, "device"))  # a partial has no __name__
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    with pytest.raises(WriterError) as e:
        w.flush(timeout=30)
    assert str(e.value) == "jupyter_mltrack: could not capture data: OSError('no device')"
    assert store.get_run("r")["tags"] == {"t": "v"}


# ------------------------------------------------------------------------------------------------------------------
# bounded memory


def test_back_pressure_bounds_the_buffer_and_loses_nothing(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    sink = SlowSink(LocalBackend(store), delay=0.01)
    w = writers(sink, interval=0.01, max_points=200, flush_points=50)
    buf = w.series("r", "m", "{}")
    n = 4000
    for i in range(n):
        w.add_point(buf, None, float(i), 1000.0 + i)
        assert w._pending_points <= w.max_points  # the producer waited instead of growing the buffer
    w.flush(timeout=60)
    assert max(sink.batch_points) <= 200
    assert sum(sink.batch_points) == n and len(sink.batch_points) >= n // 200
    p = store.get_series("r", "m")["points"]
    assert p.steps.tolist() == list(range(n)) and p.values.tolist() == [float(i) for i in range(n)]


def test_bulk_appends_apply_back_pressure_too(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    sink = SlowSink(LocalBackend(store), delay=0.01)
    w = writers(sink, interval=0.01, max_points=500, flush_points=100)
    buf = w.series("r", "m", "{}")
    for k in range(40):
        w.add_points(buf, np.arange(k * 100, (k + 1) * 100), np.full(100, float(k)), np.full(100, 5.0))
        assert w._pending_points <= w.max_points
    w.flush(timeout=60)
    assert max(sink.batch_points) <= 500 and sum(sink.batch_points) == 4000
    assert store.get_series("r", "m")["total_count"] == 4000


def test_producers_on_several_threads(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.01, max_points=300, flush_points=100)

    def produce(t):
        buf = w.series("r", f"m{t}", "{}")
        for i in range(2000):
            w.add_point(buf, None, float(i), 1.0)

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.flush(timeout=60)
    for t in range(4):
        assert store.get_series("r", f"m{t}")["points"].steps.tolist() == list(range(2000))


# ------------------------------------------------------------------------------------------------------------------
# heartbeats and small things


def test_open_runs_send_heartbeats(tracking, store, monkeypatch):
    monkeypatch.setattr(W, "HEARTBEAT_EVERY", 0.0)
    w = get_client().writer
    w.interval = 0.02
    run = tracking.start_run(capture_environment=False)
    assert run.id in w.open_runs
    run.flush()
    first = store.get_run(run.id)["heartbeat_at"]
    deadline = time.monotonic() + 10
    while store.get_run(run.id)["heartbeat_at"] == first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.get_run(run.id)["heartbeat_at"] > first
    run.end()
    assert run.id not in w.open_runs


def test_flush_with_nothing_to_do_and_close_twice(store, writers):
    w = writers(LocalBackend(store), interval=0.05)
    t0 = time.monotonic()
    w.flush(timeout=5)
    assert time.monotonic() - t0 < 2
    w.close()
    w.close()
    assert w.errors == []


def test_close_flushes_what_is_left(store):
    store.write_batch({"runs": [{"id": "r"}]})
    w = Writer(LocalBackend(store), interval=60)
    buf = w.series("r", "m", "{}")
    w.add_point(buf, 5, 1.0, 1.0)
    w.add_point(buf, None, 2.0, 2.0)
    w.add("updates", {"run_id": "r", "status": "finished", "end_time": 3.0})
    w.close()
    assert store.get_series("r", "m")["points"].steps.tolist() == [5, 6]
    assert store.get_run("r")["status"] == "finished"
    assert w.stats["batches"] >= 1 and w.stats["points"] == 2


def test_unknown_run_is_refused_not_retried(store, writers):
    w = writers(LocalBackend(store), interval=0.05)
    buf = w.series("ghost", "m", "{}")
    w.add_point(buf, None, 1.0, 1.0)
    with pytest.raises(WriterError, match="unknown run: ghost"):
        w.flush(timeout=30)
    assert w.stats["retries"] == 0
    (f,) = rejected_files()
    assert json.loads(f.read_text())["metrics"][0]["values"] == [1.0]
    with pytest.raises(NotFound):
        store.get_run("ghost")


def test_write_now_runs_on_the_writer_thread_after_the_buffer(store, writers):
    """A write whose caller needs the answer (a model version) still goes through the writer, after what was
    logged before it: here the buffered run must exist before the immediate batch refers to it."""
    import threading

    seen, ids = [], []

    class Spy(LocalBackend):
        def write(self, batch):
            seen.append((threading.current_thread().name, sorted(k for k, v in batch.items() if v and k != "id")))
            ids.append(batch["id"])
            return super().write(batch)

    w = writers(Spy(store), interval=60)
    w.add("runs", {"id": "buffered"})
    out = w.write_now({"params": [{"run_id": "buffered", "key": "k", "value": 1}]})
    assert out["params"] == 1 and store.get_run("buffered")["params"] == {"k": 1}
    assert seen == [("mltrack-writer", ["runs"]), ("mltrack-writer", ["params"])]
    assert len(set(ids)) == 2  # every batch has its own id, so a resent one is applied once
    with pytest.raises(NotFound):  # the sink's error reaches the caller, and the writer goes on
        w.write_now({"heartbeat": ["nope"]})
    w.add("tags", {"run_id": "buffered", "key": "t", "value": "v"})
    w.flush()
    assert store.get_run("buffered")["tags"] == {"t": "v"}


def test_a_pass_writes_at_most_flush_points_points(store, writers):
    """A producer faster than the sink makes more passes, not bigger batches (the memory of one write stays
    bounded); flush() returns once every pass is written, and a write_now waits for the points logged before it."""
    store.write_batch({"runs": [{"id": "r"}]})
    sink = SlowSink(LocalBackend(store), delay=0.0)
    order = []
    real = sink.write

    def write(batch):
        order.append("points" if batch.get("metrics") else "call")
        return real(batch)

    sink.write = write
    w = writers(sink, interval=60, max_points=100_000, flush_points=100)
    buf = w.series("r", "m", "{}")
    w.add_points(buf, np.arange(1050), np.arange(1050) * 0.5, np.full(1050, 5.0))
    w.write_now({"tags": [{"run_id": "r", "key": "after", "value": "points"}]})
    assert sink.batch_points[:11] == [100] * 10 + [50]
    assert order == ["points"] * 11 + ["call"]
    for i in range(3):
        w.add_point(buf, None, float(i), 6.0)
    w.flush(timeout=60)
    assert store.get_series("r", "m")["points"].values.tolist() == [i * 0.5 for i in range(1050)] + [0.0, 1.0, 2.0]


def test_flush_waits_for_every_pass_of_a_large_buffer(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    sink = SlowSink(LocalBackend(store), delay=0.02)
    w = writers(sink, interval=60, max_points=100_000, flush_points=100)
    buf = w.series("r", "m", "{}")
    w.add_points(buf, np.arange(1000), np.arange(1000) * 0.5, np.full(1000, 5.0))
    w.flush(timeout=60)
    assert store.get_series("r", "m")["total_count"] == 1000  # not just the first pass's 100
    assert sink.batch_points == [100] * 10
