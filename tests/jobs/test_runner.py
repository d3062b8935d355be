"""Running jobs for real (jupyter_mltrack/jobs/runner.py): scripts as subprocesses, notebooks through papermill and
a real kernel; each attempt a tracked run with its log, params, notebook and what the job logged with ``mlt``."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.jobs import runner as R

from .._subprocess import REPO


def notebook(path: Path, params_src: str, *cells: str) -> Path:
    def cell(src, tags=()):
        return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": src, "outputs": [],
                "execution_count": None}

    nb = {"cells": [cell(params_src, ["parameters"]), *map(cell, cells)],
          "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    s = Store(tmp_path / "store")
    yield s
    s.close()


def run_now(store: Store, name: str) -> dict[str, str]:
    return R.run_here(store, store.run_job(name))


def run_of(store: Store, name: str, n: int = 0) -> dict:
    return store.get_run(store.job_executions(name)[n]["run_id"])


def log_of(store: Store, run: dict) -> str:
    art = [a for a in run["artifacts"] if a["name"] == "log"][-1]
    return store.read_artifact_file(art["id"], "log.txt").decode()


def test_a_script_runs_as_a_tracked_run_and_what_it_logs_lands_under_it(store, tmp_path):
    (tmp_path / "train.py").write_text(
        "import json, os, sys\n"
        "import jupyter_mltrack as mlt\n"
        "print('argv', sys.argv[1:], flush=True)\n"
        "print('env', json.loads(os.environ['MLTRACK_PARAMS']), flush=True)\n"
        "mlt.log_metric('loss', 0.25)\n"
        "with mlt.start_run(name='child', capture_environment=False) as c:\n"
        "    c.log_metric('acc', 0.9)\n"
        "print('stderr line', file=sys.stderr)\n")
    store.create_job({"name": "train", "script": str(tmp_path / "train.py"), "params": {"lr": 0.1, "opt": "adam"},
                      "project": "P"})
    assert run_now(store, "train") == {"train": "finished"}
    ex = store.job_executions("train")[0]
    assert (ex["status"], ex["attempts"], ex["reason"]) == ("finished", 1, "")
    run = run_of(store, "train")
    assert (run["status"], run["project"], run["source"], run["params"]) == (
        "finished", "P", "job:train", {"lr": 0.1, "opt": "adam"})
    assert run["tags"]["job"] == "train" and run["tags"]["attempt"] == "1"
    assert [m["name"] for m in run["metrics"]] == ["loss"] and run["metrics"][0]["last"] == 0.25
    child = store.get_run(run["children"][0])
    assert child["name"] == "child" and child["metrics"][0]["last"] == 0.9 and child["status"] == "finished"
    log = log_of(store, run)
    assert "argv ['--lr=0.1', '--opt=adam']" in log and "env {'lr': 0.1, 'opt': 'adam'}" in log
    assert "stderr line" in log
    _, text = store.job_log("train")
    assert text.decode() == log


def test_a_two_notebook_dag_runs_with_parameters_injected(store, tmp_path):
    notebook(tmp_path / "prep.ipynb", "rows = 3\n",
             "open('data.txt', 'w').write('\\n'.join(str(i) for i in range(rows)))\nprint('wrote', rows)")
    notebook(tmp_path / "train.ipynb", "lr = 0.5\nepochs = 1\n",
             "import jupyter_mltrack as mlt\n"
             "n = len(open('data.txt').read().split())\n"
             "for e in range(epochs):\n    mlt.log_metric('loss', lr / (e + 1) + n, step=e)\n"
             "print('trained on', n, 'rows')")
    store.create_job({"name": "prep", "notebook": str(tmp_path / "prep.ipynb"), "params": {"rows": 7}})
    store.create_job({"name": "train", "notebook": str(tmp_path / "train.ipynb"), "params": {"epochs": 2},
                      "after": ["prep"]})
    assert run_now(store, "prep") == {"prep": "finished", "train": "finished"}
    prep, train = run_of(store, "prep"), run_of(store, "train")
    assert store.job_executions("train")[0]["trigger_id"] == store.job_executions("prep")[0]["trigger_id"]
    assert prep["end_time"] <= train["start_time"]
    assert train["params"] == {"epochs": 2}
    metric = next(m for m in train["metrics"] if m["name"] == "loss")
    assert (metric["count"], metric["last"]) == (2, 0.25 + 7)
    nb_art = [a for a in train["artifacts"] if a["name"] == "notebook"][-1]
    executed = json.loads(store.read_artifact_file(nb_art["id"], "train.ipynb"))
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "epochs = 2" in "".join(injected[0]["source"])
    outputs = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                      for c in executed["cells"] for o in c.get("outputs", []))
    assert "trained on 7 rows" in outputs
    assert "trained on 7 rows" in log_of(store, train)


def test_a_failing_notebook_fails_its_run_and_skips_what_comes_after(store, tmp_path):
    notebook(tmp_path / "bad.ipynb", "x = 1\n", "raise ValueError('no data')")
    (tmp_path / "after.py").write_text("print('never')\n")
    store.create_job({"name": "bad", "notebook": str(tmp_path / "bad.ipynb")})
    store.create_job({"name": "after", "script": str(tmp_path / "after.py"), "after": ["bad"]})
    assert run_now(store, "bad") == {"bad": "failed", "after": "skipped"}
    run = run_of(store, "bad")
    assert run["status"] == "failed" and "ValueError" in run["error"]
    assert any(a["name"] == "notebook" for a in run["artifacts"])  # the executed notebook, up to the error
    ex = store.job_executions("after")[0]
    assert (ex["status"], ex["reason"], ex["run_id"]) == ("skipped", "upstream job 'bad' failed", None)


def test_retries_back_off_and_each_attempt_is_a_run(store, tmp_path):
    (tmp_path / "flaky.py").write_text(
        "import pathlib, sys, time\n"
        "p = pathlib.Path('attempts.txt')\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "open('times.txt', 'a').write(f'{time.time()}\\n')\n"
        "sys.exit(0 if n >= 3 else 3)\n")
    store.create_job({"name": "flaky", "script": str(tmp_path / "flaky.py"), "retries": 3, "retry_delay": 0.3})
    assert run_now(store, "flaky") == {"flaky": "finished"}
    ex = store.job_executions("flaky")[0]
    assert (ex["status"], ex["attempts"]) == ("finished", 3)
    runs, _ = store.search_runs(filter="tags.job = 'flaky'", order_by="start_time")
    assert [r["status"] for r in runs] == ["failed", "failed", "finished"]
    assert "exit status 3" in store.get_run(runs[0]["id"])["error"]
    t = [float(x) for x in (tmp_path / "times.txt").read_text().split()]
    assert t[1] - t[0] >= 0.3 and t[2] - t[1] >= 0.6  # doubling back-off


def test_retries_give_up_after_the_last_attempt(store, tmp_path):
    (tmp_path / "fail.py").write_text("import sys; print('boom'); sys.exit(1)\n")
    store.create_job({"name": "fail", "script": str(tmp_path / "fail.py"), "retries": 1, "retry_delay": 0})
    assert run_now(store, "fail") == {"fail": "failed"}
    ex = store.job_executions("fail")[0]
    assert ex["attempts"] == 2 and ex["reason"].startswith("after 2 attempts: exit status 1")


def test_a_timeout_kills_the_process_group_and_the_run_ends_killed(store, tmp_path):
    (tmp_path / "slow.py").write_text(
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open('pids.txt', 'w').write(f'{os.getpid()} {child.pid}')\n"
        "print('sleeping', flush=True)\n"
        "time.sleep(600)\n")
    store.create_job({"name": "slow", "script": str(tmp_path / "slow.py"), "timeout": 1.5})
    t0 = time.monotonic()
    assert run_now(store, "slow") == {"slow": "killed"}
    assert time.monotonic() - t0 < 30
    run = run_of(store, "slow")
    assert run["status"] == "killed" and "timed out after 1.5 s" in run["error"]
    assert "sleeping" in log_of(store, run)
    for pid in map(int, (tmp_path / "pids.txt").read_text().split()):  # the script and its child are gone
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_process_killed_from_outside_ends_killed_and_its_log_streams_while_it_runs(store, tmp_path):
    (tmp_path / "long.py").write_text(
        "import os, time\n"
        "open('pid.txt', 'w').write(str(os.getpid()))\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n")
    store.create_job({"name": "long", "script": str(tmp_path / "long.py")})
    execs = store.run_job("long")
    done = {}
    t = threading.Thread(target=lambda: done.update(R.run_here(store, execs)))
    t.start()
    deadline = time.monotonic() + 30
    text = b""
    while time.monotonic() < deadline and b"started" not in text:
        try:
            ex, text = store.job_log("long")
        except KeyError:
            pass
        time.sleep(0.2)
    assert b"started" in text, "the log did not arrive while the job ran"
    assert store.get_run(ex["run_id"])["status"] == "running"
    os.kill(int((tmp_path / "pid.txt").read_text()), signal.SIGKILL)
    t.join(30)
    assert done == {"long": "killed"}
    run = run_of(store, "long")
    assert run["status"] == "killed" and "SIGKILL" in run["error"]
