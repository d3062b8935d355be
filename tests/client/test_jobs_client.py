"""Jobs from Python (``mlt.create_job`` …) and ``mltrack jobs …`` on a database store, in real processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .._subprocess import subprocess_env


def test_jobs_from_python_on_a_local_store(tracking, tmp_path, monkeypatch):
    import jupyter_mltrack as mlt

    monkeypatch.chdir(tmp_path)
    (tmp_path / "count.py").write_text("import sys, jupyter_mltrack as mlt\n"
                                      "mlt.log_metric('n', float(sys.argv[1].split('=')[1]))\nprint('counted')\n")
    monkeypatch.setenv("PYTHONPATH", str(subprocess_env()["PYTHONPATH"]))
    job = mlt.create_job("count", script="count.py", params={"n": 4}, schedule="*/5 * * * *", project="J")
    assert job["script"] == str(tmp_path / "count.py") and job["schedule"] == "*/5 * * * *"
    with pytest.raises(mlt.InvalidInput, match="schedule"):
        mlt.create_job("bad", script="count.py", schedule="*/5 * * *")
    assert [j["name"] for j in mlt.list_jobs()] == ["count"]
    queued = mlt.run_job("count")
    assert [e["status"] for e in queued] == ["queued"]  # for a scheduler: nothing runs it here
    done = mlt.run_job("count", here=True)
    assert [e["status"] for e in done] == ["finished"]
    run = mlt.get_run(done[0]["run_id"])
    assert run.info["metrics"][0]["last"] == 4.0 and "counted" in mlt.job_log("count")
    assert mlt.pause_job("count")["paused"] and not mlt.resume_job("count")["paused"]
    assert len(mlt.job_executions("count")) == 2
    mlt.delete_job("count")
    assert mlt.list_jobs() == []


def mltrack(store, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "jupyter_mltrack.cli", "--uri", str(store), "jobs", *args],
                          capture_output=True, text=True, timeout=180, env=subprocess_env(), cwd=cwd)


def test_the_mltrack_jobs_command(tmp_path):
    store = tmp_path / "store"
    (tmp_path / "prep.py").write_text("import sys; print('prep', sys.argv[1:])\n")
    (tmp_path / "fail.py").write_text("raise SystemExit('nope')\n")
    r = mltrack(store, "create", "prep", "--script", "prep.py", "-p", "rows=10", "-p", "name=abc",
                "--schedule", "0 2 * * *", "--timezone", "Asia/Tokyo", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("defined job prep (script "), r.stderr
    r = mltrack(store, "create", "after", "--script", "fail.py", "--after", "prep", "--retries", "1",
                "--retry-delay", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for bad, words in ((["--schedule", "60 * * * *"], "schedule '60 * * * *' is not a valid cron expression"),
                       (["--after", "ghost"], "after: no job named 'ghost'"),
                       (["--timezone", "Mars/Base"], "timezone 'Mars/Base' is not a known time zone")):
        r = mltrack(store, "create", "x", "--script", "prep.py", *bad, cwd=tmp_path)
        assert r.returncode == 2 and words in r.stderr, r.stderr
    r = mltrack(store, "create", "x", "--notebook", "missing.ipynb", cwd=tmp_path)
    assert r.returncode == 2 and "notebook: no file" in r.stderr
    r = mltrack(store, "list")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("after\tDefault\t-\tUTC\t-\tnever run\tprep")
    assert lines[1].startswith("prep\tDefault\t0 2 * * *\tAsia/Tokyo\t")
    r = mltrack(store, "run", "prep")
    assert r.returncode == 1, r.stdout + r.stderr  # 'after' failed
    out = dict(line.split("\t", 2)[:2] for line in r.stdout.splitlines())
    assert out == {"prep": "finished", "after": "failed"}
    assert "prep ['--name=abc', '--rows=10']" in mltrack(store, "logs", "prep").stdout
    assert "nope" in mltrack(store, "logs", "after").stdout
    assert "is paused" in mltrack(store, "pause", "prep").stdout
    assert "is scheduled, next run" in mltrack(store, "resume", "prep").stdout
    r = mltrack(store, "delete", "prep")
    assert r.returncode == 2 and "upstream of 'after'" in r.stderr
    assert mltrack(store, "delete", "after").returncode == 0 and mltrack(store, "delete", "prep").returncode == 0
    assert mltrack(store, "list").stdout.strip() == "no jobs"
