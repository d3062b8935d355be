"""The model lifecycle from Python and REST: the registry (register, register the best, aliases, stages, load), in
embedded mode (the store in-process) and remote mode (the client's HttpBackend through a real Jupyter server)."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from jupyter_mltrack.core.errors import InvalidInput, NotFound

from .._server import JupyterServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lifecycle")
    (folder / "store").mkdir()
    s = JupyterServer(folder, str(folder / "store")).start()
    yield s
    s.stop()


@pytest.fixture(params=["embedded", "remote"])
def mlt(request, store_dir, monkeypatch):
    """The client, on a local store (embedded) or through the module's server (remote)."""
    import jupyter_mltrack as R
    from jupyter_mltrack.client.tracking import reset

    uri = str(store_dir) if request.param == "embedded" else request.getfixturevalue("server").client_uri
    monkeypatch.setenv("MLTRACK_URI", uri)
    R.set_tracking_uri(uri)
    R.mode = request.param
    yield R
    while R.active_run() is not None:
        R.active_run().end("killed")
    reset()


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=200)
    return x, y


def train(mlt, project, alpha):
    from sklearn.linear_model import Ridge

    x, y = data()
    with mlt.start_run(f"ridge-{alpha}", project=project, params={"alpha": alpha}, capture_environment=False) as run:
        model = Ridge(alpha=alpha).fit(x, y)
        run.log_metric("rmse", float(np.sqrt(np.mean((model.predict(x) - y) ** 2))))
        mlt.log_model(model)
    return run, model


def test_register_alias_stage_and_load(mlt, tmp_path):
    project = f"house-{mlt.mode}"
    good, good_model = train(mlt, project, 0.01)
    bad, _ = train(mlt, project, 500.0)
    best = mlt.register_best(None, "rmse", name="house", mode="min", project=project)
    assert (best["version"], best["run_id"], best["flavor"]) == (1, good.id, "sklearn")
    assert mlt.register_model("house", good)["version"] == 1  # the same bytes: the same version
    v2 = mlt.register_model("house", bad, stage="staging")
    assert (v2["version"], v2["stage"]) == (2, "staging")

    assert mlt.set_alias("house@champion", 1)["aliases"] == ["champion"]
    mlt.set_alias("house@challenger", 2)
    moved = mlt.set_alias("house@champion", 2)
    assert moved["version"] == 2 and moved["aliases"] == ["challenger", "champion"]
    assert {r.version: list(r.aliases) for r in mlt.list_models(project, "house").itertuples()} == {
        2: ["challenger", "champion"], 1: []}
    mlt.set_alias("house@champion", 1)
    assert mlt.set_stage("house@champion", "production")["stage"] == "production"

    x, _ = data()
    for ref in ("house@champion", "house@1"):
        loaded = mlt.load_model(ref)
        np.testing.assert_allclose(loaded.predict(x), good_model.predict(x))
    assert mlt.load_model("house").alpha == 500.0  # a bare name: the newest version

    with mlt.start_run("scoring", project=project, capture_environment=False) as scoring:
        mlt.load_model("house@champion")
    inputs = mlt.get_run(scoring.id).info["inputs"]
    assert [(i["run_id"], i["name"], i["role"]) for i in inputs] == [(good.id, "model", "model")]

    with pytest.raises(NotFound, match="no alias 'nobody'"):
        mlt.load_model("house@nobody")
    with pytest.raises(NotFound, match="has no version 9"):
        mlt.set_alias("house@champion", 9)
    with pytest.raises(InvalidInput, match="names no alias"):
        mlt.set_alias("house", 1)
    with pytest.raises(NotFound, match="no run has the metric 'nope'"):
        mlt.register_best(None, "nope", name="house", project=project)


def test_a_model_of_an_unknown_flavor_is_refused_by_name(mlt, tmp_path):
    project = f"odd-{mlt.mode}"
    f = tmp_path / "model.onnx"
    f.write_bytes(b"not a pickle")
    with mlt.start_run(project=project, capture_environment=False) as run:
        run.log_artifact(f, name="model", type="model")
    mlt.register_model("odd", run)
    with pytest.raises(InvalidInput, match=r"flavor 'unknown \(\.onnx\)'.*reads sklearn, joblib, pickle"):
        mlt.load_model("odd")

    with mlt.start_run(project=project, capture_environment=False):
        mlt.log_model(NoPredict(), name="thing", flavor="pickle")
        run2 = mlt.active_run()
    mlt.register_model("thing", run2, artifact="thing")
    with pytest.raises(InvalidInput, match="NoPredict, which has no predict method"):
        mlt.load_model("thing")


class NoPredict:
    """A picklable object without predict."""


def api(server, method, path, **kw):
    return requests.request(method, server.api + path, headers=server.headers, timeout=30, **kw)


def test_registry_routes(server):
    from jupyter_mltrack.core.store import Store

    store = Store(server.store_uri)
    try:
        sha, size = store.blobs.put_bytes(b"weights")
        store.write_batch({"runs": [{"id": "rest1", "project": "R"}],
                           "artifacts": [{"run_id": "rest1", "name": "model", "files": [
                               {"path": "m.joblib", "sha256": sha, "size": size}]}]})
        aid = store.find_artifact("rest1", "model")["id"]
    finally:
        store.close()
    r = api(server, "POST", "models", json={"project": "R", "name": "m", "artifact_id": aid})
    assert r.status_code == 201 and r.json()["version"] == 1
    r = api(server, "POST", "models", json={"project": "R", "name": "m", "artifact_id": aid})
    assert r.status_code == 200 and r.json()["version"] == 1  # the same content: the existing version
    r = api(server, "PUT", "aliases", json={"project": "R", "model": "m", "alias": "champion", "version": 1})
    assert r.status_code == 200 and r.json()["aliases"] == ["champion"]
    r = api(server, "GET", "models/resolve", params={"ref": "m@champion"})
    assert (r.status_code, r.json()["version"], r.json()["run_id"]) == (200, 1, "rest1")
    r = api(server, "PUT", "stages", json={"project": "R", "model": "m", "version": 1, "stage": "production"})
    assert r.json()["stage"] == "production"
    assert api(server, "GET", "models", params={"project": "R", "name": "m"}).json()["models"][0]["aliases"] == [
        "champion"]
    assert api(server, "DELETE", "aliases", params={"project": "R", "name": "m", "alias": "champion"}
               ).status_code == 204
    r = api(server, "GET", "models/resolve", params={"ref": "m@champion"})
    assert r.status_code == 404 and "no alias 'champion'" in r.json()["error"]["message"]
    # bad input: a 4xx naming the field
    for method, path, kw, status, words in [
        ("PUT", "aliases", {"json": {"project": "R", "model": "m", "alias": "7", "version": 1}}, 400, "alias '7'"),
        ("PUT", "aliases", {"json": {"project": "R", "model": "m", "alias": "x", "version": 5}}, 404, "no version 5"),
        ("PUT", "aliases", {"json": {"project": "R", "model": "m", "alias": "x"}}, 400, "'version'"),
        ("PUT", "aliases", {"json": {"project": "R", "alias": "x", "version": 1}}, 400, "'model' and 'dataset'"),
        ("PUT", "stages", {"json": {"project": "R", "model": "m", "version": 1, "stage": "s" * 60}}, 400,
         "stages.stage"),
        ("POST", "models", {"json": {"project": "R", "name": "m", "artifact_id": 999999}}, 404, "no artifact 999999"),
        ("POST", "models", {"json": {"project": "R", "name": "m"}}, 400, "'artifact_id'"),
        ("GET", "models/resolve", {}, 400, "'ref'"),
        ("GET", "models/resolve", {"params": {"ref": "nope"}}, 404, "no model 'nope'"),
        ("DELETE", "aliases", {"params": {"project": "R", "alias": "x"}}, 400, "'name'"),
        ("DELETE", "aliases", {"params": {"project": "R", "name": "m", "alias": "x", "kind": "run"}}, 400, "'kind'"),
        ("DELETE", "aliases", {"params": {"project": "R", "name": "m", "alias": "1"}}, 400, "alias '1'"),
    ]:
        r = api(server, method, path, **kw)
        assert r.status_code == status and words in r.json()["error"]["message"], (method, path, kw, r.text)


# -- datasets, parameters and pipelines as inputs, lineage ----------------------------------------------------------


def test_datasets_from_frames_and_folders(mlt, tmp_path):
    import pandas as pd

    project = f"data-{mlt.mode}"
    df1 = pd.DataFrame({"area": [50, 80, 120], "price": [1.0, 2.0, 3.5], "city": ["a", "b", "c"]})
    v1 = mlt.log_dataset(df1, name="houses", project=project)
    assert (v1["version"], v1["kind"], v1["metadata"]["rows"]) == (1, "table", 3)
    assert v1["metadata"]["schema"] == {"area": "int64", "price": "float64", "city": "object"} or \
        v1["metadata"]["schema"]["area"] == "int64"
    assert v1["metadata"]["preview"][0] == {"area": 50, "price": 1.0, "city": "a"}
    runs_before = len(mlt.search_runs(project=project))
    assert mlt.log_dataset(df1.copy(), name="houses", project=project)["version"] == 1  # same content
    assert len(mlt.search_runs(project=project)) == runs_before  # and nothing written
    df2 = pd.concat([df1, pd.DataFrame({"area": [200], "price": [5.0], "city": ["d"]})]).assign(rooms=1)
    assert mlt.log_dataset(df2, name="houses", project=project)["version"] == 2
    d = mlt.diff_datasets("houses", 1, 2, project=project)
    assert d["columns"]["added"] == ["rooms"] and d["rows"] == {"a": 3, "b": 4, "added": 1, "removed": 0,
                                                                 "unchanged": 3}
    mlt.set_dataset_alias("houses", "prod", 1, project=project)

    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.txt").write_text("A")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("B")
    f1 = mlt.log_dataset(folder, name="images", project=project)
    z1 = mlt.log_dataset(folder, name="images-zip", project=project, zip=True)
    (folder / "sub" / "b.txt").write_text("B2")
    (folder / "c.txt").write_text("C")
    f2 = mlt.log_dataset(folder, name="images", project=project)
    assert (f1["kind"], f1["version"], f2["version"], z1["kind"]) == ("folder", 1, 2, "zip")
    assert mlt.diff_datasets("images", 1, 2, project=project)["files"] == {
        "added": ["c.txt"], "removed": [], "changed": ["sub/b.txt"], "unchanged": 1}

    with mlt.start_run("train", project=project, capture_environment=False) as run:
        path = mlt.use_dataset("houses", alias="prod", project=project)
        pd.testing.assert_frame_equal(pd.read_parquet(path), df1)
        folder_v1 = mlt.use_dataset("images", version=1, project=project)
        assert (folder_v1 / "sub" / "b.txt").read_text() == "B" and not (folder_v1 / "c.txt").exists()
        unzipped = mlt.use_dataset("images-zip", project=project)
        assert (unzipped / "sub" / "b.txt").read_text() == "B"
    used = {(i["name"], i["role"]) for i in mlt.get_run(run.id).info["inputs"]}
    assert used == {("houses", "dataset"), ("images", "dataset"), ("images-zip", "dataset")}
    with pytest.raises(NotFound, match="dataset 'houses' has no alias 'nope'"):
        mlt.use_dataset("houses", alias="nope", project=project)
    with pytest.raises(InvalidInput, match="does not exist"):
        mlt.log_dataset(tmp_path / "missing.csv", name="x", project=project)


def test_params_file_and_pipeline_version(mlt, tmp_path, monkeypatch):
    import json
    import subprocess

    project = f"inputs-{mlt.mode}"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"alpha": 0.5, "model": {"depth": 3, "kind": "tree"}}))
    script = tmp_path / "train.py"
    script.write_text("print('train')\n")
    with mlt.start_run("a", project=project, capture_environment=False) as a:
        assert mlt.use_params(params)["model"]["depth"] == 3
        assert mlt.log_pipeline(script, name="train.py")["version"] == 1
    with mlt.start_run("b", project=project, capture_environment=False) as b:
        mlt.use_params(params)  # the same file: the same version, used by b
        mlt.log_pipeline(script, name="train.py")
    info = mlt.get_run(b.id).info
    assert info["params"] == {"alpha": 0.5, "model.depth": 3, "model.kind": "tree"}
    assert info["tags"]["params.file"] == "params.json@1" and info["tags"]["pipeline.version"] == "train.py@1"
    assert {(i["name"], i["run_id"]) for i in info["inputs"]} == {("params.json", a.id), ("train.py", a.id)}
    bad = tmp_path / "list.json"
    bad.write_text("[1, 2]")
    with mlt.start_run(project=project, capture_environment=False):
        with pytest.raises(InvalidInput, match="holds a list, not a JSON object"):
            mlt.use_params(bad)

    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *args: subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (repo / "pipe.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    (repo / "pipe.py").write_text("x = 2\n")
    monkeypatch.chdir(repo)
    with mlt.start_run("git", project=project, capture_environment=False) as g:
        out = mlt.log_pipeline()
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert (out["commit"], out["dirty"]) == (commit, True)
    tags = mlt.get_run(g.id).tags
    assert (tags["pipeline.commit"], tags["pipeline.dirty"]) == (commit, "true")
    assert "+x = 2" in mlt.get_run(g.id).read_artifact("pipeline").decode()
    monkeypatch.chdir(tmp_path)
    with mlt.start_run(project=project, capture_environment=False):
        with pytest.raises(InvalidInput, match="not in a git repository"):
            mlt.log_pipeline()


def test_lineage_from_a_scoring_run_back_to_the_data(mlt, server):
    import pandas as pd
    from sklearn.linear_model import Ridge

    project = f"lineage-{mlt.mode}"
    x, y = data()
    raw = mlt.log_dataset(pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y), name="raw", project=project)
    with mlt.start_run("train", project=project, capture_environment=False) as train_run:
        frame = pd.read_parquet(mlt.use_dataset("raw", project=project))
        mlt.log_model(Ridge().fit(frame[["a", "b", "c"]], frame["y"]))
    mlt.register_model("house", train_run, project=project)
    mlt.set_alias("house@champion", 1, project=project)
    with mlt.start_run("score", project=project, capture_environment=False) as score:
        mlt.load_model("house@champion", project=project)
    up = score.lineage("up")
    kinds = {n["id"]: n for n in up["nodes"]}
    model = next(n for n in up["nodes"] if n["kind"] == "model")
    dataset = next(n for n in up["nodes"] if n["kind"] == "dataset")
    assert (model["name"], model["aliases"], dataset["name"], dataset["version"]) == ("house", ["champion"], "raw", 1)
    assert f"run:{train_run.id}" in kinds and f"run:{raw['run_id']}" in kinds
    assert len(score.lineage("up", depth=2)["nodes"]) == 3  # the run, the model version, its artifact
    down = mlt.get_run(raw["run_id"]).lineage("down")
    assert f"run:{score.id}" in {n["id"] for n in down["nodes"]}
    if mlt.mode == "remote":  # the route answers the same walk
        r = api(server, "GET", f"runs/{score.id}/lineage", params={"direction": "up"})
        assert {n["id"] for n in r.json()["nodes"]} == set(kinds)
        r = api(server, "GET", f"runs/{score.id}/lineage", params={"direction": "left"})
        assert r.status_code == 400 and "'direction'" in r.json()["error"]["message"]
        r = api(server, "GET", f"runs/{score.id}/lineage", params={"depth": "101"})
        assert r.status_code == 400 and "'depth'" in r.json()["error"]["message"]
