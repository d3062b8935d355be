"""core/store.py: batch writes (all or nothing), reads, scopes, paging, staleness, revision, URIs."""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import pytest

from jupyter_mltrack.core import schema as S
from jupyter_mltrack.core.errors import Conflict, InvalidInput, NotFound
from jupyter_mltrack.core.store import STALE_AFTER, Store, resolve_uri

from ._helpers import execute, run_ids, sql


def count(store, table: str, where: str = "1=1", **params) -> int:
    return sql(store, f"SELECT count(*) FROM {table} WHERE {where}", **params)[0][0]


def blob(store, data: bytes = b"hello") -> dict:
    sha, size = store.blobs.put_bytes(data)
    return {"path": "file.bin", "sha256": sha, "size": size}


# ------------------------------------------------------------------------------------------------------------------
# runs


def test_run_creation_is_idempotent_on_id(store):
    w = store.write_batch({"runs": [{"id": "r1", "name": "first", "project": "P", "experiments": ["E"]}]})
    assert w == {"runs": 1, "params": 0, "tags": 0, "points": 0, "updates": 0, "artifacts": 0, "figures": 0, "inputs": 0,
                 "projects": 0, "experiments": 0, "campaigns": 0, "models": 0, "datasets": 0, "aliases": 0,
                 "stages": 0}
    w = store.write_batch({"runs": [{"id": "r1", "name": "second", "project": "P", "experiments": ["E"]}]})
    assert w["runs"] == 0
    assert count(store, "runs") == 1
    run = store.get_run("r1")
    assert run["name"] == "first" and run["project"] == "P" and run["experiments"] == ["E"]
    assert run["status"] == "running" and run["end_time"] is None and run["heartbeat_at"] is not None


def test_the_same_run_twice_in_one_batch(store):
    store.write_batch({"runs": [{"id": "r1", "name": "a"}, {"id": "r1", "name": "b"}]})
    assert count(store, "runs") == 1 and store.get_run("r1")["name"] == "a"


def test_run_fields_and_defaults(store):
    store.write_batch({"runs": [{"id": "r1", "name": "n", "user": "ann", "source": "nb.ipynb", "description": "d",
                                 "start_time": 1_000_000.5, "experiments": ["b", "a"], "campaigns": ["C"]}]})
    run = store.get_run("r1")
    assert run["project"] == "Default"
    assert (run["user"], run["source"], run["description"], run["start_time"]) == ("ann", "nb.ipynb", "d", 1_000_000.5)
    assert run["experiments"] == ["a", "b"] and run["campaigns"] == ["C"]


def test_parent_created_in_the_same_batch_after_its_child(store):
    store.write_batch({"runs": [{"id": "kid", "parent_id": "dad"}, {"id": "dad"}]})
    assert store.get_run("dad")["children"] == ["kid"]
    assert store.get_run("kid")["parent_id"] == "dad"


def test_unknown_parent_is_not_found(store):
    with pytest.raises(NotFound, match="ghost"):
        store.write_batch({"runs": [{"id": "kid", "parent_id": "ghost"}]})
    assert count(store, "runs") == 0


# ------------------------------------------------------------------------------------------------------------------
# params


def test_params_are_typed_and_canonical(store):
    store.write_batch({"runs": [{"id": "r"}], "params": [
        {"run_id": "r", "key": "lr", "value": 0.1}, {"run_id": "r", "key": "opt", "value": "adam"},
        {"run_id": "r", "key": "flag", "value": True}, {"run_id": "r", "key": "none", "value": None},
        {"run_id": "r", "key": "d", "value": {"b": [1, 2], "a": np.int64(3)}},
        {"run_id": "r", "key": "arr", "value": np.array([1.5, 2.5])},
    ]})
    assert store.get_run("r")["params"] == {"lr": 0.1, "opt": "adam", "flag": True, "none": None,
                                             "d": {"a": 3, "b": [1, 2]}, "arr": [1.5, 2.5]}
    rows = dict((k, (v, n, t)) for k, v, n, t in sql(store, "SELECT key, value, num, text FROM params"))
    assert rows["lr"] == ("0.1", 0.1, None)
    assert rows["opt"] == ('"adam"', None, "adam")
    assert rows["flag"] == ("true", 1.0, None)
    assert rows["d"][0] == '{"a":3,"b":[1,2]}'


def test_params_are_immutable(store):
    store.write_batch({"runs": [{"id": "r"}], "params": [{"run_id": "r", "key": "lr", "value": 0.1},
                                                        {"run_id": "r", "key": "d", "value": {"x": 1, "y": 2}}]})
    # the same value again is a no-op (even written in another key order)
    w = store.write_batch({"params": [{"run_id": "r", "key": "lr", "value": 0.1},
                                      {"run_id": "r", "key": "d", "value": {"y": 2, "x": 1}}]})
    assert w["params"] == 0
    with pytest.raises(Conflict) as ei:
        store.write_batch({"params": [{"run_id": "r", "key": "lr", "value": 0.2}]})
    assert "lr" in str(ei.value) and "immutable" in str(ei.value)
    assert ei.value.items == [{"run_id": "r", "key": "lr", "stored": "0.1", "value": "0.2"}]
    assert store.get_run("r")["params"]["lr"] == 0.1


def test_conflicting_values_inside_one_batch(store):
    store.write_batch({"runs": [{"id": "r"}]})
    with pytest.raises(Conflict) as ei:
        store.write_batch({"params": [{"run_id": "r", "key": "k", "value": 1}, {"run_id": "r", "key": "k", "value": 2}]})
    assert [(c["key"], c["stored"], c["value"]) for c in ei.value.items] == [("k", "1", "2")]
    assert count(store, "params") == 0
    w = store.write_batch({"params": [{"run_id": "r", "key": "k", "value": 1}, {"run_id": "r", "key": "k", "value": 1}]})
    assert w["params"] == 1


def test_a_batch_with_a_conflict_writes_nothing(store):
    store.write_batch({"runs": [{"id": "r"}], "params": [{"run_id": "r", "key": "lr", "value": 0.1}]})
    sha = blob(store)
    rev = store.revision()
    with pytest.raises(Conflict) as ei:
        store.write_batch({
            "runs": [{"id": "new", "project": "NewProject", "experiments": ["NewExp"], "campaigns": ["NewCamp"]}],
            "params": [{"run_id": "new", "key": "a", "value": 1}, {"run_id": "r", "key": "lr", "value": 0.5},
                       {"run_id": "r", "key": "other", "value": 2}],
            "tags": [{"run_id": "r", "key": "t", "value": "v"}],
            "metrics": [{"run_id": "r", "name": "m", "values": [1.0, 2.0]}],
            "updates": [{"run_id": "r", "status": "finished"}],
            "artifacts": [{"run_id": "r", "name": "a", "files": [sha]}],
            "heartbeat": ["r"],
        })
    assert len(ei.value.items) == 1
    assert count(store, "runs", "id = 'new'") == 0
    assert count(store, "params") == 1
    assert count(store, "tags") == 0 and count(store, "metric_series") == 0 and count(store, "metric_chunks") == 0
    assert count(store, "artifacts") == 0 and count(store, "projects", "name = 'NewProject'") == 0
    assert count(store, "experiments") == 0 and count(store, "campaigns") == 0
    assert store.get_run("r")["status"] == "running"
    assert store.revision() == rev


def test_bool_and_number_are_different_param_values(store):
    store.write_batch({"runs": [{"id": "r"}], "params": [{"run_id": "r", "key": "flag", "value": True}]})
    with pytest.raises(Conflict):
        store.write_batch({"params": [{"run_id": "r", "key": "flag", "value": 1}]})


# ------------------------------------------------------------------------------------------------------------------
# unknown runs and malformed batches


@pytest.mark.parametrize("section, item", [
    ("params", {"run_id": "ghost", "key": "k", "value": 1}),
    ("tags", {"run_id": "ghost", "key": "k", "value": "v"}),
    ("metrics", {"run_id": "ghost", "name": "m", "values": [1.0]}),
    ("updates", {"run_id": "ghost", "status": "finished"}),
    ("inputs", {"run_id": "ghost", "artifact_id": 1}),
    ("heartbeat", "ghost"),
])
def test_unknown_run_is_not_found(store, section, item):
    store.write_batch({"runs": [{"id": "r"}]})
    with pytest.raises(NotFound, match="unknown run: ghost"):
        store.write_batch({section: [item], "tags": [{"run_id": "r", "key": "written", "value": "no"}]
                           if section != "tags" else [item]})
    assert count(store, "tags") == 0


def test_unknown_run_in_artifacts_is_not_found(store):
    with pytest.raises(NotFound, match="ghost"):
        store.write_batch({"artifacts": [{"run_id": "ghost", "name": "a", "files": [blob(store)]}]})


def test_not_found_lists_several_unknown_runs(store):
    with pytest.raises(NotFound, match="unknown runs: g1, g2"):
        store.write_batch({"tags": [{"run_id": "g2", "key": "k", "value": "v"}, {"run_id": "g1", "key": "k", "value": "v"}]})


SHA = "a" * 64


@pytest.mark.parametrize("batch, message", [
    ([], "batch must be a JSON object"),
    ({"runz": []}, "unknown section(s) runz"),
    ({"runs": {"id": "r"}}, "'runs' must be a list"),
    ({"runs": ["r"]}, "must be an object"),
    ({"runs": [{"name": "x"}]}, "missing 'id'"),
    ({"runs": [{"id": "a b"}]}, "run id 'a b'"),
    ({"runs": [{"id": "x" * 33}]}, "1-32 ASCII letters"),
    ({"runs": [{"id": ""}]}, "run id ''"),
    ({"runs": [{"id": "r", "colour": "red"}]}, "unknown field(s) colour"),
    ({"runs": [{"id": "r", "status": "paused"}]}, "status 'paused'"),
    ({"runs": [{"id": "r", "name": 5}]}, "runs.name must be a string"),
    ({"runs": [{"id": "r", "project": ""}]}, "project name must not be empty"),
    ({"runs": [{"id": "r", "experiments": "exp"}]}, "experiments must be a list"),
    ({"runs": [{"id": "r", "experiments": ["ok", "\x00"]}]}, "control character"),
    ({"runs": [{"id": "r", "start_time": "yesterday"}]}, "start_time"),
    ({"runs": [{"id": "r", "parent_id": "no/slash"}]}, "parent_id"),
    ({"params": [{"run_id": "r", "key": "k"}]}, "missing 'value'"),
    ({"params": [{"run_id": "r", "key": "", "value": 1}]}, "param name must not be empty"),
    ({"params": [{"run_id": "r", "key": "obj", "value": object()}]}, "param 'obj'"),
    ({"params": [{"run_id": "r", "key": "nan", "value": math.nan}]}, "NaN"),
    ({"tags": [{"run_id": "r", "key": "t", "value": "x" * 5001}]}, "tag 't'"),
    ({"tags": [{"run_id": "r", "key": "x" * 251, "value": "v"}]}, "the limit is 250"),
    ({"metrics": [{"run_id": "r", "name": "m"}]}, "missing 'values'"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": ["abc"]}]}, "'abc' is not a number"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [{"a": 1}]}]}, "must hold numbers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": 1.0}]}, "must be a list of numbers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1.0], "steps": [0.5]}]}, "steps must be integers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1.0, 2.0], "steps": [0]}]}, "same length"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1.0], "timestamps": [1.0, 2.0]}]}, "same length"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": b"\x00" * 7}]}, "multiple of 8"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1.0], "context": {"a b": "x"}}]}, "context key 'a b'"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1.0], "context": {"k": "a,b"}}]}, "without ','"),
    ({"updates": [{"run_id": "r", "statuz": "finished"}]}, "unknown field(s) statuz"),
    ({"updates": [{"run_id": "r", "status": "done"}]}, "status 'done'"),
    ({"updates": [{"run_id": "r", "end_time": "now"}]}, "end_time"),
    ({"artifacts": [{"run_id": "r", "name": "a"}]}, "missing 'files'"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": "f"}]}, "files must be a list"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{"path": "../up", "sha256": SHA, "size": 1}]}]},
     "must be a relative path without '..'"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{"path": "/abs", "sha256": SHA, "size": 1}]}]},
     "must be a relative path"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{"path": "f", "sha256": "abc", "size": 1}]}]},
     "sha256 must be 64 lowercase hex"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{"path": "f", "size": 1}]}]}, "missing 'sha256'"),
    ({"inputs": [{"run_id": "r", "artifact_id": "7"}]}, "artifact_id must be an integer"),
    ({"inputs": [{"run_id": "r", "artifact_id": True}]}, "artifact_id must be an integer"),
    ({"heartbeat": ["bad id!"]}, "heartbeat"),
])
def test_malformed_batches_are_invalid_input_naming_the_problem(store, batch, message):
    store.write_batch({"runs": [{"id": "r"}]})
    rev = store.revision()
    with pytest.raises(InvalidInput) as ei:
        store.write_batch(batch)
    assert message in str(ei.value)
    assert store.revision() == rev


def test_campaigns_must_be_a_list(store):
    with pytest.raises(InvalidInput, match="campaigns"):
        store.write_batch({"runs": [{"id": "r", "campaigns": "abc"}]})


def test_non_hex_sha256_is_refused(store):
    store.write_batch({"runs": [{"id": "r"}]})
    with pytest.raises(InvalidInput, match="sha256 must be 64 lowercase hex"):
        store.write_batch({"artifacts": [{"run_id": "r", "name": "a",
                                          "files": [{"path": "f", "sha256": "../" + "a" * 61, "size": 1}]}]})


# ------------------------------------------------------------------------------------------------------------------
# tags, updates


def test_tags_upsert_and_delete_with_null(store):
    store.write_batch({"runs": [{"id": "r"}], "tags": [{"run_id": "r", "key": "stage", "value": "dev"},
                                                      {"run_id": "r", "key": "n", "value": 3}]})
    assert store.get_run("r")["tags"] == {"stage": "dev", "n": "3"}
    store.write_batch({"tags": [{"run_id": "r", "key": "stage", "value": "prod"}]})
    assert store.get_run("r")["tags"] == {"stage": "prod", "n": "3"}
    store.write_batch({"tags": [{"run_id": "r", "key": "stage", "value": None},
                                {"run_id": "r", "key": "never-set", "value": None}]})
    assert store.get_run("r")["tags"] == {"n": "3"}
    assert store.search_runs()[0][0]["tags"] == {"n": "3"}  # the denormalised summary follows
    # within one batch the last write wins, in order
    store.write_batch({"tags": [{"run_id": "r", "key": "x", "value": "1"}, {"run_id": "r", "key": "x", "value": None},
                                {"run_id": "r", "key": "x", "value": "2"}]})
    assert store.get_run("r")["tags"]["x"] == "2"


def test_updates(store):
    store.write_batch({"runs": [{"id": "r", "name": "old"}]})
    store.write_batch({"updates": [{"run_id": "r", "name": "new", "description": "about"}]})
    run = store.get_run("r")
    assert (run["name"], run["description"], run["status"]) == ("new", "about", "running")
    store.write_batch({"updates": [{"run_id": "r", "status": "failed", "end_time": 1234.5, "error": "Traceback…"}]})
    run = store.get_run("r")
    assert (run["status"], run["end_time"], run["error"]) == ("failed", 1234.5, "Traceback…")
    assert store.search_runs()[0][0]["name"] == "new"


def test_many_updates_in_one_batch_apply_in_order(store):
    """Updates of one batch are written set-wise: a run's updates merge in order (the later field wins, earlier
    fields stay), runs changing different fields each get theirs, and an error can be cleared with null."""
    store.write_batch({"runs": [{"id": f"r{i}", "name": f"old{i}"} for i in range(5)]})
    w = store.write_batch({"updates": [
        {"run_id": "r0", "status": "failed", "name": "a", "error": "boom"},
        {"run_id": "r1", "description": "d1"},
        {"run_id": "r0", "name": "b"},
        {"run_id": "r2", "status": "finished", "end_time": 2000.0},
        {"run_id": "r0", "error": None, "status": "finished"},
        {"run_id": "r3", "description": "d3"},
        {"run_id": "r1", "name": "n1"},
        {"run_id": "r4"},  # nothing to change
    ]})
    assert w["updates"] == 7
    runs = {r["id"]: r for r in store.search_runs()[0]}
    got = {rid: (r["name"], r["status"], r["error"], r["description"], r["end_time"]) for rid, r in runs.items()}
    assert got == {
        "r0": ("b", "finished", None, "", None),
        "r1": ("n1", "running", None, "d1", None),
        "r2": ("old2", "finished", None, "", 2000.0),
        "r3": ("old3", "running", None, "d3", None),
        "r4": ("old4", "running", None, "", None),
    }


def test_a_run_can_be_created_logged_and_ended_in_one_batch(store):
    w = store.write_batch({
        "runs": [{"id": "r"}], "params": [{"run_id": "r", "key": "a", "value": 1}],
        "metrics": [{"run_id": "r", "name": "m", "values": [1.0, 2.0, 3.0]}],
        "updates": [{"run_id": "r", "status": "finished", "end_time": time.time()}],
    })
    assert w == {"runs": 1, "params": 1, "tags": 0, "points": 3, "updates": 1, "artifacts": 0, "figures": 0, "inputs": 0,
                 "projects": 0, "experiments": 0, "campaigns": 0, "models": 0, "datasets": 0, "aliases": 0,
                 "stages": 0}
    run = store.get_run("r")
    assert run["status"] == "finished" and run["params"] == {"a": 1} and run["metrics"][0]["count"] == 3


def test_metric_points_as_little_endian_bytes(store):
    steps = np.array([3, 1, 2], dtype="<i8")
    values = np.array([0.5, math.nan, -math.inf], dtype="<f8")
    store.write_batch({"runs": [{"id": "r"}], "metrics": [{
        "run_id": "r", "name": "m", "steps": steps.tobytes(), "timestamps": np.array([1.0, 2.0, 3.0]).tobytes(),
        "values": values.tobytes(), "context": {"subset": "val"}}]})
    p = store.get_series("r", "m", {"subset": "val"})["points"]
    assert p.steps.tolist() == [1, 2, 3]
    assert math.isnan(p.values[0]) and p.values[1] == -math.inf and p.values[2] == 0.5
    assert p.timestamps.tolist() == [2.0, 3.0, 1.0]


def test_non_finite_values_as_strings_and_null(store):
    store.write_batch({"runs": [{"id": "r"}], "metrics": [
        {"run_id": "r", "name": "m", "values": ["NaN", "Infinity", "-Infinity", "inf", None, 1]}]})
    v = store.get_series("r", "m")["points"].values
    assert math.isnan(v[0]) and v[1] == math.inf and v[2] == -math.inf and v[3] == math.inf
    assert math.isnan(v[4]) and v[5] == 1.0


# ------------------------------------------------------------------------------------------------------------------
# artifacts and inputs


def test_artifacts_are_versioned_per_run_and_name(store):
    store.write_batch({"runs": [{"id": "r1"}, {"id": "r2"}]})
    f1, f2 = blob(store, b"one"), blob(store, b"two")
    store.write_batch({"artifacts": [{"run_id": "r1", "name": "model", "type": "model", "metadata": {"acc": 0.9},
                                      "files": [f1]}]})
    store.write_batch({"artifacts": [{"run_id": "r1", "name": "model", "files": [f2]},
                                     {"run_id": "r1", "name": "data", "files": [f1]},
                                     {"run_id": "r2", "name": "model", "files": [f1]}]})
    arts = store.get_run("r1")["artifacts"]
    assert [(a["name"], a["version"]) for a in arts] == [("data", 1), ("model", 1), ("model", 2)]
    assert arts[1]["type"] == "model" and arts[1]["metadata"] == {"acc": 0.9}
    assert arts[1]["files"] == [{"path": "file.bin", "size": 3, "sha256": f1["sha256"],
                                 "media_type": "application/octet-stream"}]
    assert [(a["name"], a["version"]) for a in store.get_run("r2")["artifacts"]] == [("model", 1)]
    latest = store.find_artifact("r1", "model")
    assert latest["version"] == 2 and latest["files"][0]["sha256"] == f2["sha256"]
    assert store.find_artifact("r1", "model", version=1)["id"] == arts[1]["id"]
    with pytest.raises(NotFound):
        store.find_artifact("r1", "model", version=3)
    f = store.artifact_file(latest["id"], "file.bin")
    assert store.blobs.read_bytes(f["sha256"]) == b"two" == store.read_artifact_file(latest["id"], "file.bin")
    with pytest.raises(NotFound, match="no file"):
        store.artifact_file(latest["id"], "other.bin")
    assert count(store, "blobs") == 2  # content-addressed: 'one' is stored once


def test_one_batch_may_hold_several_versions_of_one_artifact_and_many_runs(store):
    runs = [f"r{i:04d}" for i in range(1200)]  # past one IN list of run ids
    store.write_batch({"runs": [{"id": r} for r in runs]})
    f1, f2, f3 = blob(store, b"one"), blob(store, b"two"), blob(store, b"three")
    store.write_batch({"artifacts": [{"run_id": "r0001", "name": "model", "files": [f1]}]})
    store.write_batch({"artifacts": [
        {"run_id": "r0001", "name": "model", "files": [f2], "metadata": {"n": 2}},
        {"run_id": "r0001", "name": "model", "files": [{**f3, "path": "w.bin"}, f1], "metadata": {"n": 3}},
        *({"run_id": r, "name": "environment", "files": [f1]} for r in runs)]})
    arts = store.get_run("r0001")["artifacts"]
    assert [(a["name"], a["version"], a["metadata"]) for a in arts] == [
        ("environment", 1, {}), ("model", 1, {}), ("model", 2, {"n": 2}), ("model", 3, {"n": 3})]
    assert [f["sha256"] for f in arts[2]["files"]] == [f2["sha256"]]
    assert {f["path"]: f["sha256"] for f in arts[3]["files"]} == {"file.bin": f1["sha256"], "w.bin": f3["sha256"]}
    assert count(store, "artifacts") == 1 + 2 + len(runs)
    assert store.find_artifact("r1199", "environment")["files"][0]["sha256"] == f1["sha256"]


def test_artifact_files_must_have_been_uploaded(store):
    store.write_batch({"runs": [{"id": "r"}]})
    missing = {"path": "weights.bin", "sha256": "b" * 64, "size": 10}
    with pytest.raises(NotFound, match="has not been uploaded"):
        store.write_batch({"artifacts": [{"run_id": "r", "name": "m", "files": [blob(store), missing]}],
                           "tags": [{"run_id": "r", "key": "t", "value": "v"}]})
    assert count(store, "artifacts") == 0 and count(store, "tags") == 0


def test_artifact_with_several_files_and_an_empty_one(store):
    store.write_batch({"runs": [{"id": "r"}]})
    a, b = blob(store, b"A"), blob(store, b"B")
    store.write_batch({"artifacts": [{"run_id": "r", "name": "dir", "files": [
        {**b, "path": "sub/b.txt", "media_type": "text/plain"}, {**a, "path": "a.txt"}]},
        {"run_id": "r", "name": "nothing", "files": []}]})
    arts = {x["name"]: x for x in store.get_run("r")["artifacts"]}
    assert [f["path"] for f in arts["dir"]["files"]] == ["a.txt", "sub/b.txt"]
    assert arts["dir"]["files"][1]["media_type"] == "text/plain"
    assert arts["nothing"]["files"] == []


def test_inputs_record_lineage(store):
    store.write_batch({"runs": [{"id": "prep"}, {"id": "train"}]})
    store.write_batch({"artifacts": [{"run_id": "prep", "name": "dataset", "type": "data", "files": [blob(store)]}]})
    aid = store.get_run("prep")["artifacts"][0]["id"]
    store.write_batch({"inputs": [{"run_id": "train", "artifact_id": aid, "role": "training-data"},
                                  {"run_id": "train", "artifact_id": aid}]})  # a repeat is ignored
    assert store.get_run("train")["inputs"] == [{"artifact_id": aid, "run_id": "prep", "name": "dataset",
                                                  "type": "data", "version": 1, "role": "training-data"}]
    with pytest.raises(NotFound, match="no artifact 9999"):
        store.write_batch({"inputs": [{"run_id": "train", "artifact_id": 9999}]})
    store.write_batch({"runs": [{"id": "eval"}]})
    store.add_run_input("eval", aid)
    assert store.get_run("eval")["inputs"][0]["role"] == "input"
    with pytest.raises(Conflict, match="comes from that run itself"):  # no lineage cycles
        store.add_run_input("prep", aid)
    with pytest.raises(NotFound):
        store.add_run_input("ghost", aid)
    with pytest.raises(NotFound):
        store.add_run_input("prep", 9999)


# ------------------------------------------------------------------------------------------------------------------
# reads


@pytest.fixture
def populated(store):
    """Three projects' worth of runs with known times (start_time = index)."""
    runs = []
    for i in range(12):
        runs.append({"id": f"r{i:02d}", "name": f"run {i}", "start_time": 1000.0 + i,
                     "project": "A" if i < 8 else "B", "experiments": ["E1"] if i % 2 == 0 else ["E2"],
                     "campaigns": ["C"] if i % 3 == 0 else []})
    store.write_batch({"runs": runs})
    return store


def test_search_scopes(populated):
    s = populated
    assert len(run_ids(s)) == 12
    assert run_ids(s, project="A") == {f"r{i:02d}" for i in range(8)}
    assert run_ids(s, project=s.get_project("B")["id"]) == {"r08", "r09", "r10", "r11"}
    assert run_ids(s, experiment="E1") == {f"r{i:02d}" for i in range(0, 12, 2)}
    assert run_ids(s, project="B", experiment="E2") == {"r09", "r11"}
    assert run_ids(s, campaign="C") == {"r00", "r03", "r06", "r09"}
    assert run_ids(s, project="A", experiment="E1", campaign="C") == {"r00", "r06"}
    with pytest.raises(NotFound, match="project"):
        s.search_runs(project="nope")
    with pytest.raises(NotFound, match="experiment"):
        s.search_runs(experiment="nope")
    with pytest.raises(NotFound, match="campaign"):
        s.search_runs(campaign="nope")


def test_search_paging_and_default_order(populated):
    s = populated
    runs, total = s.search_runs()
    assert total == 12 and [r["id"] for r in runs] == [f"r{i:02d}" for i in range(11, -1, -1)]  # newest first
    page, total = s.search_runs(limit=5, offset=0)
    assert total == 12 and [r["id"] for r in page] == ["r11", "r10", "r09", "r08", "r07"]
    page, total = s.search_runs(limit=5, offset=10)
    assert total == 12 and [r["id"] for r in page] == ["r01", "r00"]
    page, total = s.search_runs(limit=5, offset=20)
    assert total == 12 and page == []
    page, total = s.search_runs(project="B", limit=0)
    assert total == 4 and page == []
    page, total = s.search_runs(order_by="start_time", limit=3, offset=1)
    assert [r["id"] for r in page] == ["r01", "r02", "r03"] and total == 12
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(InvalidInput, match="limit"):
            s.search_runs(limit=bad)
    with pytest.raises(InvalidInput, match="offset"):
        s.search_runs(offset=-1)


def test_search_run_summary_content(store):
    store.write_batch({
        "runs": [{"id": "r", "name": "n", "project": "P", "experiments": ["E"]}],
        "params": [{"run_id": "r", "key": "lr", "value": 0.1}], "tags": [{"run_id": "r", "key": "t", "value": "v"}],
        "metrics": [{"run_id": "r", "name": "acc", "values": [0.5, 0.7], "context": {"subset": "val"}},
                    {"run_id": "r", "name": "loss", "values": [1.0, -math.inf]}],
    })
    (run,), total = store.search_runs()
    assert total == 1
    assert {k: run[k] for k in ("id", "name", "status", "project", "experiments", "params", "tags")} == {
        "id": "r", "name": "n", "status": "running", "project": "P", "experiments": ["E"], "params": {"lr": 0.1},
        "tags": {"t": "v"}}
    by_key = {m["key"]: m for m in run["metrics"]}
    assert by_key["acc[subset=val]"]["context"] == {"subset": "val"}
    assert (by_key["acc[subset=val]"]["last"], by_key["acc[subset=val]"]["count"]) == (0.7, 2)
    assert by_key["loss"]["last"] == -math.inf and by_key["loss"]["min"] == -math.inf
    # the REST text: strict JSON with non-finite numbers as strings
    text, total = store.search_runs_json()

    def no_constants(c):
        raise AssertionError(f"non-JSON constant {c}")

    (j,) = json.loads(text, parse_constant=no_constants)
    assert j["id"] == "r" and j["params"] == {"lr": 0.1}
    assert {m["key"]: m["last"] for m in j["metrics"]} == {"acc[subset=val]": 0.7, "loss": "-Infinity"}


@pytest.mark.parametrize("finished", [False, True])  # fragments built by a reader / stored at run end
def test_every_listing_agrees_with_the_normalised_tables(store, finished):
    """search_runs, both REST views and run_table against get_run, with keys and values that could confuse a
    fragment put together as text: a param named "metrics" holding an object with a "metrics" member, quotes and
    brackets in keys, NaN and ±inf, a run without anything."""
    tricky = {"metrics": {"metrics": {"x": 1}, "a": [1, "}"]}, 'quo"te': 'say "hi"', "lr": 0.1}
    store.write_batch({
        "runs": [{"id": "a", "name": "A", "project": "P", "experiments": ["E2", "E1"]}, {"id": "b", "project": "P"}],
        "params": [{"run_id": "a", "key": k, "value": v} for k, v in tricky.items()],
        "tags": [{"run_id": "a", "key": 'tag"metrics":', "value": '"metrics":{'}],
        "metrics": [{"run_id": "a", "name": 'm"metrics":{', "values": [1.0, 2.0]},
                    {"run_id": "a", "name": "nan", "values": [1.0, math.nan]},
                    {"run_id": "a", "name": "inf", "context": {"subset": 'v"al'}, "values": [math.inf]},
                    {"run_id": "a", "name": "ninf", "values": [-math.inf, 3.0], "steps": [5, 1]}],
        "updates": [{"run_id": r, "status": "finished", "end_time": 1e10} for r in ("a", "b")] if finished else [],
    })
    truth = {r: store.get_run(r) for r in ("a", "b")}
    runs, total = store.search_runs(order_by="name")
    assert total == 2 and [r["id"] for r in runs] == ["b", "a"]
    for r in runs:
        t = truth[r["id"]]
        for k in ("name", "status", "project", "experiments", "params", "tags"):
            assert r[k] == t[k], k
        got = {m["key"]: m for m in r["metrics"]}
        want = {m["key"]: m for m in t["metrics"]}
        assert got.keys() == want.keys()
        for key, m in want.items():
            for f in ("name", "context", "last_step", "count", "min", "max", "last"):
                assert got[key][f] == m[f] or (m[f] != m[f] and got[key][f] != got[key][f]), (key, f)
    a = next(r for r in runs if r["id"] == "a")
    assert a["params"] == tricky and a["experiments"] == ["E1", "E2"]
    assert math.isnan({m["key"]: m for m in a["metrics"]}["nan"]["last"])

    def no_constants(c):
        raise AssertionError(f"non-JSON constant {c}")

    for view in ("full", "table"):
        text, total = store.search_runs_json(order_by="name", view=view)
        rows = json.loads(text, parse_constant=no_constants)
        assert [r["id"] for r in rows] == ["b", "a"] and total == 2
        ra = rows[1]
        assert ra["params"] == tricky and ra["tags"] == {'tag"metrics":': '"metrics":{'}
        lasts = ({m["key"]: m["last"] for m in ra["metrics"]} if view == "full" else ra["metrics"])
        assert lasts == {'m"metrics":{': 2.0, "nan": "NaN", 'inf[subset=v"al]': "Infinity", "ninf": "-Infinity"}
        assert rows[0]["metrics"] == ([] if view == "full" else {}) and rows[0]["params"] == {}
    table = store.run_table(order_by="name")
    assert table["params"][1] == tricky
    assert table["metrics"][1] == {'m"metrics":{': 2.0, "nan": "NaN", 'inf[subset=v"al]': "Infinity", "ninf": "-Infinity"}
    with pytest.raises(InvalidInput, match="view"):
        store.search_runs_json(view="wide")


def test_stored_fragments_are_never_read_stale(store):
    """A run's fragments are stored together; a later write clears the table_row only, and every listing then
    shows the new values (the metric summaries come from the series rows), whether the fragments were stored at
    run end or by a reader of 100+ runs. Every run with the same keys shares one DataFrame key list."""
    ids = [f"r{i:03d}" for i in range(150)]
    store.write_batch({"runs": [{"id": i} for i in ids],
                       "metrics": [{"run_id": i, "name": "m", "values": [1.0]} for i in ids]})
    # a bulk import of running runs: stored at once
    assert count(store, "runs", "table_row != '' AND frame_layout IS NOT NULL") == 150
    assert sql(store, "SELECT key_list FROM frame_layouts") == [('["f:metrics.m"]',)]
    store.write_batch({"updates": [{"run_id": "r000", "status": "finished"}]})
    for rid, value in (("r000", 2.0), ("r001", 3.0)):
        store.write_batch({"metrics": [{"run_id": rid, "name": "m", "values": [value]}]})
    for view in ("full", "table"):
        rows = {r["id"]: r for r in json.loads(store.search_runs_json(limit=1000, view=view)[0])}
        for rid, value in (("r000", 2.0), ("r001", 3.0), ("r002", 1.0)):
            m = rows[rid]["metrics"]
            assert (m[0]["last"], m[0]["count"]) == (value, 1 if value == 1.0 else 2) if view == "full" else \
                m == {"m": value}
    runs = {r["id"]: r for r in store.search_runs()[0]}
    assert runs["r000"]["metrics"][0]["last"] == 2.0 and runs["r000"]["metrics"][0]["count"] == 2
    assert store.run_table(filter="id = 'r001'")["metrics"] == [{"m": 3.0}]
    store.write_batch({"updates": [{"run_id": "r001", "status": "finished"}]})
    assert sql(store, "SELECT table_row FROM runs WHERE id = 'r001'")[0][0].endswith('"metrics":{"m":3.0}')
    assert store.search_runs(filter="id = 'r001'")[0][0]["metrics"][0]["last"] == 3.0
    assert count(store, "frame_layouts") == 1


def test_get_run_content(store):
    store.write_batch({
        "runs": [{"id": "dad", "name": "parent", "project": "P", "experiments": ["E1", "E2"], "campaigns": ["C1"]},
                 {"id": "kid1", "parent_id": "dad", "start_time": 10.0},
                 {"id": "kid2", "parent_id": "dad", "start_time": 5.0}],
        "params": [{"run_id": "dad", "key": "k", "value": [1, 2]}],
        "tags": [{"run_id": "dad", "key": "t", "value": "v"}],
        "metrics": [{"run_id": "dad", "name": "m", "steps": [0, 1], "values": [3.0, 4.0]}],
    })
    store.write_batch({"artifacts": [{"run_id": "kid1", "name": "out", "files": [blob(store)]}]})
    aid = store.get_run("kid1")["artifacts"][0]["id"]
    store.write_batch({"inputs": [{"run_id": "dad", "artifact_id": aid}]})
    run = store.get_run("dad")
    assert run["children"] == ["kid2", "kid1"]  # by start time
    assert run["experiments"] == ["E1", "E2"] and run["campaigns"] == ["C1"]
    assert run["params"] == {"k": [1, 2]} and run["tags"] == {"t": "v"}
    assert run["metrics"] == [{"name": "m", "context": {}, "key": "m", "last": 4.0, "last_step": 1,
                               "last_time": run["metrics"][0]["last_time"], "min": 3.0, "max": 4.0, "count": 2}]
    assert run["inputs"][0]["run_id"] == "kid1" and run["inputs"][0]["name"] == "out"
    assert run["artifacts"] == [] and run["error"] is None and run["parent_id"] is None
    assert store.list_series("dad") == run["metrics"]
    with pytest.raises(NotFound, match="no run 'ghost'"):
        store.get_run("ghost")
    with pytest.raises(InvalidInput):
        store.get_run("")


def test_get_series_with_context(store):
    store.write_batch({"runs": [{"id": "r"}], "metrics": [
        {"run_id": "r", "name": "acc", "values": [1.0, 2.0], "context": {"subset": "train"}},
        {"run_id": "r", "name": "acc", "values": [3.0], "context": {"subset": "val", "fold": 1}},
        {"run_id": "r", "name": "acc", "values": [4.0, 5.0, 6.0]},
    ]})
    assert store.get_series("r", "acc")["points"].values.tolist() == [4.0, 5.0, 6.0]
    s = store.get_series("r", "acc", {"subset": "train"})
    assert s["key"] == "acc[subset=train]" and s["context"] == {"subset": "train"}
    assert s["points"].values.tolist() == [1.0, 2.0]
    s = store.get_series("r", "acc", '{"subset": "val", "fold": "1"}')  # JSON text, numbers as strings
    assert s["key"] == "acc[fold=1,subset=val]" and s["points"].values.tolist() == [3.0]
    with pytest.raises(NotFound, match="acc\\[subset=test\\]"):
        store.get_series("r", "acc", {"subset": "test"})
    with pytest.raises(NotFound, match="no run"):
        store.get_series("ghost", "acc")
    for bad in (2, 0, "10", 2.5):
        with pytest.raises(InvalidInput, match="max_points"):
            store.get_series("r", "acc", max_points=bad)


def test_get_series_many(store):
    store.write_batch({"runs": [{"id": "a"}, {"id": "b"}, {"id": "c"}], "metrics": [
        {"run_id": "a", "name": "m", "values": [1.0]}, {"run_id": "c", "name": "m", "values": [3.0, 4.0]},
        {"run_id": "b", "name": "other", "values": [2.0]}]})
    out = store.get_series_many(["c", "b", "a", "c"], "m")
    assert [(s["run_id"], s["points"].values.tolist()) for s in out] == [("c", [3.0, 4.0]), ("a", [1.0])]
    with pytest.raises(InvalidInput):
        store.get_series_many("abc", "m")


def test_get_series_many_step_range(store):
    from jupyter_mltrack.core.series import CHUNK_POINTS

    n = 3 * CHUNK_POINTS
    store.write_batch({"runs": [{"id": "a"}, {"id": "b"}], "metrics": [
        {"run_id": "a", "name": "m", "values": np.arange(n, dtype=float)},
        {"run_id": "b", "name": "m", "steps": [5, 1, 3], "values": [5.0, 1.0, 3.0]}]})
    lo, hi = CHUNK_POINTS - 10, 2 * CHUNK_POINTS + 10  # spans three chunks
    a, b = store.get_series_many(["a", "b"], "m", step_range=(lo, hi))
    assert a["points"].steps.tolist() == list(range(lo, hi + 1)) and a["total_count"] == hi - lo + 1
    assert b["run_id"] == "b" and len(b["points"]) == 0  # outside the range
    (a, b) = store.get_series_many(["a", "b"], "m", step_range=(0, 3))
    assert a["points"].values.tolist() == [0.0, 1.0, 2.0, 3.0] and b["points"].values.tolist() == [1.0, 3.0]
    (a,) = store.get_series_many(["a"], "m", step_range=(lo, hi), max_points=50)
    assert a["downsampled"] and len(a["points"]) <= 50


def test_run_columns(store):
    store.write_batch({"runs": [{"id": "a", "project": "P"}, {"id": "b", "project": "Q"}],
                       "params": [{"run_id": "a", "key": "lr", "value": 1}, {"run_id": "b", "key": "opt", "value": "x"}],
                       "tags": [{"run_id": "a", "key": "t", "value": "v"}],
                       "metrics": [{"run_id": "a", "name": "acc", "values": [1.0], "context": {"subset": "val"}},
                                   {"run_id": "a", "name": "acc", "values": [1.0]},
                                   {"run_id": "b", "name": "loss", "values": [1.0]}]})
    assert store.run_columns() == {"params": ["lr", "opt"], "metrics": ["acc", "acc[subset=val]", "loss"],
                                   "tags": ["t"]}
    assert store.run_columns(project="P") == {"params": ["lr"], "metrics": ["acc", "acc[subset=val]"], "tags": ["t"]}
    assert store.run_columns(filter="params.opt = 'x'") == {"params": ["opt"], "metrics": ["loss"], "tags": []}


# ------------------------------------------------------------------------------------------------------------------
# staleness


def test_a_running_run_without_heartbeat_reads_as_crashed(store):
    store.write_batch({"runs": [{"id": "alive"}, {"id": "dead"}, {"id": "done"}],
                       "updates": [{"run_id": "done", "status": "finished"}]})
    old = time.time() - STALE_AFTER - 5
    execute(store, "UPDATE runs SET heartbeat_at = :t WHERE id IN ('dead', 'done')", t=old)
    assert store.get_run("dead")["status"] == "crashed"
    assert store.get_run("alive")["status"] == "running"
    assert store.get_run("done")["status"] == "finished"
    assert {r["id"]: r["status"] for r in store.search_runs()[0]} == {"alive": "running", "dead": "crashed",
                                                                       "done": "finished"}
    assert {r["id"]: r["status"] for r in json.loads(store.search_runs_json()[0])}["dead"] == "crashed"
    table = store.run_table()
    assert {row[0]: row[2] for row in table["base"]}["dead"] == "crashed"
    assert sql(store, "SELECT status FROM runs WHERE id = 'dead'") == [("running",)]  # only the reading changes
    # a heartbeat brings it back
    store.write_batch({"heartbeat": ["dead"]})
    assert store.get_run("dead")["status"] == "running"


def test_run_without_any_heartbeat_uses_start_time(store):
    store.write_batch({"runs": [{"id": "r"}]})
    execute(store, "UPDATE runs SET heartbeat_at = NULL, start_time = :t", t=time.time() - STALE_AFTER - 1)
    assert store.get_run("r")["status"] == "crashed"


# ------------------------------------------------------------------------------------------------------------------
# revision


def _setup_for_revision(store):
    store.write_batch({"runs": [{"id": "r"}, {"id": "q"}], "tags": [{"run_id": "r", "key": "old", "value": "x"}]})
    store.write_batch({"artifacts": [{"run_id": "q", "name": "a", "files": [blob(store)]}]})
    return store.get_run("q")["artifacts"][0]["id"]


WRITES = {
    "new run": lambda s, aid: s.write_batch({"runs": [{"id": "n"}]}),
    "param": lambda s, aid: s.write_batch({"params": [{"run_id": "r", "key": "k", "value": 1}]}),
    "tag": lambda s, aid: s.write_batch({"tags": [{"run_id": "r", "key": "k", "value": "v"}]}),
    "tag delete": lambda s, aid: s.write_batch({"tags": [{"run_id": "r", "key": "old", "value": None}]}),
    "metric": lambda s, aid: s.write_batch({"metrics": [{"run_id": "r", "name": "m", "values": [1.0]}]}),
    "update": lambda s, aid: s.write_batch({"updates": [{"run_id": "r", "status": "finished"}]}),
    "artifact": lambda s, aid: s.write_batch({"artifacts": [{"run_id": "r", "name": "b", "files": [blob(s)]}]}),
    "input": lambda s, aid: s.write_batch({"inputs": [{"run_id": "r", "artifact_id": aid}]}),
    "heartbeat": lambda s, aid: s.write_batch({"heartbeat": ["r"]}),
    "add_run_input": lambda s, aid: s.add_run_input("r", aid),
    "new project": lambda s, aid: s.create_project("Fresh"),
    "new experiment": lambda s, aid: s.create_experiment("Default", "Fresh"),
    "register_model": lambda s, aid: s.register_model("Default", "model", aid),
    "project description": lambda s, aid: s.create_project("Default", description="now described"),
    "experiment description": lambda s, aid: s.create_experiment("Default", "Fresh", description="described"),
}


@pytest.mark.parametrize("write", list(WRITES.values()), ids=list(WRITES))
def test_revision_changes_after_every_kind_of_write(store, write):
    aid = _setup_for_revision(store)
    before = store.revision()
    assert store.revision() == before  # reading does not change it
    write(store, aid)
    assert store.revision() != before


# ------------------------------------------------------------------------------------------------------------------
# projects, experiments, models


def test_projects_and_experiments(store):
    store.write_batch({"runs": [{"id": "a", "project": "P", "experiments": ["E"]}, {"id": "b", "project": "P"},
                                {"id": "c", "project": "Q", "experiments": ["E"]}]})
    store.create_project("Empty", description="nothing yet")
    assert {p["name"]: (p["run_count"], p["experiment_count"]) for p in store.list_projects()} == {
        "P": (2, 1), "Q": (1, 1), "Empty": (0, 0)}
    assert store.get_project("Empty")["description"] == "nothing yet"
    exps = store.list_experiments("P")
    assert [(e["project"], e["name"], e["run_count"]) for e in exps] == [("P", "E", 1)]
    assert len(store.list_experiments()) == 2
    e = store.create_experiment("Empty", "first", "desc")
    assert (e["project"], e["name"], e["description"]) == ("Empty", "first", "desc")
    with pytest.raises(NotFound):
        store.get_project("nope")
    with pytest.raises(InvalidInput, match="control character"):
        store.create_project("bad\nname")


def test_register_model(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    store.write_batch({"artifacts": [{"run_id": "r", "name": "model", "files": [blob(store)]}]})
    aid = store.get_run("r")["artifacts"][0]["id"]
    v1 = store.register_model("P", "clf", aid, stage="staging")
    assert store.register_model("P", "clf", aid)["version"] == 1  # the same content: the same version
    store.write_batch({"artifacts": [{"run_id": "r", "name": "model", "files": [blob(store, b"retrained")]}]})
    v2 = store.register_model("P", "clf", store.get_run("r")["artifacts"][-1]["id"])
    assert (v1["version"], v1["stage"], v1["run_id"], v1["artifact_name"]) == (1, "staging", "r", "model")
    assert v2["version"] == 2
    assert [m["version"] for m in store.list_models("P")] == [2, 1]
    with pytest.raises(NotFound):
        store.register_model("P", "clf", 9999)


# ------------------------------------------------------------------------------------------------------------------
# opening stores


def test_resolve_uri(tmp_path, monkeypatch):
    folder = tmp_path / "f"
    folder.mkdir()
    loc = resolve_uri(folder)
    assert loc.kind == "sqlite" and loc.path == str(folder / "mltrack.db")
    assert loc.artifacts == str(folder / "artifacts")
    assert resolve_uri(tmp_path / "x.db").path == str(tmp_path / "x.db")
    assert resolve_uri(f"sqlite:///{tmp_path}/y.db").path == str(tmp_path / "y.db")
    assert resolve_uri(str(tmp_path / "new-folder")).path == str(tmp_path / "new-folder" / "mltrack.db")
    assert resolve_uri("http://host:8888/base/").kind == "http"
    assert resolve_uri("postgresql+psycopg://u@h/db").kind == "sql"
    with pytest.raises(InvalidInput, match="in-memory"):
        resolve_uri("sqlite://")
    with pytest.raises(InvalidInput, match="in-memory"):
        resolve_uri("sqlite:///:memory:")
    monkeypatch.setenv("MLTRACK_URI", str(folder))
    assert resolve_uri(None).path == str(folder / "mltrack.db")
    monkeypatch.delenv("MLTRACK_URI")
    assert resolve_uri(None).path == os.path.join(os.environ["MLTRACK_HOME"], "mltrack.db")
    monkeypatch.setenv("MLTRACK_ARTIFACTS", str(tmp_path / "blobs"))
    assert resolve_uri(folder).artifacts == str(tmp_path / "blobs")


def test_store_on_a_server_url_is_refused():
    with pytest.raises(InvalidInput, match="server"):
        Store("http://localhost:8888/")


def test_store_reopens_with_its_data(store_dir):
    s = Store(store_dir)
    s.write_batch({"runs": [{"id": "r"}], "params": [{"run_id": "r", "key": "k", "value": "v"}]})
    s.close()
    s2 = Store(store_dir / "mltrack.db")
    try:
        assert s2.get_run("r")["params"] == {"k": "v"}
        assert "mltrack.db" in repr(s2)
    finally:
        s2.close()


def test_schema_tables_are_all_there(store):
    from sqlalchemy import inspect

    names = set(inspect(store.engine).get_table_names())
    assert set(S.metadata.tables) <= names
    if store.engine.dialect.name == "sqlite":
        assert sql(store, "PRAGMA journal_mode") == [("wal",)]
    else:
        assert store.engine.dialect.name == "postgresql"


# ------------------------------------------------------------------------------------------------------------------
# the write path's precompiled statements (db.Statement)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 300, 700])
def test_raw_in_lists_of_any_length(store, n):
    """An IN list is padded to a power of two with its last id (and a batch's ids go in parts of 500): every id
    asked for is found, none other, and every run of a batch gets its point."""
    from jupyter_mltrack.core import schema as S
    from jupyter_mltrack.core.db import Statement, chunked, in_list

    known_runs = Statement(lambda k: S.runs.select().with_only_columns(S.runs.c.id).where(S.runs.c.id.in_(in_list(k))))
    ids = [f"r{i:04d}" for i in range(n)]
    store.write_batch({"runs": [{"id": r} for r in ids + ["decoy"]],
                       "metrics": [{"run_id": r, "name": "m", "values": [1.0]} for r in ids + ["decoy"]]})
    with store.engine.connect() as conn:
        found = []
        for part in chunked(ids):
            found += [row[0] for row in known_runs.run(conn, ids=part)]
        conn.rollback()
    assert sorted(found) == ids

    store.write_batch({"metrics": [{"run_id": r, "name": "m", "values": [float(i)]} for i, r in enumerate(ids)],
                       "heartbeat": ids})
    summaries = {r: store.get_run(r)["metrics"][0] for r in (ids[0], ids[-1], ids[len(ids) // 2], "decoy")}
    for i, r in ((0, ids[0]), (len(ids) - 1, ids[-1]), (len(ids) // 2, ids[len(ids) // 2])):
        assert (summaries[r]["count"], summaries[r]["last"], summaries[r]["last_step"]) == (2, float(i), 1)
    assert (summaries["decoy"]["count"], summaries["decoy"]["last"]) == (1, 1.0)
    assert count(store, "metric_series", "count = 2") == n
    assert count(store, "metric_chunks", "count = 2") == n

    with pytest.raises(NotFound) as e:
        store.write_batch({"heartbeat": ids + ["nope"]})
    assert str(e.value) == "unknown run: nope"


def test_a_locked_database_through_raw_is_sqlalchemys_operational_error(sqlite_store, store_dir):
    """Store.write retries OperationalError 'database is locked'; a statement run on the DBAPI cursor raises that
    same error type."""
    import sqlite3

    store = sqlite_store

    from sqlalchemy.exc import OperationalError

    from sqlalchemy import bindparam, update

    from jupyter_mltrack.core import schema as S
    from jupyter_mltrack.core.db import BUMP_REVISION, Statement, in_list, is_locked

    touch = Statement(lambda k: update(S.runs).where(S.runs.c.id.in_(in_list(k))).values(heartbeat_at=bindparam("now")))
    store.write_batch({"runs": [{"id": "r"}]})
    other = sqlite3.connect(store_dir / "mltrack.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout = 50")
            try:
                with pytest.raises(OperationalError) as e:
                    touch.run(conn, {"now": 1.0}, ids=["r"])
                assert is_locked(e.value)
                with pytest.raises(OperationalError):
                    BUMP_REVISION.run(conn)
            finally:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA busy_timeout = 60000")
                conn.rollback()
    finally:
        other.rollback()
        other.close()
    assert store.write_batch({"heartbeat": ["r"]})["runs"] == 0


def test_one_point_batches_read_back_exactly(store):
    """10,000 single-point batches (explicit steps with gaps, repeated steps, automatic steps, NaN and ±inf): the
    partial last chunk is rewritten by each, fills, and a new chunk starts; points and summary match exactly."""
    rng = np.random.default_rng(7)
    store.write_batch({"runs": [{"id": "r"}], "metrics": [
        {"run_id": "r", "name": "loss", "steps": [0, 1, 2], "values": [5.0, math.nan, -1.0]}]})
    steps, values = [0, 1, 2], [5.0, math.nan, -1.0]
    for k in range(10_000):
        v = float(rng.normal())
        if k == 4000:
            v = math.inf
        elif k == 6000:
            v = -math.inf
        elif k % 997 == 0 or k == 9_999:
            v = math.nan
        item = {"run_id": "r", "name": "loss", "values": [v]}
        if k % 5 == 0:  # no steps: after the series' last step
            steps.append(max(steps) + 1)
        else:
            repeat = k % 11 == 0 and k > 8192  # a repeated step; the first chunk's steps increase (overview)
            steps.append(max(steps) + (0 if repeat else int(rng.integers(1, 4))))
            item["steps"] = [steps[-1]]
        values.append(v)
        assert store.write_batch({"metrics": [item]})["points"] == 1
    order = np.argsort(np.array(steps), kind="stable")
    want_steps, want_values = np.array(steps)[order], np.array(values)[order]
    pts = store.get_series("r", "loss")["points"]
    assert len(pts) == 10_003
    assert np.array_equal(pts.steps, want_steps)
    assert np.array_equal(pts.values, want_values, equal_nan=True)
    m = store.get_run("r")["metrics"][0]
    finite = [x for x in values if not math.isnan(x)]
    assert m["count"] == 10_003 and m["last_step"] == max(steps)
    assert math.isnan(m["last"])  # the last point logged at the greatest step is NaN
    assert (m["min"], m["max"]) == (min(finite), max(finite)) == (-math.inf, math.inf)
    chunks = sql(store, "SELECT seq, count, step_min, step_max, overview IS NOT NULL FROM metric_chunks ORDER BY seq")
    assert [c[:2] for c in chunks] == [(0, 8192), (1, 10_003 - 8192)]
    assert [c[4] for c in chunks] == [1, 0]  # only the full chunk has an overview
    assert (chunks[0][2], chunks[0][3]) == (min(steps[:8192]), max(steps[:8192]))
    assert sql(store, "SELECT chunks, count FROM metric_series") == [(2, 10_003)]
