"""A deployment on a PostgreSQL store whose role needs its password: the service process reaches the store and
serves, with the password in a private libpq password file, never in its environment."""

from __future__ import annotations

import os

import pytest
import requests

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.jobs.credentials import split_password
from jupyter_mltrack.serving.manager import ProcessManager
from jupyter_mltrack.serving.spec import ServiceSpec

from ._models import V1, register_house


@pytest.fixture
def pg_store(pg_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("MLTRACK_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    name, url = pg_cluster.password_database()
    register_house(url)
    store = Store(url)
    yield store, url
    store.close()
    pg_cluster.drop_database(name)


def test_a_service_on_a_password_store_has_no_password_in_its_environment(pg_store, tmp_path):
    store, url = pg_store
    password = split_password(url)[1]
    assert password
    manager = ProcessManager(store, log_dir=tmp_path / "deployments")
    d = manager.deploy(ServiceSpec.for_model("house@champion", "house-api", "P"))
    try:
        assert d["status"] == "running", d["error"]
        r = requests.post(manager.url(d) + "/predict", json={"inputs": [{"sqft": 2, "rooms": 1}]}, timeout=30)
        assert r.json()["predictions"] == pytest.approx([V1(2, 1)])
        environ = open(f"/proc/{d['pid']}/environ", "rb").read().decode(errors="replace")
        assert password not in environ and f"MLTRACK_URI={split_password(url)[0]}" in environ
        pgpass = tmp_path / "deployments" / "house-api.credentials" / ".pgpass"
        assert oct(os.stat(pgpass).st_mode & 0o777) == "0o600"
    finally:
        manager.delete("house-api")
    assert manager.list() == []
