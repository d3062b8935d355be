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
