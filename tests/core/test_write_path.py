"""core/db.py: one write path — every write transaction of a process runs on the store's one write thread, readers
never write (the fragments a read rebuilt are handed to the writer), and the façade's small writes are batches."""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_mltrack.core import db as D
from jupyter_mltrack.core.errors import NotFound
from jupyter_mltrack.core.store import Store

from ._helpers import sql


@pytest.fixture
def write_threads(monkeypatch):
    """The name of the thread every write transaction ran on."""
    seen: list[str] = []
    real = D.Database._transaction

    def spy(self, fn, *args):
        seen.append(threading.current_thread().name)
        return real(self, fn, *args)

    monkeypatch.setattr(D.Database, "_transaction", spy)
    return seen


def test_every_write_runs_on_the_write_thread(store, write_threads):
    def log(i):
        store.write_batch({"runs": [{"id": f"r{i}", "project": "P"}],
                           "metrics": [{"run_id": f"r{i}", "name": "m", "values": [1.0, 2.0]}]})

    threads = [threading.Thread(target=log, args=(i,), name=f"producer-{i}") for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.create_project("Q", "a project")
    store.create_experiment("Q", "E", "an experiment")
    store.write_batch({"artifacts": [{"run_id": "r0", "name": "a", "files": []}]})
    art = store.find_artifact("r0", "a")
    store.add_run_input("r1", art["id"])
    v = store.register_model("P", "model", art["id"], stage="candidate")
    assert (v["name"], v["version"], v["stage"], v["run_id"]) == ("model", 1, "candidate", "r0")
    assert len(write_threads) == 8 + 5
    assert set(write_threads) == {"mltrack-store-write"}
    assert store.get_project("Q")["description"] == "a project"
    assert store.get_run("r1")["inputs"][0]["artifact_id"] == art["id"]


def test_a_write_on_the_write_thread_runs_at_once(store, write_threads):
    """The server's write executor is the store's write thread: a write handed to it is not queued behind itself."""
    fut = store.write_executor.submit(store.write_batch, {"runs": [{"id": "x"}]})
    assert fut.result(timeout=10)["runs"] == 1
    assert write_threads == ["mltrack-store-write"]


def test_errors_of_a_write_reach_the_caller(store):
    with pytest.raises(NotFound, match="unknown run: nope"):
        store.write_batch({"heartbeat": ["nope"]})
    assert store.write_batch({"runs": [{"id": "ok"}]})["runs"] == 1  # the write thread goes on


def test_a_read_never_writes_and_hands_rebuilt_fragments_to_the_writer(store, write_threads):
    """Listing 150 runs still logging rebuilds their fragments in the read; the writer stores them afterwards."""
    ids = [f"r{i:03d}" for i in range(150)]
    store.write_batch({"runs": [{"id": r} for r in ids]})
    for part in (ids[:60], ids[60:120], ids[120:]):  # small batches of runs still logging: fragments cleared
        store.write_batch({"params": [{"run_id": r, "key": "k", "value": 1} for r in part]})
    assert sql(store, "SELECT count(*) FROM runs WHERE table_row = ''") == [(150,)]
    before = len(write_threads)
    reader = {}

    def read():
        reader["rows"] = store.run_table()
        reader["thread"] = threading.current_thread().name

    t = threading.Thread(target=read, name="a-reader")
    t.start()
    t.join()
    assert reader["rows"]["total"] == 150
    deadline = time.time() + 10
    while sql(store, "SELECT count(*) FROM runs WHERE table_row = ''") != [(0,)] and time.time() < deadline:
        time.sleep(0.02)
    assert sql(store, "SELECT count(*) FROM runs WHERE table_row = ''") == [(0,)]
    assert write_threads[before:] == ["mltrack-store-write"]  # one write, by the writer, none by "a-reader"
    assert "a-reader" not in write_threads


def test_closing_the_store_stops_its_write_thread(store_dir):
    s = Store(store_dir)
    s.write_batch({"runs": [{"id": "r"}]})
    thread = s.write_executor._thread
    assert thread is not None and thread.is_alive()
    s.close()
    thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(RuntimeError):
        s.write_batch({"runs": [{"id": "r2"}]})


def test_a_forked_child_writes_with_its_own_write_thread(store_dir, run_py):
    out = run_py("""
        import os, sys
        from jupyter_mltrack.core.store import Store
        s = Store(sys.argv[1])
        s.write_batch({"runs": [{"id": "parent"}]})
        pid = os.fork()
        if pid == 0:
            s.write_batch({"runs": [{"id": "child"}]})
            os._exit(0)
        os.waitpid(pid, 0)
        s.write_batch({"runs": [{"id": "parent2"}]})
        print(sorted(r["id"] for r in s.search_runs()[0]))
    """, store_dir, timeout=60).stdout
    assert out.strip() == "['child', 'parent', 'parent2']"


def _wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_write_thread_runs_its_idle_job_once_writes_pause():
    events: list[str] = []
    w = D.WriteThread(name="t-idle", idle=lambda: events.append("idle"))
    try:
        gate = threading.Event()

        def job(name, seconds=0.0):
            def run():
                gate.wait(10) if name == "first" else None
                time.sleep(seconds)
                events.append(name)
            return run

        # jobs queued behind each other: the idle job waits for the queue to stay empty
        futs = [w.submit(job("first", D.IDLE_WORK)), w.submit(job("second")), w.submit(job("third"))]
        gate.set()
        for f in futs:
            f.result(10)
        _wait_for(lambda: w.idle_runs == 1)
        assert events == ["first", "second", "third", "idle"]
        time.sleep(10 * D.IDLE_AFTER)
        assert w.idle_runs == 1  # once per pause, not again and again
        # little work since: no idle job
        w.submit(job("small")).result(10)
        time.sleep(10 * D.IDLE_AFTER)
        assert events == ["first", "second", "third", "idle", "small"]
        # enough work again, spread over several writes: one idle job after them
        for i in range(4):
            w.submit(job(f"part{i}", D.IDLE_WORK / 3)).result(10)
        _wait_for(lambda: w.idle_runs == 2)
        assert events[-2:] == ["part3", "idle"]
    finally:
        w.shutdown()


def test_an_idle_job_that_fails_leaves_the_write_thread_going():
    def boom():
        raise OSError("disk gone")

    w = D.WriteThread(name="t-idle-fails", idle=boom)
    try:
        w.submit(time.sleep, D.IDLE_WORK).result(10)
        _wait_for(lambda: w.idle_runs == 1)
        assert w.submit(lambda: 42).result(10) == 42
    finally:
        w.shutdown()


def test_a_large_write_commits_without_checkpointing_the_wal_and_the_idle_write_thread_checkpoints_it(tmp_path):
    """SQLite: a commit copies the WAL into the database file only past WAL_AUTOCHECKPOINT_PAGES; the write thread
    does it once writes pause, so a large write is stored without waiting for it."""
    import numpy as np

    s = Store(str(tmp_path / "s"))
    try:
        assert s.db.writer._idle is not None
        s.write_batch({"runs": [{"id": "r", "project": "P"}]})
        db_file = tmp_path / "s" / "mltrack.db"
        n = 700_000  # random values: about 6 MB compressed, more than SQLite's default autocheckpoint (1,000 pages)
        values = np.random.default_rng(1).random(n)
        busy = threading.Event()
        stored = s.write_executor.submit(s.write_batch, {"metrics": [{"run_id": "r", "name": "m", "values": values}]})
        held = s.write_executor.submit(busy.wait, 30)  # the write thread stays busy: no idle moment yet
        stored.result(60)
        before = db_file.stat().st_size
        assert before < 1_000_000, before  # the points are in the WAL only
        busy.set()
        held.result(10)
        _wait_for(lambda: db_file.stat().st_size > 5_000_000)
        assert s.db.writer.idle_runs >= 1
        got = s.get_series("r", "m")
        assert got["total_count"] == n and np.array_equal(got["points"].values, values)
    finally:
        s.close()


def test_every_sqlite_connection_checkpoints_its_commits_only_past_the_limit(store_dir):
    s = Store(store_dir)
    try:
        with s.db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == D.WAL_AUTOCHECKPOINT_PAGES == 4096
    finally:
        s.close()
