"""Nothing lost, nothing doubled: a kernel tracking through a real server while the store is busy, while the
server is restarted, and one batch sent to two server processes on one store.

Each scenario makes the client resend batches the server commits later (a 2 s client timeout against a store
whose write lock another process holds for longer); the store's batch ids must make every resend a no-op."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests._server import JupyterServer
from tests._subprocess import hold_write_lock, subprocess_env, write_script

N = 50_000

CLIENT = """
import json, os, sys, time
import jupyter_mltrack as mlt
from jupyter_mltrack.client.tracking import get_client

n = int(os.environ["POINTS"])
run = mlt.start_run(name="busy", capture_environment=False)
print("RUN", run.id, flush=True)
for i in range(n):
    run.log_metric("loss", float(i), step=i)
    if i % 1000 == 999:
        time.sleep(float(os.environ["PACE"]))  # spread the points over many batches
run.end()
mlt.flush(timeout=600)
print("STATS", json.dumps(get_client().writer.stats), flush=True)
"""


def _start_client(tmp_path, server: JupyterServer, pace: float) -> subprocess.Popen:
    script = write_script(tmp_path, CLIENT)
    env = subprocess_env(MLTRACK_URI=server.client_uri, MLTRACK_HTTP_TIMEOUT="2", POINTS=str(N), PACE=str(pace),
                         MLTRACK_HOME=str(tmp_path / "client-home"))
    return subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _stored_points(db: str, run_id: str, name: str = "loss") -> tuple[int, int]:
    """(points stored, distinct steps) of a series of the run, read from the store."""
    from jupyter_mltrack.core.store import Store

    s = Store(db)
    try:
        pts = s.get_series(run_id, name)["points"]
        return len(pts.steps), len(set(pts.steps.tolist()))
    finally:
        s.close()


def _finish(client: subprocess.Popen) -> dict:
    out, err = client.communicate(timeout=600)
    assert client.returncode == 0, err[-3000:]
    stats = json.loads(out.split("STATS", 1)[1])
    return {"run": out.split("RUN", 1)[1].split()[0], "stats": stats, "stderr": err}


@pytest.mark.slow
def test_a_busy_store_doubles_nothing_and_loses_nothing(tmp_path):
    db = str(tmp_path / "store" / "mltrack.db")
    with JupyterServer(tmp_path, db) as server:
        client = _start_client(tmp_path, server, pace=0.25)
        time.sleep(3)
        locker = hold_write_lock(tmp_path, db, 8)  # the server's writes wait; the client's 2 s timeout resends them
        locker.wait(60)
        done = _finish(client)
    stored, distinct = _stored_points(db, done["run"])
    assert (stored, distinct) == (N, N), done["stats"]
    assert done["stats"]["retries"] >= 1 and done["stats"]["duplicates"] >= 1, done["stats"]  # resends happened


@pytest.mark.slow
def test_a_server_restarted_while_its_write_waits_doubles_nothing(tmp_path):
    db = str(tmp_path / "store" / "mltrack.db")
    server = JupyterServer(tmp_path, db).start()
    try:
        client = _start_client(tmp_path, server, pace=0.25)
        time.sleep(3)
        locker = hold_write_lock(tmp_path, db, 8)
        time.sleep(4)  # a batch is waiting on the lock in the server, and the client has timed out on it
        server.stop(signal.SIGTERM)  # a clean stop commits what the write thread holds once the lock is free
        locker.wait(60)
        server.start()
        done = _finish(client)
    finally:
        server.stop()
    stored, distinct = _stored_points(db, done["run"])
    assert (stored, distinct) == (N, N), done["stats"]
    assert done["stats"]["retries"] >= 1, done["stats"]


@pytest.mark.slow
def test_one_batch_sent_to_two_servers_on_one_store_is_applied_once(tmp_path):
    db = str(tmp_path / "store" / "mltrack.db")
    with JupyterServer(tmp_path / "a", db) as a, JupyterServer(tmp_path / "b", db) as b:
        requests.post(a.api + "batch", headers=a.headers, json={"runs": [{"id": "twice"}]}, timeout=30)
        answers: list[dict] = []

        def send(server: JupyterServer, i: int) -> None:
            body = {"id": f"batch-{i}", "metrics": [{"run_id": "twice", "name": "m", "values": [float(i)],
                                                     "steps": [i]}]}
            r = requests.post(server.api + "batch", headers=server.headers, json=body, timeout=60)
            answers.append(r.json()["written"])

        threads = [threading.Thread(target=send, args=(srv, i)) for i in range(40) for srv in (a, b, a)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(answers) == 120
    assert sum(1 for x in answers if not x.get("duplicate")) == 40
    assert _stored_points(db, "twice", "m") == (40, 40)


def test_the_lock_holder_really_blocks_writers(tmp_path):
    """The scenarios above rely on a second connection's BEGIN IMMEDIATE waiting while the locker holds it."""
    db = str(tmp_path / "x.db")
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    locker = hold_write_lock(tmp_path, db, 2)
    conn = sqlite3.connect(db, timeout=0.1, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        conn.execute("BEGIN IMMEDIATE")
    locker.wait(30)
