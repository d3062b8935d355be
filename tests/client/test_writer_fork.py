"""A forked child's writers, in this process: what the hook run in the child after a fork leaves of each writer, and
a writer first used in a child whose hook did not run. (tests/client/test_writer.py and test_lock_free.py fork for
real; these check each field the child starts with.)"""

from __future__ import annotations

import os
import threading

from jupyter_mltrack.client import series_buffer as SB
from jupyter_mltrack.client import writer as W
from jupyter_mltrack.client.backend import LocalBackend
from jupyter_mltrack.client.writer import Writer


class Watcher:
    def __init__(self) -> None:
        self.alerts: list[bool] = []

    def writer_alert(self, on: bool) -> None:
        self.alerts.append(on)


def _parent_state(store, monkeypatch) -> tuple[Writer, Watcher, list]:
    """A writer with points of two series (one written by another thread), a param, problems and a watcher, its
    thread not started (a thread of this process would go on beside the child's)."""
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    w = Writer(LocalBackend(store), interval=60.0, max_points=5_000, flush_points=1_000)
    monkeypatch.setattr(w, "_ensure_thread", lambda: None)
    mine = w.series("r", "m", "{}")
    theirs: list = []
    th = threading.Thread(target=lambda: theirs.append(w.series("r", "o", "{}")))
    th.start()
    th.join()
    w.add_point(mine, None, 1.0, 1.0)
    w.add_point(theirs[0], None, 2.0, 2.0)
    w.add("params", {"run_id": "r", "key": "p", "value": 1})
    w.unreported.append("the parent's error")
    w.passing.append("the parent's warning")
    watcher = Watcher()
    w.watch(watcher)
    assert watcher.alerts == [True]
    assert w._pending_points == 2 and w._nitems == 1
    monkeypatch.undo()
    return w, watcher, [mine, theirs[0]]


def test_after_a_fork_each_writer_starts_empty_keeping_its_series_and_its_watchers(store, monkeypatch):
    w, watcher, (mine, theirs) = _parent_state(store, monkeypatch)
    session, sink = w._session, w.sink
    held = threading.Lock()
    held.acquire()  # a parent thread was starting a writer when the process forked
    monkeypatch.setattr(W, "_start_lock", held)
    monkeypatch.setattr(W, "_writers", [w])

    W._after_fork_in_child()

    assert W._start_lock is not held and W._start_lock.acquire(blocking=False)
    W._start_lock.release()
    assert (w.sink, w.interval, w.max_points, w.flush_points) == (sink, 60.0, 5_000, 1_000)
    assert w._thread is None and w._pid == os.getpid()
    assert (w._pending_points, w._nitems, w._dirty) == (0, 0, [])
    assert all(items == [] for items in w._items.values())
    assert (w.unreported, w.passing, w.errors) == ([], [], [])
    assert w._session != session  # the child's batch ids are its own: the store applies each id once
    # the runs' series stay, empty, written by the one thread the child has
    me = threading.get_ident()
    assert w._bufs == {("r", "m", "{}"): mine, ("r", "o", "{}"): theirs}
    assert w._bufs[("r", "m", "{}")] is mine and w._bufs[("r", "o", "{}")] is theirs
    for buf in (mine, theirs):
        assert buf.first == me and buf.owner == (me if SB.LOCK_FREE else 0)
        assert buf.pending() == 0 and buf.lanes == {}
    assert watcher in w._watchers and watcher.alerts == [True, False]

    # the child's own logging starts its writer and writes only the child's points
    w.add_point(mine, None, 3.0, 3.0)
    w.close(timeout=30)
    assert w.errors == []
    got = store.get_series("r", "m")["points"]
    assert (got.steps.tolist(), got.values.tolist()) == ([1], [3.0])
    assert [m["name"] for m in store.get_run("r")["metrics"]] == ["m"]
    assert store.get_run("r")["params"] == {}


def test_a_writer_first_used_in_a_child_without_the_hook_starts_afresh(store, monkeypatch):
    w, watcher, _ = _parent_state(store, monkeypatch)
    session, sink = w._session, w.sink
    child = os.getpid() + 1
    monkeypatch.setattr(os, "getpid", lambda: child)
    try:
        w._ensure_thread()
        thread = w._thread
        assert thread is not None and thread.is_alive() and thread.name == "mltrack-writer"
        assert (w.sink, w.interval, w.max_points, w.flush_points) == (sink, 60.0, 5_000, 1_000)
        assert w._pid == child and w._session != session
        assert (w._bufs, w._pending_points, w._nitems, w.unreported, w.passing) == ({}, 0, 0, [], [])
        w._ensure_thread()
        assert w._thread is thread  # one thread
        buf = w.series("r", "m", "{}")
        w.add_point(buf, 7, 4.0, 4.0)
        w.close(timeout=30)
    finally:
        monkeypatch.undo()
    assert w.errors == []
    got = store.get_series("r", "m")["points"]
    assert (got.steps.tolist(), got.values.tolist()) == ([7], [4.0])
    assert store.get_run("r")["params"] == {} and [m["name"] for m in store.get_run("r")["metrics"]] == ["m"]
