"""The model registry: versions of a named model pointing at run artifacts."""

import pytest

from jupyter_mltrack.core.errors import InvalidInput, NotFound


def test_register_model_versions(tracking, tmp_path):
    R = tracking
    f = tmp_path / "model.bin"
    f.write_bytes(b"weights")
    with R.start_run("a", capture_environment=False) as run:
        run.log_artifact(f, name="model", type="model")
    v1 = R.register_model("house-price", run)
    assert R.register_model("house-price", run.id)["version"] == 1  # the same bytes: the same version
    f.write_bytes(b"weights, retrained")
    with R.start_run("b", capture_environment=False) as run:
        run.log_artifact(f, name="model", type="model")
    v2 = R.register_model("house-price", run.id, stage="production", description="best so far")
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v2["run_id"] == run.id and v2["artifact_name"] == "model" and v2["stage"] == "production"
    df = R.list_models()
    assert list(df["version"]) == [2, 1] and set(df["name"]) == {"house-price"}
    with pytest.raises(NotFound):
        R.register_model("x", run, artifact="missing")
    with pytest.raises(InvalidInput):
        R.register_model("", run)


async def test_models_endpoint(jp_fetch, jp_serverapp):
    import json

    store = jp_serverapp.web_app.settings["mltrack_store"]
    sha, size = store.blobs.put_bytes(b"w")
    store.write_batch({"runs": [{"id": "r1", "project": "P"}],
                       "artifacts": [{"run_id": "r1", "name": "model", "files": [{"path": "m", "sha256": sha, "size": size}]}]})
    art = store.get_run("r1")["artifacts"][0]
    store.register_model("P", "m1", art["id"])
    r = json.loads((await jp_fetch("mltrack", "api", "models", params={"project": "P"})).body)
    assert [(m["name"], m["version"], m["run_id"]) for m in r["models"]] == [("m1", 1, "r1")]
