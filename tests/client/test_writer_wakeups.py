"""The writer's own bookkeeping, exactly: how often a store that keeps failing is reported, what an error of the
writer thread itself says and that the thread goes on, the ids of a split batch's parts, and that a call made while
the writer is busy does not wait out its interval."""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_mltrack.client.backend import LocalBackend
from jupyter_mltrack.client.writer import WriterError

RETRY_MESSAGE = "jupyter_mltrack: cannot write to the store yet (disk busy); retrying, nothing is lost"


class Flaky:
    """Fails the first ``fails`` writes with an OSError, then writes through to the store."""

    def __init__(self, store, fails: int):
        self.real = LocalBackend(store)
        self.fails = fails
        self.calls = 0

    def write(self, batch):
        self.calls += 1
        if self.calls <= self.fails:
            raise OSError("disk busy")
        return self.real.write(batch)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _stored(store, run_id: str, name: str) -> int:
    """How many points of the series are stored (0 before its first)."""
    from jupyter_mltrack.core.errors import NotFound

    try:
        return store.get_series(run_id, name)["total_count"]
    except NotFound:
        return 0


def _until(cond, seconds: float = 20.0, poke=None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        if poke is not None:
            poke()
        time.sleep(0.005)
    return cond()


@pytest.mark.parametrize("fails, said", [(1, 1), (9, 1), (10, 2), (12, 2), (100, 3), (1000, 4)])
def test_a_store_that_keeps_failing_is_reported_at_the_first_and_the_tenth_retry(store, writers, fails, said):
    """Said on the 1st, 10th, 100th and every 1,000th retry, never raised by flush() (nothing was lost). Each flush
    wakes the retry loop out of its growing delay, so the test need not wait it out."""
    store.write_batch({"runs": [{"id": "r"}]})
    sink = Flaky(store, fails)
    w = writers(sink, interval=60)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    assert _until(lambda: sink.calls > fails, poke=lambda: w.flush(timeout=0.001, raise_errors=False))
    w.flush(timeout=30)  # raises nothing: the retries were passing problems
    assert w.stats["retries"] == fails
    assert w.passing == [RETRY_MESSAGE] * said and w.unreported == []
    assert store.get_run("r")["tags"] == {"t": "v"}
    assert w._last_failure is None


def test_an_error_of_the_writer_thread_is_reported_with_its_traceback_and_the_thread_goes_on(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60)
    real = w._flush_once
    failed = []

    def once():
        if not failed:
            failed.append(True)
            raise RuntimeError("boom")
        real()

    w._flush_once = once
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    with pytest.raises(WriterError) as e:
        w.flush(timeout=0.5)  # the pass failed: nothing was stored, and flush() says why
    first = str(e.value).splitlines()
    assert first[0] == "jupyter_mltrack: writer error: RuntimeError('boom')"
    assert first[1] == "Traceback (most recent call last):" and first[-1] == "RuntimeError: boom"
    w.flush(timeout=30)  # the thread lives on: the next pass stores the tag
    assert store.get_run("r")["tags"] == {"t": "v"} and w._thread.is_alive()


def test_the_parts_of_a_split_batch_carry_the_batch_id_and_their_number(store, writers):
    """A batch refused for one of its runs is written again run by run; each part's id is the batch's with its
    number, so the store's exactly-once check tells a part resent after a lost answer from the other parts."""
    store.write_batch({"runs": [{"id": "a"}, {"id": "b"}, {"id": "c"}]})
    real = LocalBackend(store)
    ids = []

    class Recording:
        def write(self, batch):
            ids.append(batch.get("id"))
            return real.write(batch)

        def __getattr__(self, name):
            return getattr(real, name)

    w = writers(Recording(), interval=60)
    for r in ("a", "b", "c"):
        w.add("tags", {"run_id": r, "key": "t", "value": r})
    w.add("updates", {"run_id": "b", "status": "nonsense"})  # refuses the batch: split by run
    with pytest.raises(WriterError, match="nonsense"):
        w.flush(timeout=30)
    first = ids[0]
    assert ids == [first, f"{first}.0", f"{first}.1", f"{first}.2"]
    assert {r: store.get_run(r)["tags"] for r in "ac"} == {"a": {"t": "a"}, "c": {"t": "c"}}


@pytest.mark.parametrize("bad", [{"key": "t", "value": "no run"}, {"run_id": 7, "key": "t", "value": "x"},
                                 {"run_id": ["a"], "key": "t", "value": "x"}, "text"],
                         ids=["no run id", "a run id that is no text", "a run id that is a list", "not a mapping"])
def test_an_item_without_a_run_is_refused_alone_and_the_batch_split_around_it(store, writers, bad):
    """The split groups items by their run; one without a usable run id forms a part of its own, which the store
    refuses, instead of failing the split and losing every item of the batch."""
    import json
    import os
    from pathlib import Path

    store.write_batch({"runs": [{"id": "a"}, {"id": "b"}]})
    w = writers(LocalBackend(store), interval=60)
    w.add("tags", {"run_id": "a", "key": "t", "value": "a"})
    w.add("tags", bad)
    w.add("tags", {"run_id": "b", "key": "t", "value": "b"})
    with pytest.raises(WriterError, match="the store refused data"):
        w.flush(timeout=30)
    assert {r: store.get_run(r)["tags"] for r in "ab"} == {"a": {"t": "a"}, "b": {"t": "b"}}
    (f,) = sorted((Path(os.environ["MLTRACK_HOME"]) / "rejected").glob("*.json"))
    assert json.loads(f.read_text())["tags"] == [bad]


def test_items_without_a_usable_run_id_are_refused_together(store, writers):
    import json
    import os
    from pathlib import Path

    store.write_batch({"runs": [{"id": "a"}]})
    w = writers(LocalBackend(store), interval=60)
    w.add("tags", {"run_id": "a", "key": "t", "value": "a"})
    w.add("tags", {"run_id": 7, "key": "t", "value": "x"})
    w.add("tags", {"key": "t", "value": "no run"})
    with pytest.raises(WriterError, match="the store refused data"):
        w.flush(timeout=30)
    assert store.get_run("a")["tags"] == {"t": "a"}
    (f,) = sorted((Path(os.environ["MLTRACK_HOME"]) / "rejected").glob("*.json"))  # one part, one file
    assert [t["value"] for t in json.loads(f.read_text())["tags"]] == ["x", "no run"]


def test_a_split_keeps_each_run_s_declaration_lone_artifact_and_heartbeat_with_that_run(store, writers):
    """Split around a refused run declaration and an item without a run: the other run's declaration and items, a
    run whose only item is an artifact (d), and an open run's heartbeat (c) are each written with their own run."""
    from jupyter_mltrack.core.errors import NotFound

    from ..core._helpers import execute, sql

    store.write_batch({"runs": [{"id": "c", "project": "P"}, {"id": "d", "project": "P"}]})
    execute(store, "UPDATE runs SET heartbeat_at = 1 WHERE id = 'c'")
    w = writers(LocalBackend(store), interval=60)
    w.open_runs.add("c")
    w.add("runs", {"id": "a", "project": "P"})
    w.add("runs", {"id": "b", "project": "P", "status": "nonsense"})
    for r in "ab":
        w.add("tags", {"run_id": r, "key": "t", "value": r})
    w.add("artifacts", {"run_id": "d", "name": "model", "files": []})
    w.add("tags", {"key": "t", "value": "no run"})
    with pytest.raises(WriterError, match="the store refused data"):
        w.flush(timeout=30)
    assert store.get_run("a")["tags"] == {"t": "a"}
    with pytest.raises(NotFound):
        store.get_run("b")
    assert [a["name"] for a in store.get_run("d")["artifacts"]] == ["model"]
    assert sql(store, "select heartbeat_at from runs where id = 'c'")[0][0] > 1


class Gated:
    """Blocks its first write until ``gate`` is set, then writes through."""

    def __init__(self, store):
        self.real = LocalBackend(store)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls = 0

    def write(self, batch):
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.gate.wait(30)
        return self.real.write(batch)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _busy_writer(store, writers):
    """A writer whose interval is a minute, inside a pass (its first write blocked)."""
    store.write_batch({"runs": [{"id": "r"}]})
    sink = Gated(store)
    w = writers(sink, interval=60)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    threading.Thread(target=lambda: w.flush(timeout=30, raise_errors=False), daemon=True).start()
    assert sink.entered.wait(10)
    return w, sink


def test_a_write_now_made_while_the_writer_is_busy_runs_right_after_its_pass(store, writers):
    """The call's request to flush outlives the wake-up it sent while nobody waited for one: the next pass starts
    at once, not after the minute-long interval."""
    w, sink = _busy_writer(store, writers)
    answer = {}
    th = threading.Thread(target=lambda: answer.update(w.write_now({"tags": [{"run_id": "r", "key": "u",
                                                                             "value": "w"}]}, timeout=30)))
    th.start()
    time.sleep(0.1)  # the call is queued while the pass still writes
    t0 = time.monotonic()
    sink.gate.set()
    th.join(timeout=30)
    assert not th.is_alive() and time.monotonic() - t0 < 5
    assert store.get_run("r")["tags"] == {"t": "v", "u": "w"}


def test_points_past_the_flush_threshold_while_the_writer_is_busy_start_the_next_pass_at_once(store, writers):
    w, sink = _busy_writer(store, writers)
    w.flush_points = 10
    buf = w.series("r", "m", "{}")
    for i in range(10):  # the tenth point asks for a pass while the writer is still in the blocked one
        w.add_point(buf, None, float(i), 1000.0 + i)
    passes = w.passes
    sink.gate.set()
    assert _until(lambda: w.passes > passes, seconds=5)
    assert _until(lambda: _stored(store, "r", "m") == 10, seconds=5)


# ------------------------------------------------------------------------------------------------------------------
# deferred work, calls and flushes


def test_deferred_work_is_done_by_the_writer_on_its_own(store, writers):
    """``defer`` starts the writer thread like ``add``: the work is done at the next pass, flushed or not."""
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)
    w.defer(lambda: {"tags": [{"run_id": "r", "key": "t", "value": "deferred"}]})
    assert _until(lambda: store.get_run("r")["tags"] == {"t": "deferred"}, seconds=10)


class TwoGates(Gated):
    """Blocks its first write until ``gate`` is set and its second until ``gate2`` is."""

    def __init__(self, store):
        super().__init__(store)
        self.gate2 = threading.Event()

    def write(self, batch):
        if self.calls == 1:  # the second write
            self.calls += 1
            assert self.gate2.wait(30)
            return self.real.write(batch)
        return super().write(batch)


@pytest.mark.parametrize("between", ["defer", "write_now"])
def test_a_flush_waits_for_what_came_before_it_across_deferred_work_and_calls(store, writers, between):
    """Items added while a pass is being written, then deferred work or a call, then ``flush()``: the flush returns
    only once the pass that takes those items has been written, not when the pass already under way ends."""
    store.write_batch({"runs": [{"id": "r"}]})
    sink = TwoGates(store)
    w = writers(sink, interval=60)
    w.add("tags", {"run_id": "r", "key": "a", "value": "1"})
    threading.Thread(target=lambda: w.flush(timeout=30, raise_errors=False), daemon=True).start()
    assert sink.entered.wait(10)  # the first pass is being written
    w.add("tags", {"run_id": "r", "key": "b", "value": "2"})
    if between == "defer":
        w.defer(lambda: {"tags": [{"run_id": "r", "key": "c", "value": "3"}]})
    else:
        threading.Thread(target=lambda: w.write_now({"tags": [{"run_id": "r", "key": "c", "value": "3"}]}),
                         daemon=True).start()
        assert _until(lambda: w._calls, 10)  # the call is queued before the flush is asked for
    flushed = threading.Event()
    threading.Thread(target=lambda: (w.flush(timeout=30), flushed.set()), daemon=True).start()
    sink.gate.set()  # the first pass ends; the second is held at its write
    assert not flushed.wait(0.5)
    sink.gate2.set()
    assert flushed.wait(10)
    assert store.get_run("r")["tags"] == {"a": "1", "b": "2", "c": "3"}


def test_a_flush_asked_for_before_a_call_is_done_by_the_pass_that_makes_the_call(store, writers):
    """A flush waiting while the writer is busy, then a call: the next pass takes both the flush's items and the
    call, and the flush returns with it (a call that lowered the generation left the flush waiting for a pass that
    nothing asks for: until its timeout)."""
    w, sink = _busy_writer(store, writers)
    w.add("tags", {"run_id": "r", "key": "b", "value": "2"})
    flushed, answered = threading.Event(), []
    threading.Thread(target=lambda: (w.flush(timeout=30), flushed.set()), daemon=True).start()
    assert _until(lambda: w._flush_requested, 10)
    threading.Thread(target=lambda: answered.append(
        w.write_now({"tags": [{"run_id": "r", "key": "c", "value": "3"}]}, timeout=30)), daemon=True).start()
    assert _until(lambda: w._calls, 10)
    passes = w.passes
    sink.gate.set()
    assert flushed.wait(10) and _until(lambda: answered, 10)
    assert w.passes == passes + 1
    assert store.get_run("r")["tags"] == {"t": "v", "b": "2", "c": "3"}


def test_write_now_gives_up_waiting_at_its_timeout(store, writers):
    import concurrent.futures

    w, sink = _busy_writer(store, writers)
    t0 = time.monotonic()
    with pytest.raises(concurrent.futures.TimeoutError):
        w.write_now({"tags": [{"run_id": "r", "key": "u", "value": "w"}]}, timeout=0.2)
    assert time.monotonic() - t0 < 5
    sink.gate.set()


# ------------------------------------------------------------------------------------------------------------------
# the lock-free path's counts: thresholds, block ends, the cap


def _passes_after(w, before: int, seconds: float) -> bool:
    return _until(lambda: w.passes > before, seconds=seconds)


@pytest.mark.parametrize("flush_points", list(range(1, 40)))
def test_a_threshold_anywhere_in_the_first_blocks_never_writes_past_a_block(tracking, store, flush_points):
    """The owner's next look at its buffer is at the block's end, the flush threshold or the cap, whichever comes
    first: a threshold one point before a block's end must still stop it at the end (16 points, then 32)."""
    from jupyter_mltrack.client.tracking import get_client

    w = get_client().writer
    w.flush_points = flush_points
    run = tracking.start_run("blocks", capture_environment=False)
    for i in range(100):
        run.log_metric("m", float(i))
    run.end()
    tracking.flush()
    assert store.get_series(run.id, "m")["points"].values.tolist() == [float(i) for i in range(100)]


def test_points_written_in_bulk_by_the_owner_count_once_towards_the_threshold(tracking):
    """Lock-free points, then a bulk write by the same thread, then lock-free points again: the writer is woken
    when exactly ``flush_points`` are pending, not sooner (a bulk write that reset the owner's count made the next
    look count points twice)."""
    import numpy as np

    from jupyter_mltrack.client.tracking import get_client

    w = get_client().writer
    w.interval, w.flush_points = 60.0, 200
    run = tracking.start_run("mixed", capture_environment=False)
    run.flush()
    before = w.passes
    for i in range(16):  # noted at the block's end
        run.log_metric("m", float(i))
    run.log_metric_series("m", np.arange(100, dtype=float))
    for i in range(83):
        run.log_metric("m", float(i))
    assert not _passes_after(w, before, 0.3)  # 199 pending
    run.log_metric("m", 0.0)
    assert _passes_after(w, before, 10)
    run.end()


def test_after_a_pass_the_threshold_counts_from_zero_again(tracking):
    from jupyter_mltrack.client.tracking import get_client

    w = get_client().writer
    w.interval, w.flush_points = 60.0, 100
    run = tracking.start_run("again", capture_environment=False)
    for i in range(5):
        run.log_metric("m", float(i))
    run.flush()  # a pass takes the five points
    before = w.passes
    for i in range(99):
        run.log_metric("m", float(i))
    assert not _passes_after(w, before, 0.3)
    run.log_metric("m", 0.0)
    assert _passes_after(w, before, 10)
    run.end()


@pytest.mark.parametrize("logged, held", [(49, False), (50, True)])
def test_the_producer_waits_once_exactly_max_points_are_pending(store, writers, logged, held):
    w, sink = _busy_writer(store, writers)
    w.flush_points, w.max_points = 10, 50
    buf = w.series("r", "m", "{}")
    done = threading.Event()

    def produce():
        for i in range(logged):
            w.add_point(buf, None, float(i), 1000.0 + i)
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    assert done.wait(0.5) is not held
    sink.gate.set()
    assert done.wait(10)
    w.flush(timeout=30)
    assert store.get_series("r", "m")["points"].values.tolist() == [float(i) for i in range(logged)]


def test_a_refused_figure_costs_only_itself(store, writers):
    """Figures, like artifacts and inputs, are written one by one when a batch is split."""
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.add("figures", {"run_id": "r", "name": "fig", "kind": "image", "files": []})  # no rendering: refused
    with pytest.raises(WriterError, match="fig"):
        w.flush(timeout=30)
    assert store.get_run("r")["tags"] == {"t": "v"}


def test_after_a_partial_pass_every_series_left_counts_towards_the_cap(store, writers):
    """A pass takes at most ``flush_points`` points; what it leaves, in every series, is what the cap counts."""
    store.write_batch({"runs": [{"id": "r"}]})
    sink = TwoGates(store)
    w = writers(sink, interval=60)
    w.flush_points = 100
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    threading.Thread(target=lambda: w.flush(timeout=30, raise_errors=False), daemon=True).start()
    assert sink.entered.wait(10)
    for name, k in (("a", 120), ("b", 20), ("c", 10)):
        buf = w.series("r", name, "{}")
        for i in range(k):
            w.add_point(buf, None, float(i), 1000.0 + i)
    sink.gate.set()  # the next pass takes 100 of a's points, leaves 20 of a, b's 20 and c's 10, and is held
    assert _until(lambda: sink.calls >= 2, seconds=10)
    assert w._pending_points == 50
    sink.gate2.set()
    w.flush(timeout=30)
    assert [_stored(store, "r", n) for n in "abc"] == [120, 20, 10]



# ------------------------------------------------------------------------------------------------------------------
# a new writer, flush and close


def test_a_new_writer_is_woken_at_exactly_flush_points(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60, flush_points=10)
    buf = w.series("r", "m", "{}")
    for i in range(9):
        w.add_point(buf, None, float(i), 1000.0 + i)
    assert not _passes_after(w, 0, 0.3)
    w.add_point(buf, None, 9.0, 1009.0)
    assert _passes_after(w, 0, 10)


def test_two_writers_batches_never_share_an_id(store, writers):
    """Each writer numbers its batches after a random session id: the store's exactly-once check must not take one
    writer's first batch for another's."""
    store.write_batch({"runs": [{"id": "r"}]})
    ids = []
    real = LocalBackend(store)

    class Recording:
        def write(self, batch):
            ids.append(batch["id"])
            return real.write(batch)

        def __getattr__(self, name):
            return getattr(real, name)

    for k in range(3):
        w = writers(Recording(), interval=60)
        w.add("tags", {"run_id": "r", "key": f"t{k}", "value": "v"})
        w.flush(timeout=30)
        assert w.stats["batches"] == 1 and w.stats["duplicates"] == 0
    assert len(set(ids)) == 3
    assert store.get_run("r")["tags"] == {"t0": "v", "t1": "v", "t2": "v"}


def test_a_flush_without_a_time_limit_waits_until_stored(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.flush(timeout=None)
    assert store.get_run("r")["tags"] == {"t": "v"}


def test_a_flush_asked_for_while_the_writer_is_busy_runs_right_after_its_pass(store, writers):
    w, sink = _busy_writer(store, writers)
    w.add("tags", {"run_id": "r", "key": "u", "value": "w"})  # after the pass under way took its items
    flushed = threading.Event()
    threading.Thread(target=lambda: (w.flush(timeout=30), flushed.set()), daemon=True).start()
    time.sleep(0.1)  # asked while the pass still writes
    sink.gate.set()
    assert flushed.wait(5)
    assert store.get_run("r")["tags"] == {"t": "v", "u": "w"}


def test_close_gives_up_on_a_sink_that_hangs_and_says_what_was_not_stored(store, writers, capsys):
    """Closing (at exit) waits at most its timeout for the flush and five seconds for the thread, then prints the
    problems nobody was told about on stderr."""
    w, sink = _busy_writer(store, writers)
    w.report("jupyter_mltrack: something nobody was told")
    capsys.readouterr()
    t0 = time.monotonic()
    w.close(timeout=0.3)
    assert time.monotonic() - t0 < 8
    assert "jupyter_mltrack: something nobody was told\n" in capsys.readouterr().err
    assert w.unreported == []
    sink.gate.set()


def test_a_closed_writer_starts_again_when_given_more(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60)
    w.add("tags", {"run_id": "r", "key": "a", "value": "1"})
    w.close(timeout=10)
    assert not w._thread.is_alive()
    w._closing = False  # a writer used again after close (a kernel's client reused after its exit hook ran)
    w.add("tags", {"run_id": "r", "key": "b", "value": "2"})
    w.flush(timeout=10)
    assert store.get_run("r")["tags"] == {"a": "1", "b": "2"}


def test_a_flush_that_runs_out_of_time_says_so_exactly(store, writers):
    w, sink = _busy_writer(store, writers)
    w.add("tags", {"run_id": "r", "key": "u", "value": "w"})
    with pytest.raises(WriterError) as e:
        w.flush(timeout=0.2)
    assert str(e.value) == ("jupyter_mltrack: the writer has not stored everything yet; it keeps retrying in the "
                            "background")
    sink.gate.set()


class RecordedWaits(threading.Condition):
    """The writer's wake-up condition, recording how long each wait other than the interval's was asked to last and
    waiting a hundredth of it (the retries' delays, without waiting them out)."""

    def __init__(self, lock, interval: float):
        super().__init__(lock)
        self.interval = interval
        self.asked: list[float] = []

    def wait(self, timeout=None):
        if timeout == self.interval:
            return super().wait(timeout)
        self.asked.append(timeout)
        return super().wait(timeout / 100)


class Failing:
    def __init__(self, fails: float):
        self.fails, self.calls = fails, 0

    def write(self, batch):
        self.calls += 1
        if self.calls <= self.fails:
            raise OSError("disk busy")
        return {}


def test_a_failing_write_is_retried_after_delays_doubling_from_a_fifth_of_a_second_up_to_five(writers):
    sink = Failing(8)
    w = writers(sink, interval=60)
    w._wake = waits = RecordedWaits(w._lock, 60)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.flush(timeout=30)
    assert (sink.calls, w.stats["retries"]) == (9, 8)
    assert waits.asked == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])


def test_at_exit_a_failing_write_is_given_up_once_a_delay_reaches_four_seconds(writers, capsys):
    sink = Failing(float("inf"))
    w = writers(sink, interval=60)
    w._wake = waits = RecordedWaits(w._lock, 60)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.close(timeout=0)
    assert not w._thread.is_alive()
    assert waits.asked == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0])
    err = capsys.readouterr().err
    assert "jupyter_mltrack: the store refused data: gave up at exit: disk busy — the refused items were saved to" in err


def test_open_runs_are_sent_a_heartbeat_once_ten_seconds_have_passed_since_the_last(writers, monkeypatch):
    from jupyter_mltrack.client import writer as W

    clock = [1_000.0]
    shim = type("Clock", (), {"__getattr__": lambda self, name: getattr(time, name), "time": lambda self: clock[0]})
    monkeypatch.setattr(W, "time", shim())
    sent: list[tuple[float, list[str]]] = []

    class Recording:
        def write(self, batch):
            sent.append((clock[0], batch["heartbeat"]))
            return {}

    w = writers(Recording(), interval=60)
    w.open_runs.update({"b", "a"})
    for t in (1_000.0, 1_009.999, 1_010.0, 1_015.0, 1_019.999, 1_020.0, 1_020.0):
        clock[0] = t
        w.flush(timeout=30)
    assert sent == [(1_000.0, ["a", "b"]), (1_010.0, ["a", "b"]), (1_020.0, ["a", "b"])]
    w.open_runs.discard("a")
    clock[0] = 1_030.0
    w.add("tags", {"run_id": "b", "key": "t", "value": "v"})
    w.flush(timeout=30)
    clock[0] = 1_031.0
    w.add("tags", {"run_id": "b", "key": "t", "value": "w"})
    w.flush(timeout=30)
    assert sent[3:] == [(1_030.0, ["b"]), (1_031.0, [])]  # a batch written anyway carries the heartbeat only when it is due


@pytest.mark.parametrize("max_points, logged, looks", [
    (1_000, 120, [1, 16, 20, 48, 112]),  # past the threshold: at each block's end only (16, then 32, 64…)
    (100, 150, [1, 16, 20, 48, 100]),  # then at the cap, where the producer is held
])
def test_the_owner_looks_at_its_series_at_the_block_s_end_the_threshold_then_the_cap(tracking, store, max_points,
                                                                                     logged, looks):
    """``note`` is called for the owner's lock-free points only when its buffer needs the writer: its first point,
    a full block, the flush threshold (20 here) and the cap; not at every point once past the threshold."""
    from jupyter_mltrack.client.tracking import get_client

    w = get_client().writer
    w.interval = 60.0
    run = tracking.start_run("looks", capture_environment=False)
    run.flush()
    real_sink, entered, gate = w.sink, threading.Event(), threading.Event()

    class Gated:
        def write(self, batch):
            entered.set()
            assert gate.wait(30)
            return real_sink.write(batch)

        def __getattr__(self, name):
            return getattr(real_sink, name)

    w.sink = Gated()
    run.set_tag("t", "v")
    threading.Thread(target=lambda: w.flush(timeout=30, raise_errors=False), daemon=True).start()
    assert entered.wait(10)  # the writer is inside a pass: it takes nothing until the gate opens
    w.flush_points, w.max_points = 20, max_points
    seen: list[int] = []
    real_note = w.note
    w.note = lambda buf: (seen.append(count[0]), real_note(buf))
    count, done = [0], threading.Event()

    def produce():
        for i in range(logged):
            count[0] = i + 1
            run.log_metric("m", float(i))
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    try:
        assert done.wait(0.5) is (logged < max_points)
        assert seen == looks
    finally:
        gate.set()
    assert done.wait(10)
    run.end()
    tracking.flush()
    assert store.get_series(run.id, "m")["points"].values.tolist() == [float(i) for i in range(logged)]


def test_the_writer_s_defaults_are_the_ones_architecture_md_gives():
    """A pass every second, woken at 500k pending points, the producer held at 2M, a heartbeat every 10 s."""
    from jupyter_mltrack.client import writer as W

    w = W.Writer(sink=None)
    assert (w.interval, w.flush_points, w.max_points, W.HEARTBEAT_EVERY) == (1.0, 500_000, 2_000_000, 10.0)
    assert w.stats == {"batches": 0, "points": 0, "retries": 0, "duplicates": 0, "busy_seconds": 0.0}
    assert w._thread is None  # made, not started


def test_a_flush_with_nothing_to_write_makes_no_pass(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.flush(timeout=30)
    assert (w.passes, w.stats["batches"]) == (1, 1)
    w.flush(timeout=30)
    w.flush(timeout=30)
    assert (w.passes, w.stats["batches"]) == (1, 1)


def test_the_writer_s_busy_time_and_batches_add_up_over_its_passes(store, writers):
    """``stats["busy_seconds"]``: the time spent in passes, summed (the benchmarks read it); ``batches``: counted."""
    store.write_batch({"runs": [{"id": "r"}]})
    real = LocalBackend(store)

    class Slow:
        def write(self, batch):
            time.sleep(0.2)
            return real.write(batch)

        def __getattr__(self, name):
            return getattr(real, name)

    w = writers(Slow(), interval=60)
    t0 = time.perf_counter()
    w.add("tags", {"run_id": "r", "key": "t", "value": "1"})
    w.flush(timeout=30)
    w.sink = real  # the second pass is quick: the total must still hold the first one's 0.2 s
    w.add("tags", {"run_id": "r", "key": "t", "value": "2"})
    w.flush(timeout=30)
    wall = time.perf_counter() - t0
    assert w.stats["batches"] == 2
    assert 0.2 <= w.stats["busy_seconds"] <= wall
