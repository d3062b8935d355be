"""Jobs on a Dask cluster (``jobs_executor = "dask"``): a real ``distributed.LocalCluster`` whose worker processes
open the same store and run the job there — directly through the scheduler, and configured in a Jupyter server."""

from __future__ import annotations

import os
import time

import pytest
import requests

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.jobs.executors import DaskExecutor
from jupyter_mltrack.jobs.scheduler import Scheduler

from .._server import JupyterServer
from .._subprocess import REPO

distributed = pytest.importorskip("distributed")

SCRIPT = ("import os, sys, jupyter_mltrack as mlt\n"
          "mlt.log_metric('worker_parent', float(os.getppid()))\n"
          "print('on a dask worker', sys.argv[1:], flush=True)\n")


@pytest.fixture(scope="module")
def cluster():
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), before or ""])  # the workers run this checkout
    try:
        with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0",
                                      silence_logs=40) as c:
            yield c
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def worker_pids(cluster) -> set[int]:
    with distributed.Client(cluster.scheduler_address) as client:
        return set(client.run(os.getpid).values())


def test_a_job_runs_on_a_dask_worker_and_logs_into_the_store(cluster, tmp_path):
    (tmp_path / "job.py").write_text(SCRIPT)
    store = Store(tmp_path / "store")
    try:
        store.create_job({"name": "on-dask", "script": str(tmp_path / "job.py"), "params": {"k": 1}})
        store.create_job({"name": "after-dask", "script": str(tmp_path / "job.py"), "after": ["on-dask"]})
        store.run_job("on-dask")
        s = Scheduler(store, DaskExecutor(store, cluster.scheduler_address))
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                s.tick()
                ex = store.job_executions("after-dask")
                if ex and ex[0]["status"] in ("finished", "failed", "killed", "skipped"):
                    break
                time.sleep(0.2)
        finally:
            s.stop()
        for name in ("on-dask", "after-dask"):
            ex = store.job_executions(name)[0]
            assert ex["status"] == "finished", ex
            run = store.get_run(ex["run_id"])
            assert run["status"] == "finished" and run["source"] == f"job:{name}"
            assert int(run["metrics"][0]["last"]) in worker_pids(cluster)  # its process was a worker's child
        assert "on a dask worker ['--k=1']" in store.job_log("on-dask")[1].decode()
    finally:
        store.close()


def test_a_server_configured_for_dask_runs_jobs_there(cluster, tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "job.py").write_text(SCRIPT)
    args = ("--MLTrackApp.jobs_executor=dask", f"--MLTrackApp.jobs_dask_address={cluster.scheduler_address}")
    with JupyterServer(tmp_path, str(tmp_path / "store"), args=args) as server:
        h = server.headers
        r = requests.post(server.api + "jobs", json={"name": "srv-dask", "script": "job.py"}, headers=h, timeout=30)
        assert r.status_code == 201, r.text
        assert requests.post(server.api + "jobs/srv-dask/run", headers=h, timeout=30).status_code == 201
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ex = requests.get(server.api + "jobs/srv-dask/executions", headers=h, timeout=30).json()["executions"]
            if ex[0]["status"] in ("finished", "failed", "killed"):
                break
            time.sleep(0.3)
        assert ex[0]["status"] == "finished", (ex, server.log()[-3000:])
        run = requests.get(server.api + f"runs/{ex[0]['run_id']}", headers=h, timeout=30).json()
        assert int(run["metrics"][0]["last"]) in worker_pids(cluster)
        assert "dask executor" in server.log()
