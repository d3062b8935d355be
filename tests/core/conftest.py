"""Fixtures for the store-core tests: real Python subprocesses on a real SQLite store."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .._subprocess import subprocess_env, write_script


@pytest.fixture
def spawn_py(tmp_path):
    """Start scripts as concurrent processes; every process still alive at teardown is killed and reaped."""
    procs: list[subprocess.Popen] = []

    def start(code: str, *args) -> subprocess.Popen:
        script = write_script(tmp_path, code)
        p = subprocess.Popen(
            [sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=subprocess_env(), cwd=tmp_path,
        )
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate()
