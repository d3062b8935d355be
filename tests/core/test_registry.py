"""The model registry in the store: versions by content, aliases moved atomically, stages, references — on SQLite
and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from jupyter_mltrack.core.errors import Conflict, InvalidInput, NotFound

from ._helpers import sql


def artifact(store, run_id: str, data: bytes, name: str = "model", project: str = "P") -> int:
    sha, size = store.blobs.put_bytes(data)
    store.write_batch({"runs": [{"id": run_id, "project": project}],
                       "artifacts": [{"run_id": run_id, "name": name, "type": "model", "metadata": {"flavor": "joblib"},
                                      "files": [{"path": "model.joblib", "sha256": sha, "size": size}]}]})
    return [a for a in store.get_run(run_id)["artifacts"] if a["name"] == name][-1]["id"]


def test_the_same_bytes_registered_twice_are_one_version(store):
    a1 = artifact(store, "r1", b"weights-1")
    a2 = artifact(store, "r2", b"weights-1")  # another run, the same bytes under the same name
    a3 = artifact(store, "r3", b"weights-2")
    v1 = store.register_model("P", "house", a1)
    again = store.register_model("P", "house", a2)
    v2 = store.register_model("P", "house", a3)
    assert (v1["version"], again["version"], v2["version"]) == (1, 1, 2)
    assert again["run_id"] == "r1" and v1["flavor"] == "joblib"
    assert sql(store, "SELECT count(*) FROM model_versions")[0][0] == 2
    # another model may hold the same bytes as its own version 1
    assert store.register_model("P", "other", a1)["version"] == 1


def test_aliases_point_at_one_version_and_move(store):
    for i in (1, 2, 3):
        store.register_model("P", "house", artifact(store, f"r{i}", b"w%d" % i))
    v = store.set_alias("P", "house", "champion", 1)
    assert (v["version"], v["aliases"]) == (1, ["champion"])
    store.set_alias("P", "house", "challenger", 3)
    moved = store.set_alias("P", "house", "champion", 2)
    assert moved["version"] == 2
    by_version = {m["version"]: m["aliases"] for m in store.list_models("P", name="house")}
    assert by_version == {3: ["challenger"], 2: ["champion"], 1: []}
    assert sql(store, "SELECT count(*) FROM model_aliases WHERE alias = 'champion'")[0][0] == 1
    assert store.resolve_model("house@champion")["version"] == 2
    assert store.resolve_model("house@1", "P")["version"] == 1
    assert store.resolve_model("house")["version"] == 3  # a bare name: the newest version
    assert store.set_alias("P", "house", "champion", None) is None
    with pytest.raises(NotFound, match="no alias 'champion'"):
        store.resolve_model("house@champion")


def test_alias_and_stage_refusals_name_the_field(store):
    store.register_model("P", "house", artifact(store, "r1", b"w"))
    with pytest.raises(NotFound, match="no version 7"):
        store.set_alias("P", "house", "champion", 7)
    with pytest.raises(NotFound, match="no model 'nope'"):
        store.set_alias("P", "nope", "champion", 1)
    with pytest.raises(InvalidInput, match="alias '3' must not be a number"):
        store.set_alias("P", "house", "3", 1)
    with pytest.raises(InvalidInput, match="must not contain '@'"):
        store.set_alias("P", "house", "a@b", 1)
    with pytest.raises(InvalidInput, match="exactly one of 'model' and 'dataset'"):
        store.write_batch({"aliases": [{"project": "P", "alias": "x", "version": 1}]})
    with pytest.raises(InvalidInput, match="stages.stage"):
        store.set_stage("P", "house", 1, "s" * 51)
    with pytest.raises(NotFound, match="no version 2"):
        store.set_stage("P", "house", 2, "production")
    assert store.set_stage("P", "house", 1, "production")["stage"] == "production"
    with pytest.raises(InvalidInput, match="model reference"):
        store.resolve_model(3)


def test_a_name_in_two_projects_needs_its_project(store):
    store.register_model("P", "house", artifact(store, "r1", b"w1", project="P"))
    store.register_model("Q", "house", artifact(store, "r2", b"w2", project="Q"))
    with pytest.raises(InvalidInput, match=r"several projects \(P, Q\)"):
        store.resolve_model("house")
    assert store.resolve_model("house", "Q")["run_id"] == "r2"


def test_concurrent_alias_moves_leave_one_version(store):
    for i in (1, 2, 3, 4):
        store.register_model("P", "house", artifact(store, f"r{i}", b"w%d" % i))
    errors = []

    def move(v):
        try:
            for _ in range(5):
                store.set_alias("P", "house", "champion", v)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=move, args=(v,)) for v in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sql(store, "SELECT count(*) FROM model_aliases")[0][0] == 1
    assert sum("champion" in m["aliases"] for m in store.list_models("P")) == 1


def test_a_run_input_closing_a_cycle_is_refused(store):
    a1 = artifact(store, "r1", b"a", name="out")
    store.write_batch({"runs": [{"id": "r2", "project": "P"}], "inputs": [{"run_id": "r2", "artifact_id": a1}]})
    a2 = artifact(store, "r2", b"b", name="out2")
    with pytest.raises(Conflict, match="run r1 cannot use artifact .* descends from it"):
        store.add_run_input("r1", a2)
    with pytest.raises(Conflict, match="that run itself"):
        store.add_run_input("r1", a1)
    assert sql(store, "SELECT count(*) FROM run_inputs")[0][0] == 1


def test_two_stores_registering_at_once_agree_on_versions(store_uri):
    """Two stores on one database (two server processes, say), each with its own write thread, register the same
    bytes and new bytes at the same time: one version per content, numbered without gaps or collisions."""
    from jupyter_mltrack.core.store import Store

    stores = [Store(store_uri), Store(store_uri)]
    try:
        same = artifact(stores[0], "r0", b"same")
        others = [artifact(stores[0], f"r{i}", b"w%d" % i) for i in range(1, 9)]
        errors: list[Exception] = []
        barrier = threading.Barrier(2)

        def work(k):
            try:
                barrier.wait()
                for aid in [same] + others[k::2]:
                    stores[k].register_model("P", "house", aid)
                    stores[k].write_batch({"runs": [{"id": f"d{k}{aid}", "project": "P"}], "datasets": [
                        {"project": "P", "name": "d", "run_id": f"d{k}{aid}", "kind": "file",
                         "files": stores[k].get_artifact(aid)["files"]}]})
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        versions = sorted(m["version"] for m in stores[0].list_models("P", name="house"))
        assert versions == list(range(1, 10))
        assert sorted(d["version"] for d in stores[0].list_datasets("P", "d")) == list(range(1, 10))
    finally:
        for s in stores:
            s.close()
