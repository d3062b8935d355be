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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request, store_dir):
    """Where the test's store lives: a SQLite file in the test's folder, or a fresh database of a real PostgreSQL
    server — every test that takes ``store`` or ``store_uri`` runs on both."""
    if request.param == "sqlite":
        return str(store_dir)
    # a database server's store keeps its artifact files where MLTRACK_ARTIFACTS says (every client finds them)
    request.getfixturevalue("monkeypatch").setenv("MLTRACK_ARTIFACTS", str(store_dir / "artifacts"))
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_uri):
    from jupyter_mltrack.core.store import Store

    s = Store(store_uri)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(store_dir):
    """A SQLite store, for the tests of SQLite's own behaviour (its write lock, its file)."""
    from jupyter_mltrack.core.store import Store

    s = Store(store_dir)
    yield s
    s.close()
