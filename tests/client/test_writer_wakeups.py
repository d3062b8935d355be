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


def _until(cond, seconds: float = 20.0, poke=None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        if poke is not None:
            poke()
        time.sleep(0.005)
    return cond()


@pytest.mark.parametrize("fails, said", [(1, 1), (9, 1), (10, 2), (12, 2)])
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


@pytest.mark.parametrize("bad", [{"key": "t", "value": "no run"}, {"run_id": 7, "key": "t", "value": "x"}, "text"],
                         ids=["no run id", "a run id that is no text", "not a mapping"])
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
    assert _until(lambda: store.get_series("r", "m")["total_count"] == 10, seconds=5)
