"""core/run_writes.finish_runs: what a batch does to the runs it writes besides its items — the stored run-table
fragment (cleared when the run changes, rebuilt when it ends), ``updated_at`` and the heartbeat."""

from __future__ import annotations

import time

import pytest

from ._helpers import execute, sql


def _fragment(store, run_id):
    return sql(store, "SELECT table_row FROM runs WHERE id = :r", r=run_id)[0][0]


def _row(store, run_id):
    table = store.run_table()
    i = [b[0] for b in table["base"]].index(run_id)
    return table["params"][i], table["tags"][i]


@pytest.mark.parametrize("section", ["params", "tags"])
def test_a_later_param_or_tag_reaches_the_stored_fragment(store, section):
    """A finished run's fragment is stored; a param or a tag written to it afterwards (nothing else in the batch)
    must clear it, or the run table goes on showing the old one."""
    store.write_batch({"runs": [{"id": "r", "project": "P", "status": "finished"}],
                       "params": [{"run_id": "r", "key": "p", "value": 1}]})
    assert '"p":1' in _fragment(store, "r")
    item = {"run_id": "r", "key": "late", "value": "yes" if section == "tags" else 2}
    store.write_batch({section: [item]})
    params, tags = _row(store, "r")
    assert (params, tags) == (({"p": 1, "late": 2}, {}) if section == "params" else ({"p": 1}, {"late": "yes"}))


def test_a_later_metric_reaches_the_stored_fragment(store):
    store.write_batch({"runs": [{"id": "r", "project": "P", "status": "finished"}],
                       "metrics": [{"run_id": "r", "name": "m", "values": [1.0]}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "values": [2.0], "steps": [1]}]})
    table = store.run_table()
    assert table["metrics"][0] == {"m": 2.0}


def test_every_run_a_batch_writes_is_marked_updated(store):
    store.write_batch({"runs": [{"id": "r", "project": "P", "status": "finished"}, {"id": "q", "project": "P"}]})
    execute(store, "UPDATE runs SET updated_at = 1")
    for batch in ({"tags": [{"run_id": "r", "key": "t", "value": "v"}]},
                  {"params": [{"run_id": "r", "key": "p", "value": 1}]},
                  {"metrics": [{"run_id": "r", "name": "m", "values": [1.0]}]},
                  {"artifacts": [{"run_id": "r", "name": "a", "files": []}]},
                  {"updates": [{"run_id": "r", "status": "failed"}]}):
        execute(store, "UPDATE runs SET updated_at = 1 WHERE id = 'r'")
        before = time.time()
        store.write_batch(batch)
        (updated,), = sql(store, "SELECT updated_at FROM runs WHERE id = 'r'")
        assert updated >= before - 1, batch
    assert sql(store, "SELECT updated_at FROM runs WHERE id = 'q'") == [(1,)]  # not written: left alone


def test_only_the_heartbeat_section_sets_a_heartbeat(store):
    """A batch that logs to a running run without a heartbeat (another process, a late flush) does not make it
    look alive: only the runs named in ``heartbeat`` get one."""
    store.write_batch({"runs": [{"id": "r", "project": "P"}, {"id": "q", "project": "P"}]})
    execute(store, "UPDATE runs SET heartbeat_at = 5")
    store.write_batch({"tags": [{"run_id": "r", "key": "t", "value": "v"}],
                       "metrics": [{"run_id": "q", "name": "m", "values": [1.0]}]})
    assert sql(store, "SELECT id, heartbeat_at FROM runs ORDER BY id") == [("q", 5), ("r", 5)]
    before = time.time()
    store.write_batch({"heartbeat": ["r"], "metrics": [{"run_id": "q", "name": "m", "values": [2.0], "steps": [1]}]})
    (q_beat,), (r_beat,) = sql(store, "SELECT heartbeat_at FROM runs ORDER BY id")
    assert q_beat == 5 and r_beat >= before - 1
    store.write_batch({"artifacts": [{"run_id": "q", "name": "a", "files": []}]})
    store.write_batch({"updates": [{"run_id": "q", "status": "finished"}]})  # the end of a run is not a heartbeat
    assert sql(store, "SELECT heartbeat_at FROM runs WHERE id = 'q'") == [(5,)]


def test_a_family_listed_children_first_is_written_parents_first(store):
    store.write_batch({"runs": [{"id": "grandkid", "parent_id": "kid"}, {"id": "kid", "parent_id": "dad"},
                                {"id": "dad"}, {"id": "sibling", "parent_id": "dad"}]})
    assert sorted(store.get_run("dad")["children"]) == ["kid", "sibling"]
    assert store.get_run("kid")["children"] == ["grandkid"]
    assert store.get_run("grandkid")["parent_id"] == "kid"


def test_a_batch_sent_again_is_answered_with_the_first_counts(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    batch = {"id": "once", "params": [{"run_id": "r", "key": "p", "value": 1}],
             "metrics": [{"run_id": "r", "name": "m", "values": [1.0, 2.0]}]}
    first = store.write_batch(batch)
    again = store.write_batch(batch)
    assert again == {**first, "duplicate": True}
    assert again["params"] == 1 and again["points"] == 2
    assert store.get_series("r", "m")["total_count"] == 2


def test_a_conflict_lists_every_conflicting_param(store):
    from jupyter_mltrack.core.errors import Conflict

    store.write_batch({"runs": [{"id": "r", "project": "P"}, {"id": "q", "project": "P"}],
                       "params": [{"run_id": "r", "key": "a", "value": 1}, {"run_id": "q", "key": "b", "value": "x"}]})
    with pytest.raises(Conflict) as e:
        store.write_batch({"params": [{"run_id": "r", "key": "a", "value": 2}, {"run_id": "q", "key": "b", "value": "y"},
                                      {"run_id": "q", "key": "c", "value": 3}]})
    assert str(e.value) == ("param 'a' of run r is already 1; params are immutable, cannot set it to 2 "
                            "(and 1 more conflicts)")
    assert e.value.items == [{"run_id": "r", "key": "a", "stored": "1", "value": "2"},
                             {"run_id": "q", "key": "b", "stored": '"x"', "value": '"y"'}]
    assert "c" not in store.get_run("q")["params"]  # the batch was refused whole


def test_the_same_param_value_written_differently_is_no_conflict(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "params": [{"run_id": "r", "key": "cfg", "value": {"a": 1, "b": [1.5, "x"]}}]})
    store.write_batch({"params": [{"run_id": "r", "key": "cfg", "value": {"b": [1.5, "x"], "a": 1}}]})
    assert store.get_run("r")["params"]["cfg"] == {"a": 1, "b": [1.5, "x"]}


def test_a_number_written_as_an_integer_or_a_float_is_the_same_param(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}], "params": [{"run_id": "r", "key": "lr", "value": 1}]})
    store.write_batch({"params": [{"run_id": "r", "key": "lr", "value": 1.0}]})  # the same number: no conflict
    assert store.get_run("r")["params"]["lr"] == 1


def test_two_values_of_one_param_in_one_batch_are_a_conflict_naming_the_run(store):
    from jupyter_mltrack.core.errors import Conflict

    store.write_batch({"runs": [{"id": "run-a", "project": "P"}]})
    with pytest.raises(Conflict) as e:
        store.write_batch({"params": [{"run_id": "run-a", "key": "k", "value": 1},
                                      {"run_id": "run-a", "key": "k", "value": 2}]})
    assert e.value.items == [{"run_id": "run-a", "key": "k", "stored": "1", "value": "2"}]


def test_deleting_a_tag_deletes_it_from_its_run_only(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}, {"id": "q", "project": "P"}],
                       "tags": [{"run_id": "r", "key": "t", "value": "1"}, {"run_id": "q", "key": "t", "value": "2"}]})
    store.write_batch({"tags": [{"run_id": "r", "key": "t", "value": None}]})
    assert (store.get_run("r")["tags"], store.get_run("q")["tags"]) == ({}, {"t": "2"})


def _blob(store, data: bytes, path: str = "f.bin") -> dict:
    sha, size = store.blobs.put_bytes(data)
    return {"path": path, "sha256": sha, "size": size}


def test_artifact_versions_count_per_run_and_name(store):
    store.write_batch({"runs": [{"id": r, "project": "P"} for r in ("a", "b", "c")]})
    f = _blob(store, b"weights")
    store.write_batch({"artifacts": [{"run_id": "a", "name": "model", "files": [f]},
                                     {"run_id": "b", "name": "model", "files": [f]},
                                     {"run_id": "b", "name": "model", "files": [f]},
                                     {"run_id": "a", "name": "data", "files": [f]}]})
    store.write_batch({"artifacts": [{"run_id": "a", "name": "model", "type": "model", "files": [f]},
                                     {"run_id": "a", "name": "data", "files": [f]},
                                     {"run_id": "c", "name": "model", "files": [f]},
                                     {"run_id": "b", "name": "other", "files": [f]}]})
    store.write_batch({"artifacts": [{"run_id": "a", "name": "data", "files": [f]}]})
    versions = {(r, a["name"], a["version"], a["type"]) for r in ("a", "b", "c") for a in store.get_run(r)["artifacts"]}
    assert versions == {("a", "model", 1, ""), ("a", "model", 2, "model"), ("a", "data", 1, ""), ("a", "data", 2, ""),
                        ("a", "data", 3, ""),
                        ("b", "model", 1, ""), ("b", "model", 2, ""), ("b", "other", 1, ""), ("c", "model", 1, "")}


def test_a_file_refused_at_write_is_named_with_its_sha256(store):
    from jupyter_mltrack.core.errors import InvalidInput, NotFound

    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    f = _blob(store, b"12345", "w.bin")
    with pytest.raises(InvalidInput) as e:
        store.write_batch({"artifacts": [{"run_id": "r", "name": "model", "files": [{**f, "size": 4}]}]})
    assert str(e.value) == (f"batch: artifact 'model': file 'w.bin' has size 4 but its uploaded bytes "
                            f"(sha256 {f['sha256'][:12]}…) are 5 bytes")
    missing = "ab" * 32
    with pytest.raises(NotFound) as e:
        store.write_batch({"artifacts": [{"run_id": "r", "name": "model",
                                          "files": [{"path": "x.bin", "sha256": missing, "size": 1}]}]})
    assert str(e.value) == "artifact 'model': file 'x.bin' (sha256 abababababab…) has not been uploaded"
    assert store.get_run("r")["artifacts"] == []


def test_batch_ids_are_forgotten_after_the_retention_only(store):
    from jupyter_mltrack.core.run_writes import APPLIED_RETENTION, prune_applied

    store.write_batch({"id": "old", "runs": [{"id": "r", "project": "P"}]})
    store.write_batch({"id": "edge", "tags": [{"run_id": "r", "key": "t", "value": "1"}]})
    store.write_batch({"id": "new", "tags": [{"run_id": "r", "key": "t", "value": "2"}]})
    now = 10 * APPLIED_RETENTION
    execute(store, "UPDATE applied_batches SET applied_at = :t WHERE id = 'old'", t=now - APPLIED_RETENTION - 1)
    execute(store, "UPDATE applied_batches SET applied_at = :t WHERE id = 'edge'", t=now - APPLIED_RETENTION)
    execute(store, "UPDATE applied_batches SET applied_at = :t WHERE id = 'new'", t=now - 1)
    assert store.db.write(lambda conn: prune_applied(conn, now)) == 1
    assert sorted(x[0] for x in sql(store, "SELECT id FROM applied_batches")) == ["edge", "new"]
    assert store.db.write(lambda conn: prune_applied(conn, now)) == 0


def test_unknown_runs_are_named_ten_at_most(store):
    from jupyter_mltrack.core.errors import NotFound

    ids = [f"ghost{i:02d}" for i in range(12)]
    with pytest.raises(NotFound) as e:
        store.write_batch({"tags": [{"run_id": r, "key": "t", "value": "v"} for r in ids]})
    assert str(e.value) == "unknown runs: " + ", ".join(ids[:10])
    with pytest.raises(NotFound) as e:
        store.write_batch({"tags": [{"run_id": "ghost", "key": "t", "value": "v"}]})
    assert str(e.value) == "unknown run: ghost"


def test_a_child_of_a_run_written_earlier(store):
    store.write_batch({"runs": [{"id": "dad", "project": "P"}]})
    store.write_batch({"runs": [{"id": "kid", "project": "P", "parent_id": "dad"}]})
    assert store.get_run("dad")["children"] == ["kid"]


def test_unknown_parents_are_named(store):
    from jupyter_mltrack.core.errors import NotFound

    with pytest.raises(NotFound) as e:
        store.write_batch({"runs": [{"id": "kid", "project": "P", "parent_id": "ghost"}]})
    assert str(e.value) == "unknown parent run: ghost"
    parents = [f"p{i:02d}" for i in range(12)]
    with pytest.raises(NotFound) as e:
        store.write_batch({"runs": [{"id": f"k{i:02d}", "project": "P", "parent_id": p}
                                    for i, p in enumerate(parents)]})
    assert str(e.value) == "unknown parent runs: " + ", ".join(parents[:10])
    with pytest.raises(NotFound) as e:
        store.write_batch({"runs": [{"id": "k1", "project": "P", "parent_id": "g1"},
                                    {"id": "k2", "project": "P", "parent_id": "g2"}]})
    assert str(e.value) == "unknown parent runs: g1, g2"


def test_a_run_written_with_its_id_only_has_empty_texts(store):
    store.write_batch({"runs": [{"id": "bare"}]})
    run = store.get_run("bare")
    assert (run["name"], run["user"], run["source"], run["description"], run["status"]) == ("", "", "", "", "running")


def test_a_batch_with_a_heartbeat_and_writes_for_a_running_run(store):
    """Its heartbeat is set and its stored fragment cleared: both, in one statement."""
    store.write_batch({"runs": [{"id": f"r{i:03d}", "project": "P"} for i in range(100)]})  # a bulk import: stored
    assert all(row[0] for row in sql(store, "SELECT table_row FROM runs"))
    execute(store, "UPDATE runs SET heartbeat_at = 5")
    store.write_batch({"heartbeat": ["r000"], "tags": [{"run_id": "r000", "key": "t", "value": "v"}]})
    (beat,), = sql(store, "SELECT heartbeat_at FROM runs WHERE id = 'r000'")
    assert beat > 5
    i = [b[0] for b in store.run_table()["base"]].index("r000")
    assert store.run_table()["tags"][i] == {"t": "v"}


def test_a_bulk_import_of_exactly_the_threshold_stores_its_fragments(store):
    from jupyter_mltrack.core.fragments import PERSIST_STALE

    store.write_batch({"runs": [{"id": f"r{i:03d}", "project": "P"} for i in range(PERSIST_STALE - 1)]})
    assert sql(store, "SELECT count(*) FROM runs WHERE table_row != ''") == [(0,)]  # below it: left to readers
    store.write_batch({"runs": [{"id": f"s{i:03d}", "project": "P"} for i in range(PERSIST_STALE)],
                       "updates": [{"run_id": "r000", "status": "finished"}]})
    stored = {x[0] for x in sql(store, "SELECT id FROM runs WHERE table_row != ''")}
    assert stored == {f"s{i:03d}" for i in range(PERSIST_STALE)} | {"r000"}


def test_one_param_conflict_is_named_alone(store):
    from jupyter_mltrack.core.errors import Conflict

    store.write_batch({"runs": [{"id": "r", "project": "P"}], "params": [{"run_id": "r", "key": "a", "value": 1}]})
    with pytest.raises(Conflict) as e:
        store.write_batch({"params": [{"run_id": "r", "key": "a", "value": 2}]})
    assert str(e.value) == "param 'a' of run r is already 1; params are immutable, cannot set it to 2"


def test_a_large_batch_declaring_runs_that_exist_still_checks_their_params(store):
    """More runs than one IN list holds (500): every one that exists is known as existing, so a param that
    conflicts with its stored value is refused whatever list it fell in."""
    ids = [f"r{i:04d}" for i in range(600)]
    store.write_batch({"runs": [{"id": r, "project": "P"} for r in ids],
                       "params": [{"run_id": r, "key": "seed", "value": 1} for r in ids]})
    from jupyter_mltrack.core.errors import Conflict

    with pytest.raises(Conflict) as e:
        store.write_batch({"runs": [{"id": r, "project": "P"} for r in ids],
                           "params": [{"run_id": "r0000", "key": "seed", "value": 2}]})
    assert e.value.items == [{"run_id": "r0000", "key": "seed", "stored": "1", "value": "2"}]
    assert store.get_run("r0000")["params"] == {"seed": 1}


def test_a_cycle_of_parents_in_one_batch_is_refused(store):
    from jupyter_mltrack.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        store.write_batch({"runs": [{"id": "a", "parent_id": "b"}, {"id": "b", "parent_id": "a"}]})
    assert store.search_runs()[1] == 0


def test_a_batch_setting_model_and_dataset_aliases_counts_both(store):
    sha, size = store.blobs.put_bytes(b"weights")
    store.write_batch({"runs": [{"id": "m", "project": "P"}],
                       "artifacts": [{"run_id": "m", "name": "model", "type": "model", "metadata": {"flavor": "joblib"},
                                      "files": [{"path": "model.joblib", "sha256": sha, "size": size}]}]})
    store.register_model("P", "house", store.get_run("m")["artifacts"][0]["id"])
    store.write_batch({"runs": [{"id": "d", "project": "P"}],
                       "datasets": [{"project": "P", "name": "data", "run_id": "d", "kind": "file",
                                     "files": [{"path": "data.csv", "sha256": sha, "size": size}]}]})
    out = store.write_batch({"aliases": [
        {"project": "P", "model": "house", "alias": "champion", "version": 1},
        {"project": "P", "dataset": "data", "alias": "prod", "version": 1},
        {"project": "P", "dataset": "data", "alias": "latest", "version": 1},
    ]})
    assert out["aliases"] == 3
    assert store.list_models("P", name="house")[0]["aliases"] == ["champion"]
    assert sorted(store.list_datasets("P", "data")[0]["aliases"]) == ["latest", "prod"]
