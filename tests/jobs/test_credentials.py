"""A job on a PostgreSQL store whose role needs a password (scram, checked by the real server): the job's process
and a Dask task never carry the password — the process finds it in a private libpq password file, the Dask worker
uses its own credentials — and what the job logs still lands in the store."""

from __future__ import annotations

import os
import stat

import pytest

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.jobs import credentials as C
from jupyter_mltrack.jobs import runner as R

from .._postgres import PASSWORD
from .._subprocess import REPO

SCRIPT = ("import os, sys, jupyter_mltrack as mlt\n"
          "leaks = sorted(k for k, v in os.environ.items() if {secret!r} in v)\n"
          "print('uri', os.environ['MLTRACK_URI'], flush=True)\n"
          "print('leaks', leaks, flush=True)\n"
          "pgpass = os.environ.get('PGPASSFILE')\n"
          "print('pgpass', oct(os.stat(pgpass).st_mode & 0o777) if pgpass else None, flush=True)\n"
          "mlt.log_metric('reached', 1.0)\n")


def test_split_password_leaves_stores_without_one_alone():
    assert C.split_password("sqlite:////tmp/a.db") == ("sqlite:////tmp/a.db", None)
    assert C.split_password("/tmp/store") == ("/tmp/store", None)
    assert C.split_password("https://host/base/") == ("https://host/base/", None)
    assert C.split_password("postgresql+psycopg://u@h:5/db") == ("postgresql+psycopg://u@h:5/db", None)
    assert C.split_password("postgresql+psycopg://u:p%40ss%3Aw@h:5/db") == ("postgresql+psycopg://u@h:5/db",
                                                                           "p@ss:w")


def test_the_password_file_is_the_owner_s_and_escapes_libpq_s_separators(tmp_path):
    path = C.write_password_file("postgresql+psycopg://u@h/db", "a:b\\c", tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "h:5432:db:u:a\\:b\\\\c\n"
    env = C.process_store_env("postgresql+psycopg://u:pw@h:6/db", tmp_path)
    assert env == {"MLTRACK_URI": "postgresql+psycopg://u@h:6/db", "PGPASSFILE": str(tmp_path / ".pgpass")}
    assert C.process_store_env("postgresql+psycopg://u@h:6/db", tmp_path) == {
        "MLTRACK_URI": "postgresql+psycopg://u@h:6/db"}


@pytest.fixture
def secret_store(pg_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MLTRACK_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    name, url = pg_cluster.password_database()
    store = Store(url)
    (tmp_path / "job.py").write_text(SCRIPT.format(secret=PASSWORD))
    store.create_job({"name": "secret", "script": str(tmp_path / "job.py")})
    yield store, url
    store.close()
    pg_cluster.drop_database(name)


def test_a_local_job_reaches_a_password_store_without_the_password_in_its_environment(secret_store):
    store, url = secret_store
    with pytest.raises(Exception, match="password"):  # the role does need its password: the test proves something
        Store(C.split_password(url)[0]).close()
    assert R.run_here(store, store.run_job("secret")) == {"secret": "finished"}
    ex = store.job_executions("secret")[0]
    run = store.get_run(ex["run_id"])
    assert run["metrics"][0]["name"] == "reached" and run["status"] == "finished"
    log = store.job_log("secret")[1].decode()
    assert f"uri {C.split_password(url)[0]}\n" in log and "leaks []" in log and "pgpass 0o600" in log
    assert PASSWORD not in log


def test_a_dask_task_carries_no_password_and_the_worker_uses_its_own(secret_store, tmp_path):
    distributed = pytest.importorskip("distributed")
    from jupyter_mltrack.jobs.executors import DaskExecutor
    from jupyter_mltrack.jobs.scheduler import Scheduler

    store, url = secret_store
    own = C.write_password_file(C.split_password(url)[0], PASSWORD, tmp_path)  # the worker's own credentials
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.run(exec, f"import os; os.environ['PGPASSFILE'] = {str(own)!r}")  # in the worker's process
        executor = DaskExecutor(store, cluster.scheduler_address)
        sent, submit = [], executor.client.submit

        def spy(*args, **kw):  # what goes through the scheduler
            sent.append(repr((args, kw)))
            return submit(*args, **kw)

        executor.client.submit = spy
        store.run_job("secret")
        s = Scheduler(store, executor)
        try:
            import time

            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                s.tick()
                ex = store.job_executions("secret")[0]
                if ex["status"] in ("finished", "failed", "killed"):
                    break
                time.sleep(0.2)
        finally:
            s.stop()
    assert ex["status"] == "finished", ex["reason"]
    assert len(sent) == 1 and C.split_password(url)[0] in sent[0] and PASSWORD not in sent[0]
    log = store.job_log("secret")[1].decode()
    assert "leaks []" in log and PASSWORD not in log
