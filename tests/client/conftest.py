"""Fixtures for the kernel-side client tests."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ._helpers import subprocess_env, write_script


@pytest.fixture(autouse=True)
def _outside_any_git_repository(tmp_path, monkeypatch):
    """Run from a scratch folder, so the git gatherer does not diff the checkout the tests live in."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def gatherers(monkeypatch):
    """A private copy of the environment gatherers: register_gatherer in a test does not leak into others."""
    from jupyter_mltrack.client import environment as E

    monkeypatch.setattr(E, "_gatherers", dict(E._gatherers))
    return E


@pytest.fixture
def run_py(tmp_path):
    """Run a Python script in a fresh interpreter; fails the test with its output when it exits non-zero."""

    def run(code: str, *args, timeout: float = 90, check: bool = True, env: dict | None = None):
        script = write_script(tmp_path, code)
        r = subprocess.run(
            [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=timeout,
            env=subprocess_env(**(env or {})), cwd=tmp_path,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"script exited {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
        return r

    return run
