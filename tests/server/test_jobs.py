"""Jobs through a real Jupyter server: the REST routes (definitions checked, run now, pause, resume, logs, delete),
the scheduler inside the extension running what is queued, the Python client and ``mltrack jobs`` through the
server, and — slow, a real minute — two servers on one store firing an every-minute job exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from .._server import JupyterServer
from .._subprocess import subprocess_env

NOTEBOOK = {"cells": [
    {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "greeting = 'hi'\n", "outputs": [],
     "execution_count": None},
    {"cell_type": "code", "metadata": {}, "source": "print(greeting, 'from the notebook')", "outputs": [],
     "execution_count": None}],
    "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jobs-server")
    (folder / "store").mkdir()
    (folder / "hello.py").write_text("import sys\nprint('hello', *sys.argv[1:], flush=True)\n")
    (folder / "greet.ipynb").write_text(json.dumps(NOTEBOOK))
    with JupyterServer(folder, str(folder / "store")) as s:
        yield s


def call(server, method, path, **kw):
    return requests.request(method, server.api + path, headers=server.headers, timeout=60, **kw)


def wait_for(server, name, status=("finished", "failed", "killed", "skipped"), timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ex = call(server, "GET", f"jobs/{name}/executions").json()["executions"]
        if ex and ex[0]["status"] in status:
            return ex[0]
        time.sleep(0.2)
    raise AssertionError(f"job {name} did not reach {status}: {ex}")


@pytest.mark.parametrize("body, status, words", [
    ({"name": "x", "script": "hello.py", "schedule": "0 25 * * *"}, 400, "schedule '0 25 * * *' is not a valid"),
    ({"name": "x", "notebook": "nope.ipynb"}, 400, "notebook: no file"),
    ({"name": "x", "script": "hello.py", "after": ["ghost"]}, 400, "after: no job named 'ghost'"),
    ({"name": "x", "notebook": "greet.ipynb", "params": {"name": "a"}}, 400, "does not declare the parameter 'name'"),
    ({"name": "x", "script": "hello.py", "timezone": "Nowhere/City"}, 400, "timezone 'Nowhere/City'"),
    ({"name": "x/y", "script": "hello.py"}, 400, "name 'x/y' must be"),
    (["not", "an", "object"], 400, "expected a job"),
])
def test_bad_definitions_are_400_naming_the_field(server, body, status, words):
    r = call(server, "POST", "jobs", json=body)
    assert r.status_code == status and r.json()["error"]["code"] == "invalid", r.text
    assert words in r.json()["error"]["message"]


def test_define_run_now_logs_pause_resume_delete(server):
    r = call(server, "POST", "jobs", json={"name": "greet", "notebook": "greet.ipynb", "params": {"greeting": "hey"},
                                           "project": "jobs-demo"})
    assert r.status_code == 201, r.text
    assert r.json()["notebook"] == str(server.folder / "greet.ipynb")  # relative: to the server's root
    r = call(server, "POST", "jobs", json={"name": "hello", "script": "hello.py", "params": {"who": "you"},
                                           "after": ["greet"], "project": "jobs-demo", "schedule": "0 3 * * *"})
    assert r.status_code == 201 and r.json()["next_run"] > time.time()
    assert [j["name"] for j in call(server, "GET", "jobs", params={"project": "jobs-demo"}).json()["jobs"]] == [
        "greet", "hello"]
    t0 = time.monotonic()
    r = call(server, "POST", "jobs/greet/run")
    assert r.status_code == 201 and [e["job"] for e in r.json()["executions"]] == ["greet", "hello"]
    ex = wait_for(server, "hello")
    assert ex["status"] == "finished", ex
    assert time.monotonic() - t0 < 90
    greet = call(server, "GET", "jobs/greet/executions").json()["executions"][0]
    run = call(server, "GET", f"runs/{greet['run_id']}").json()
    assert (run["status"], run["source"], run["params"], run["project"]) == (
        "finished", "job:greet", {"greeting": "hey"}, "jobs-demo")
    assert {a["name"] for a in run["artifacts"]} >= {"log", "notebook"}
    log = call(server, "GET", "jobs/greet/log").json()
    assert "hey from the notebook" in log["log"] and log["execution"]["id"] == greet["id"]
    assert "hello --who=you" in call(server, "GET", "jobs/hello/log").json()["log"]
    job = call(server, "GET", "jobs/hello").json()
    assert job["last"]["status"] == "finished" and job["after"] == ["greet"]
    assert call(server, "POST", "jobs/hello/pause").json()["next_run"] is None
    assert call(server, "POST", "jobs/hello/resume").json()["paused"] is False
    r = call(server, "DELETE", "jobs/greet")
    assert r.status_code == 409 and "upstream of 'hello'" in r.json()["error"]["message"]
    assert call(server, "DELETE", "jobs/hello").status_code == 204
    assert call(server, "DELETE", "jobs/greet").status_code == 204
    assert call(server, "GET", "jobs/greet").status_code == 404


def test_unknown_jobs_are_404(server):
    for method, path in (("GET", "jobs/ghost"), ("POST", "jobs/ghost/run"), ("POST", "jobs/ghost/pause"),
                         ("GET", "jobs/ghost/log"), ("GET", "jobs/ghost/executions"), ("DELETE", "jobs/ghost")):
        r = call(server, method, path)
        assert r.status_code == 404 and "no job named 'ghost'" in r.json()["error"]["message"], (method, path)


def test_the_python_client_and_the_cli_through_the_server(server):
    env = subprocess_env(MLTRACK_URI=server.client_uri)
    code = ("import jupyter_mltrack as mlt\n"
            "j = mlt.create_job('remote-hello', script='hello.py', params={'n': 3})\n"
            "print(j['script'])\n"
            "print([e['job'] for e in mlt.run_job('remote-hello')])\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=server.folder, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(server.folder / "hello.py"), "['remote-hello']"]
    wait_for(server, "remote-hello")
    cli = [sys.executable, "-m", "jupyter_mltrack.cli", "jobs"]
    out = subprocess.run(cli + ["logs", "remote-hello"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "hello --n=3" in out.stdout, out.stderr
    out = subprocess.run(cli + ["list"], env=env, capture_output=True, text=True, timeout=120)
    assert "remote-hello\tDefault\t-\tUTC\t-\tfinished" in out.stdout, out.stdout + out.stderr
    out = subprocess.run(cli + ["create", "bad", "--script", "hello.py", "--schedule", "* *"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=server.folder)
    assert out.returncode == 2 and "schedule '* *' is not a cron expression of five fields" in out.stderr


@pytest.mark.slow
def test_two_servers_on_one_store_fire_an_every_minute_job_once_a_minute(tmp_path, pg_cluster, request, monkeypatch):
    """A real minute: the job fires at the top of the minute (within seconds), once, whichever server leads — on a
    PostgreSQL database whose role needs a password (which the job's process never sees). The same lease and tick
    claims on SQLite, with two store objects and a controllable clock: tests/jobs/test_scheduler.py."""
    (tmp_path / "tick.py").write_text("import os, time; print('tick', time.time(), flush=True)\n"
                                      "import jupyter_mltrack as mlt; mlt.log_metric('ticked', 1.0)\n")
    name, uri = pg_cluster.password_database()
    request.addfinalizer(lambda: pg_cluster.drop_database(name))
    monkeypatch.setenv("MLTRACK_ARTIFACTS", str(tmp_path / "artifacts"))
    a = JupyterServer(tmp_path, uri)
    b = JupyterServer(tmp_path, uri)
    with a, b:
        r = call(a, "POST", "jobs", json={"name": "tick", "script": "tick.py", "schedule": "* * * * *"})
        assert r.status_code == 201, r.text
        first = r.json()["next_run"]
        deadline = first + 75
        while time.time() < deadline:
            ex = call(b, "GET", "jobs/tick/executions").json()["executions"]
            if ex and ex[-1]["status"] == "finished" and time.time() > first + 10:
                break
            time.sleep(0.5)
        ex = call(b, "GET", "jobs/tick/executions").json()["executions"]
        oldest = ex[-1]
        assert oldest["scheduled_for"] == first and oldest["status"] == "finished", ex
        assert oldest["started_at"] - first < 5, "fired late"
        triggers = [e["trigger_id"] for e in ex]
        assert len(triggers) == len(set(triggers)) and len(ex) <= 2  # one execution per minute, no more
        runs = requests.get(a.api + "runs", headers=a.headers, params={"filter": "tags.job = 'tick'"},
                            timeout=30).json()["runs"]
        assert len(runs) == len(ex)
        run = requests.get(a.api + f"runs/{oldest['run_id']}", headers=a.headers, timeout=30).json()
        assert [m["name"] for m in run["metrics"]] == ["ticked"]  # the job's process reached the store
