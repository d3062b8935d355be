"""The model lifecycle in the sidebar, in a real JupyterLab and Debian's chromium: a run's detail lists the model
versions registered from it with their aliases and stage, and its lineage — up to the dataset version it used and
the run that logged it, down to the run that loaded its model."""

from __future__ import annotations

import pytest

from .conftest import open_lab, open_sidebar
from .test_sidebar import _reveal_run

pytestmark = pytest.mark.ui


def _world(lab):
    """data run d0 → dataset raw v1 → training run t1 (model artifact) → model house v1 (@champion) → scoring s1."""
    store = lab.store()
    try:
        def put(data: bytes, path: str):
            sha, size = store.blobs.put_bytes(data)
            return [{"path": path, "sha256": sha, "size": size}]

        store.write_batch({"runs": [{"id": "d0", "name": "data", "project": "Life", "status": "finished"}],
                           "datasets": [{"project": "Life", "name": "raw", "run_id": "d0", "kind": "file",
                                         "files": put(b"a,b\n1,2\n", "raw.csv")}]})
        raw = store.resolve_dataset("raw")
        store.write_batch({"runs": [{"id": "t1", "name": "train", "project": "Life", "status": "finished"}],
                           "inputs": [{"run_id": "t1", "artifact_id": raw["artifact_id"], "role": "dataset"}],
                           "artifacts": [{"run_id": "t1", "name": "model", "type": "model",
                                          "files": put(b"weights", "model.joblib")}]})
        aid = store.find_artifact("t1", "model")["id"]
        store.register_model("Life", "house", aid)
        store.set_alias("Life", "house", "champion", 1)
        store.set_stage("Life", "house", 1, "production")
        store.write_batch({"runs": [{"id": "s1", "name": "score", "project": "Life", "status": "finished"}],
                           "inputs": [{"run_id": "s1", "artifact_id": aid, "role": "model"}]})
    finally:
        store.close()


def test_model_versions_and_lineage_in_the_run_detail(lab, page):
    _world(lab)
    open_lab(page, lab)
    open_sidebar(page)
    _reveal_run(page, "t1", "Life").click()
    detail = page.locator('.jp-mltrack-run-detail[data-run-id="t1"]')
    version = detail.locator('.jp-mltrack-model-version[data-model-name="house"][data-model-version="1"]')
    version.wait_for(timeout=30_000)
    assert version.locator('[data-alias="champion"]').inner_text() == "@champion"
    assert "production" in version.inner_text()

    up = detail.locator('.jp-mltrack-lineage[data-direction="up"]')
    up.wait_for(timeout=30_000)
    assert up.locator('[data-kind="dataset"]').inner_text().count("raw@1") == 1
    assert up.locator('.jp-mltrack-lineage-node[data-node-id="run:d0"]').count() == 1
    down = detail.locator('.jp-mltrack-lineage[data-direction="down"]')
    assert "champion" in down.locator('[data-kind="model"]').inner_text()
    page.screenshot(path=str(lab.root.parent / "lineage.png"))
    # a run of the lineage opens its own detail
    down.locator('.jp-mltrack-lineage-node[data-node-id="run:s1"]').click()
    page.locator('.jp-mltrack-run-detail[data-run-id="s1"]').wait_for(timeout=30_000)
    s1_up = page.locator('.jp-mltrack-run-detail[data-run-id="s1"] .jp-mltrack-lineage[data-direction="up"]')
    s1_up.wait_for(timeout=30_000)
    assert s1_up.locator('[data-node-id="run:d0"]').count() == 1  # back to the data, to any depth
