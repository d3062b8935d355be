"""Shared fixtures: every test gets its own store folder; nothing touches ~/.mltrack."""

from __future__ import annotations

import os

import pytest


def pytest_make_parametrize_id(config, val, argname):
    """A string parameter's id as a plain id (see tests/_ids.py)."""
    from ._ids import clean_id, needs_cleaning

    if isinstance(val, str) and needs_cleaning(val):
        return clean_id(val)
    return None


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("mltrack-home")
    monkeypatch.setenv("MLTRACK_HOME", str(home))
    monkeypatch.delenv("MLTRACK_URI", raising=False)
    monkeypatch.delenv("MLTRACK_ARTIFACTS", raising=False)
    monkeypatch.delenv("MLTRACK_NOTEBOOK", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    for k in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN", "MLTRACK_SERVER_STORE", "MLTRACK_WRITE_THROUGH_SERVER"):
        monkeypatch.delenv(k, raising=False)  # what a server tells its children: never inherited by a test
    yield home


@pytest.fixture
def run_py(tmp_path):
    """Run a Python script in a fresh interpreter; fails the test with its output when it exits non-zero."""
    import subprocess
    import sys

    from ._subprocess import subprocess_env, write_script

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


@pytest.fixture
def store_dir(tmp_path):
    d = tmp_path / "store"
    d.mkdir()
    return d


@pytest.fixture
def store(store_dir):
    from jupyter_mltrack.core.store import Store

    s = Store(store_dir)
    yield s
    s.close()


@pytest.fixture(scope="session")
def pg_cluster():
    """A real PostgreSQL server for the whole session, started on first use (``tests/_postgres.py``)."""
    from . import _postgres

    if not _postgres.enabled():
        pytest.skip("PostgreSQL left out (MLTRACK_TEST_POSTGRES=0)")
    cluster = _postgres.Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty PostgreSQL database of the session's server, dropped after the test."""
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture
def tracking(store_dir, monkeypatch):
    """The client pointed at a fresh local store; reset afterwards."""
    import jupyter_mltrack as R
    from jupyter_mltrack.client.tracking import reset

    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    R.set_tracking_uri(str(store_dir))
    yield R
    while R.active_run() is not None:
        R.active_run().end("killed")
    reset()


pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(store_dir):
    """A Jupyter server with the extension enabled, unauthenticated access refused, on the test's store."""
    from traitlets.config import Config

    return Config({
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mltrack": True},
            "allow_unauthenticated_access": False,
        },
        "MLTrackApp": {"store_uri": str(store_dir)},
    })


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (``tests/_s3.py``) for the whole session."""
    from ._s3 import S3Server

    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def s3_artifacts(s3_server, monkeypatch):
    """``MLTRACK_ARTIFACTS`` pointing at a fresh bucket of the session's S3 server (with its endpoint and
    credentials in the environment, for this process and its subprocesses): returns the s3:// URL."""
    for k, v in s3_server.env.items():
        monkeypatch.setenv(k, v)
    url = f"s3://{s3_server.create_bucket()}/team/artifacts"
    monkeypatch.setenv("MLTRACK_ARTIFACTS", url)
    return url

