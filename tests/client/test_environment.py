"""client/environment.py: gatherers run in parallel under a time limit; failures are reported, never raised."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import pytest


def test_default_gatherers(gatherers):
    env = gatherers.gather()
    assert {"python", "platform", "host", "packages", "hardware"} <= set(env)
    assert env["python"]["version"].count(".") == 2 and env["python"]["executable"]
    assert "numpy" in {k.lower() for k in env["packages"]["packages"]}
    assert env["hardware"]["cpu_count"] >= 1 and isinstance(env["hardware"]["gpus"], list)
    assert env["git"] == {}  # the tests run outside any repository
    assert "errors" not in env
    json.dumps(env)  # JSON-able


def test_a_raising_gatherer_is_reported(gatherers):
    def broken():
        raise KeyError("nvidia")

    gatherers.register_gatherer("broken", broken)
    env = gatherers.gather()
    assert env["errors"] == {"broken": "KeyError: 'nvidia'"}
    assert "broken" not in {k for k in env if k != "errors"}
    assert "python" in env


def test_a_slow_gatherer_times_out(gatherers):
    release = threading.Event()

    def slow():
        release.wait(5)
        return {"late": True}

    gatherers.register_gatherer("slow", slow)
    try:
        t0 = time.monotonic()
        env = gatherers.gather(timeout=2.5)  # (the packages' child interpreter takes a few tenths of a second)
        assert time.monotonic() - t0 < 4.5
        assert env["errors"] == {"slow": "timed out after 2.5 s"}
        assert "slow" not in env and "python" in env
    finally:
        release.set()


def test_cacheable_gatherers_are_reused(gatherers):
    calls = {"cached": 0, "fresh": 0}

    def cached():
        calls["cached"] += 1
        return {"n": calls["cached"]}

    def fresh():
        calls["fresh"] += 1
        return {"n": calls["fresh"]}

    gatherers.register_gatherer("cached_probe", cached, cacheable=True)
    gatherers.register_gatherer("fresh_probe", fresh)
    try:
        a, b = gatherers.gather(), gatherers.gather()
    finally:
        gatherers._cache.pop("cached_probe", None)
    assert a["cached_probe"] == b["cached_probe"] == {"n": 1} and calls["cached"] == 1
    assert (a["fresh_probe"], b["fresh_probe"]) == ({"n": 1}, {"n": 2})


def test_environment_files_are_deterministic():
    from jupyter_mltrack.client.environment import environment_files

    env = {"python": {"version": "3.11.0"}, "git": {"commit": "abc", "_patch": "diff --git a b\n"}, "obj": {1, 2}}
    files = dict(environment_files(env))
    assert set(files) == {"environment.json", "git.patch"}
    assert files["git.patch"] == b"diff --git a b\n"
    doc = json.loads(files["environment.json"])
    assert "_patch" not in doc["git"] and doc["git"]["commit"] == "abc"
    assert "_patch" in env["git"]  # the caller's dict is left alone
    assert dict(environment_files(env)) == files  # the same environment gives the same bytes (stored once)
    assert dict(environment_files({"git": {}})).keys() == {"environment.json"}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_gatherer_in_a_repository(tmp_path):
    from jupyter_mltrack.client.environment import _git

    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                       capture_output=True)

    git("init", "-q", "-b", "main")
    assert _git(str(repo))["commit"] is None  # no commit yet
    (repo / "train.py").write_text("print(1)\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "first")
    clean = _git(str(repo))
    assert len(clean["commit"]) == 40 and clean["branch"] == "main" and clean["dirty"] is False
    assert clean["remote"] is None and "_patch" not in clean
    (repo / "train.py").write_text("print(2)\n")
    dirty = _git(str(repo))
    assert dirty["dirty"] is True and dirty["changed_files"] == ["train.py"]
    assert "-print(1)" in dirty["_patch"] and "+print(2)" in dirty["_patch"]
    assert _git(str(tmp_path)) == {}  # not a repository


def test_environment_artifact_job(gatherers, store):
    from jupyter_mltrack.client.backend import LocalBackend

    gatherers.register_gatherer("broken", lambda: 1 / 0)
    store.write_batch({"runs": [{"id": "r"}]})
    job = gatherers.environment_artifact("r", LocalBackend(store))
    extra = job()
    (art,) = extra["artifacts"]
    assert (art["run_id"], art["name"], art["type"]) == ("r", "environment", "environment")
    assert art["metadata"] == {"errors": {"broken": "ZeroDivisionError: division by zero"}}
    assert [f["path"] for f in art["files"]] == ["environment.json"]
    assert store.blobs.exists(art["files"][0]["sha256"])
    store.write_batch(extra)
    assert store.get_run("r")["artifacts"][0]["name"] == "environment"


def test_packages_are_listed_by_a_child_interpreter():
    """The listing reads a few hundred distributions' metadata: a child interpreter does it, so it costs the
    kernel (whose cells share its interpreter) almost no CPU, and it is what this process would list."""
    import sys
    import time

    from jupyter_mltrack.client import environment as E

    t0 = time.process_time()
    got = E._packages()
    spent = time.process_time() - t0
    assert got == {"packages": dict(sorted(E._distributions(sys.path).items(), key=lambda kv: kv[0].lower()))}
    assert "jupyter_mltrack" in got["packages"] and "numpy" in got["packages"]
    assert spent < 0.06, f"{spent * 1000:.0f} ms of this process's CPU"
