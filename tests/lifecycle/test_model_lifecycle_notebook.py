"""A model's life end to end (issue #13): tests/notebooks/model_lifecycle.ipynb executed by nbclient in a real kernel
that tracks through a real Jupyter server — a dataset version, two models, register_best, deploy, an A/B test with
real HTTP predict and feedback requests, the winner promoted (the alias moves and the deployed service follows), the
lineage walked from the deployed model back to the dataset version. Each step asserts in the notebook; the store is
checked here as well."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import requests
from nbclient import NotebookClient

from jupyter_mltrack.core.store import Store

from .._server import JupyterServer
from .._subprocess import subprocess_env

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "model_lifecycle.ipynb"


@pytest.fixture
def server(tmp_path, store_dir):
    s = JupyterServer(tmp_path, str(store_dir)).start()
    yield s
    for d in requests.get(s.api + "deployments", headers=s.headers, timeout=60).json().get("deployments", []):
        requests.delete(s.api + f"deployments/{d['name']}", headers=s.headers, timeout=120)
    s.stop()


def test_model_lifecycle_notebook(tmp_path, store_dir, server, monkeypatch):
    nb_path = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    env = subprocess_env(MLTRACK_URI=server.client_uri, JPY_SESSION_NAME=str(nb_path))
    for key in ("MLTRACK_URI", "JPY_SESSION_NAME", "PYTHONPATH"):
        monkeypatch.setenv(key, env[key])  # the kernel inherits them
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out

    store = Store(store_dir)
    try:
        runs = {r["name"]: r for r in store.search_runs(project="House prices")[0]}
        assert {"ridge", "tree", "ridge-v2", "house-ab"} <= set(runs)
        champion = store.resolve_model("house@champion", "House prices")
        assert (champion["version"], champion["run_id"]) == (2, runs["ridge-v2"]["id"])
        assert store.resolve_model("house@1", "House prices")["run_id"] == runs["ridge"]["id"]
        ab = store.get_run(runs["house-ab"]["id"])
        assert ab["status"] == "finished" and ab["tags"]["kind"] == "ab_test" and ab["tags"].get("promoted")
        contexts = {m["context"].get("model") for m in ab["metrics"] if m["name"] == "requests"}
        assert contexts == {"house@champion", "house@challenger"}
        houses = store.resolve_dataset("houses", project="House prices")
        assert houses["version"] == 2
        # the lineage, read from the store: dataset houses v2 → ridge-v2 → its model artifact → house v2
        up = store.lineage(runs["ridge-v2"]["id"], "up")
        assert f"dataset:{houses['dataset_id']}:2" in {n["id"] for n in up["nodes"]}
    finally:
        store.close()
    assert requests.get(server.api + "deployments", headers=server.headers, timeout=60).json()["deployments"] == []
