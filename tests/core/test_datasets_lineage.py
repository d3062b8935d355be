"""Datasets (versions by content, aliases, diffs) and lineage walks in the store — on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest

from jupyter_mltrack.core.errors import InvalidInput, NotFound

from ._helpers import sql


def files(store, **contents: bytes) -> list[dict]:
    out = []
    for path, data in contents.items():
        sha, size = store.blobs.put_bytes(data)
        out.append({"path": path.replace("__", "/"), "sha256": sha, "size": size})
    return out


def log(store, run_id, name, kind="folder", metadata=None, project="P", **contents):
    b = {"runs": [{"id": run_id, "project": project}],
         "datasets": [{"project": project, "name": name, "run_id": run_id, "kind": kind,
                       "files": files(store, **contents), **({"metadata": metadata} if metadata else {})}]}
    return store.write_batch(b)["dataset_versions"][0]


def test_the_same_content_is_the_same_version(store):
    v1 = log(store, "r1", "images", a=b"A", b=b"B")
    again = log(store, "r2", "images", b=b"B", a=b"A")  # another run, the same files in another order
    v2 = log(store, "r3", "images", a=b"A", b=b"B2", c=b"C")
    assert (v1["version"], again, v2["version"]) == (1, {"project": "P", "name": "images", "version": 1,
                                                         "existing": True}, 2)
    assert sql(store, "SELECT count(*) FROM artifacts WHERE type = 'dataset'")[0][0] == 2  # none for the repeat
    rows = store.list_datasets("P", "images")
    assert [(r["version"], r["kind"], r["run_id"]) for r in rows] == [(2, "folder", "r3"), (1, "folder", "r1")]
    assert [f["path"] for f in rows[0]["files"]] == ["a", "b", "c"]
    d = store.diff_datasets("images", 1, 2, "P")
    assert d["files"] == {"added": ["c"], "removed": [], "changed": ["b"], "unchanged": 1} and not d["same"]


def test_dataset_aliases_and_resolution(store):
    log(store, "r1", "d", x=b"1")
    log(store, "r2", "d", x=b"2")
    store.write_batch({"aliases": [{"project": "P", "dataset": "d", "alias": "prod", "version": 1}]})
    assert store.resolve_dataset("d", alias="prod")["version"] == 1
    store.write_batch({"aliases": [{"project": "P", "dataset": "d", "alias": "prod", "version": 2}]})
    assert [r["aliases"] for r in store.list_datasets("P", "d")] == [["prod"], []]
    assert store.resolve_dataset("d")["version"] == 2 and store.resolve_dataset("d", version=1)["run_id"] == "r1"
    with pytest.raises(NotFound, match="dataset 'd' has no version 3"):
        store.write_batch({"aliases": [{"project": "P", "dataset": "d", "alias": "prod", "version": 3}]})
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        store.resolve_dataset("nope")
    with pytest.raises(InvalidInput, match="version or its alias, not both"):
        store.resolve_dataset("d", version=1, alias="prod")


def test_dataset_items_are_checked_by_field(store):
    with pytest.raises(InvalidInput, match="datasets.kind 'blob' is not one of file, folder, zip, table"):
        store.write_batch({"runs": [{"id": "r"}], "datasets": [{"project": "P", "name": "d", "run_id": "r",
                                                                "kind": "blob", "files": files(store, a=b"a")}]})
    with pytest.raises(InvalidInput, match="dataset 'd' has no files"):
        store.write_batch({"runs": [{"id": "r"}], "datasets": [{"project": "P", "name": "d", "run_id": "r",
                                                                "kind": "folder", "files": []}]})
    with pytest.raises(NotFound, match="unknown run: ghost"):
        store.write_batch({"datasets": [{"project": "P", "name": "d", "run_id": "ghost", "kind": "file",
                                         "files": files(store, a=b"a")}]})
    assert store.list_datasets() == []


def test_table_diff_reads_rows_and_schema(store):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")

    def table(frame):
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()

    a = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    b = pd.DataFrame({"x": [1.0, 2.0, 4.0, 5.0], "y": ["a", "b", "d", "e"], "z": [0, 0, 0, 0]})
    meta = lambda f: {"schema": {c: str(t) for c, t in f.dtypes.items()}, "rows": len(f)}  # noqa: E731
    log(store, "r1", "t", kind="table", metadata=meta(a), **{"data.parquet": table(a)})
    log(store, "r2", "t", kind="table", metadata=meta(b), **{"data.parquet": table(b)})
    d = store.diff_datasets("t", 1, 2)
    assert d["columns"] == {"added": ["z"], "removed": [], "changed": {"x": {"a": "int64", "b": "float64"}}}
    # rows compared over the common columns (x, y): 1.0 == 1 by value
    assert d["rows"] == {"a": 3, "b": 4, "added": 2, "removed": 1, "unchanged": 2}


def lineage_world(store):
    """raw data (run r0) → dataset v1 → training run r1 → model m v1 → scoring run r2 → its output."""
    log(store, "r0", "raw", a=b"rows")
    dv = store.resolve_dataset("raw")
    store.write_batch({"runs": [{"id": "r1", "project": "P"}],
                       "inputs": [{"run_id": "r1", "artifact_id": dv["artifact_id"], "role": "dataset"}],
                       "artifacts": [{"run_id": "r1", "name": "model", "files": files(store, m=b"weights")}]})
    aid = store.find_artifact("r1", "model")["id"]
    store.register_model("P", "m", aid)
    store.write_batch({"runs": [{"id": "r2", "project": "P"}],
                       "inputs": [{"run_id": "r2", "artifact_id": aid, "role": "model"}],
                       "artifacts": [{"run_id": "r2", "name": "scores", "files": files(store, s=b"scores")}]})
    return dv, aid


def ids(lineage):
    return {n["id"]: n for n in lineage["nodes"]}


def test_lineage_walks_up_and_down_to_any_depth(store):
    dv, aid = lineage_world(store)
    up = store.lineage("r2", "up")
    nodes = ids(up)
    model = next(n for n in up["nodes"] if n["kind"] == "model")
    data = next(n for n in up["nodes"] if n["kind"] == "dataset")
    assert (model["name"], model["version"], data["name"], data["version"]) == ("m", 1, "raw", 1)
    assert {"run:r2", "run:r1", "run:r0", f"artifact:{aid}", f"artifact:{dv['artifact_id']}"} <= set(nodes)
    edges = {(e["source"], e["target"], e["kind"]) for e in up["edges"]}
    assert (model["id"], "run:r2", "input") in edges and (f"artifact:{aid}", model["id"], "version") in edges
    assert (data["id"], "run:r1", "input") in edges and ("run:r0", f"artifact:{dv['artifact_id']}", "output") in edges
    assert up["depth"] == 6 and not up["truncated"]
    one = store.lineage("r2", "up", depth=1)
    assert set(ids(one)) == {"run:r2", model["id"]}
    down = store.lineage("r0", "down")
    assert {"run:r1", "run:r2", model["id"]} <= set(ids(down))
    assert "scores" in {n.get("name") for n in down["nodes"]}
    assert store.lineage("r0", "up")["nodes"] == [ids(down)["run:r0"]]  # nothing above the raw data's run
    with pytest.raises(InvalidInput, match="direction must be 'up' or 'down'"):
        store.lineage("r0", "sideways")
    with pytest.raises(NotFound):
        store.lineage("ghost")


def test_cycles_are_refused_at_any_distance(store):
    dv, aid = lineage_world(store)
    scores = store.find_artifact("r2", "scores")["id"]
    from jupyter_mltrack.core.errors import Conflict

    for run in ("r0", "r1"):  # r2's output used upstream of r2: a cycle
        with pytest.raises(Conflict, match=f"run {run} cannot use artifact {scores}"):
            store.add_run_input(run, scores)
    store.write_batch({"runs": [{"id": "r3", "project": "P"}]})
    store.add_run_input("r3", scores)  # downstream: fine
    assert len(store.lineage("r0", "down")["nodes"]) > len(store.lineage("r1", "down")["nodes"])


def test_team_mode_lineage_shows_only_readable_projects(store):
    """Bob (viewer of P, owner of Q) uses P's dataset in a run of Q: alice (P only) sees P's side of the graph, not
    Q's run; bob sees both; a stranger may not read the run's lineage at all."""
    from jupyter_mltrack.core.errors import Forbidden

    for name in ("alice", "bob", "eve"):
        store.add_user(name)
    alice, bob, eve = (store.actor(n, create=False) for n in ("alice", "bob", "eve"))
    sha, size = store.blobs.put_bytes(b"rows")
    store.write_batch({"runs": [{"id": "p1", "project": "P"}],
                       "datasets": [{"project": "P", "name": "raw", "run_id": "p1", "kind": "file",
                                     "files": [{"path": "raw.csv", "sha256": sha, "size": size}]}]}, alice)
    store.set_member("P", "bob", "viewer", alice)
    raw = store.resolve_dataset("raw", actor=bob)
    with pytest.raises(Forbidden, match="logging a dataset in project 'P' needs the role contributor"):
        store.write_batch({"datasets": [{"project": "P", "name": "raw2", "run_id": "p1", "kind": "file",
                                         "files": [{"path": "raw.csv", "sha256": sha, "size": size}]}]}, bob)
    store.write_batch({"runs": [{"id": "q1", "project": "Q"}],
                       "inputs": [{"run_id": "q1", "artifact_id": raw["artifact_id"], "role": "dataset"}]}, bob)
    assert "run:q1" in ids(store.lineage("p1", "down", actor=bob))
    seen = ids(store.lineage("p1", "down", actor=alice))
    assert "run:q1" not in seen and any(n["kind"] == "dataset" for n in seen.values())
    assert all("q1" not in str(e) for e in store.lineage("p1", "down", actor=alice)["edges"])
    with pytest.raises(Forbidden, match="reading a run's lineage in project 'P' needs the role viewer"):
        store.lineage("p1", "down", actor=eve)
    with pytest.raises(NotFound):  # a dataset in a project eve cannot read is not revealed
        store.resolve_dataset("raw", actor=eve)
