"""Batches delivered more than once: the same batch applied twice and three times (in the kernel's own store and
through a real server), a response lost after the store committed (the writer sends the batch again), a batch
without an id sent again, and a Conflict whose ``items`` travel through the HTTP backend so that one conflicting
param costs only itself.

One real ``jupyter server`` (a subprocess) serves the module's SQLite store; the test process opens the same file,
as a kernel does."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path

import pytest
import requests

from jupyter_mltrack.client.backend import HttpBackend, LocalBackend
from jupyter_mltrack.client.writer import Writer, WriterError
from jupyter_mltrack.core.errors import Conflict



@pytest.fixture(scope="module")
def store(module_store):
    return module_store


@pytest.fixture(scope="module")
def server(module_server):
    return module_server


@pytest.fixture(params=["embedded", "server"])
def backend(request, store):
    """The kernel's two ways to the store: the store itself, or the server over HTTP (msgpack, like the writer)."""
    if request.param == "embedded":
        return LocalBackend(store)
    server = request.getfixturevalue("server")
    return HttpBackend(server.url, server.token)


@pytest.fixture
def tag():
    return secrets.token_hex(4)


def rejected_files() -> list[Path]:
    return sorted((Path(os.environ["MLTRACK_HOME"]) / "rejected").glob("*.json"))


def full_batch(store, tag: str, batch_id: str | None) -> dict:
    """A batch using every section; the artifact it uses as an input and registers as a model exists already."""
    data = f"weights {tag}".encode()
    sha = hashlib.sha256(data).hexdigest()
    store.blobs.put_bytes(data)
    project = f"p-{tag}"
    store.write_batch({"runs": [{"id": f"{tag}-src", "project": project}],
                       "artifacts": [{"run_id": f"{tag}-src", "name": "data", "files": [
                           {"path": "w.bin", "sha256": sha, "size": len(data)}]}]})
    src_artifact = store.get_run(f"{tag}-src")["artifacts"][0]["id"]
    rid = f"{tag}-r"
    b = {
        "projects": [{"name": project, "description": "d"}],
        "experiments": [{"project": project, "name": "e"}],
        "runs": [{"id": rid, "project": project, "experiments": ["e"], "campaigns": ["c"], "status": "running"}],
        "params": [{"run_id": rid, "key": "lr", "value": 0.1}, {"run_id": rid, "key": "layers", "value": [3, 4]}],
        "tags": [{"run_id": rid, "key": "t", "value": "v"}],
        "metrics": [{"run_id": rid, "name": "loss", "values": [3.0, 2.0, 1.0], "steps": [0, 1, 2],
                     "timestamps": [1000.0, 1001.0, 1002.0]}],
        "artifacts": [{"run_id": rid, "name": "model", "type": "model",
                       "files": [{"path": "m.bin", "sha256": sha, "size": len(data)}]}],
        "inputs": [{"run_id": rid, "artifact_id": src_artifact}],
        "updates": [{"run_id": rid, "status": "finished", "end_time": time.time()}],
        "models": [{"project": project, "name": f"model-{tag}", "artifact_id": src_artifact}],
        "heartbeat": [rid],
    }
    if batch_id is not None:
        b["id"] = batch_id
    return b


def state(store, tag: str) -> dict:
    """Everything the batch wrote, as the store reads it back (ids and times left out)."""
    run = store.get_run(f"{tag}-r")
    series = store.get_series(f"{tag}-r", "loss")
    models = [m for m in store.list_models(f"p-{tag}") if m["name"] == f"model-{tag}"]
    return {
        "status": run["status"], "params": run["params"], "tags": run["tags"], "experiments": run["experiments"],
        "campaigns": run["campaigns"],
        "metrics": [(m["key"], m["count"], m["last"]) for m in run["metrics"]],
        "points": (series["total_count"], series["points"].steps.tolist(), series["points"].values.tolist()),
        "artifacts": [(a["name"], a["version"], [f["path"] for f in a["files"]]) for a in run["artifacts"]],
        "inputs": len(run["inputs"]),
        "models": [len(m.get("versions", [])) or m.get("latest_version") for m in models],
        "projects": sum(p["name"] == f"p-{tag}" for p in store.list_projects()),
        "experiments_of_project": [e["name"] for e in store.list_experiments(f"p-{tag}")],
    }


ONCE = {
    "status": "finished", "params": {"lr": 0.1, "layers": [3, 4]}, "tags": {"t": "v"}, "experiments": ["e"],
    "campaigns": ["c"], "metrics": [("loss", 3, 1.0)], "points": (3, [0, 1, 2], [3.0, 2.0, 1.0]),
    "artifacts": [("model", 1, ["m.bin"])], "inputs": 1, "projects": 1, "experiments_of_project": ["e"],
}


@pytest.mark.parametrize("times", [2, 3])
def test_the_same_batch_delivered_again_is_applied_once(times, backend, store, tag):
    b = full_batch(store, tag, f"session-{tag}-1")
    first = backend.write(json.loads(json.dumps(b)))
    assert first == {"projects": 1, "experiments": 1, "campaigns": 0, "runs": 1, "params": 2, "tags": 1, "points": 3,
                     "artifacts": 1, "figures": 0,
                     "inputs": 1, "updates": 1, "models": 1, "registered": first["registered"], "datasets": 0,
                     "aliases": 0, "stages": 0}
    assert [r["version"] for r in first["registered"]] == [1]
    once = state(store, tag)
    assert {k: once[k] for k in ONCE} == ONCE
    for _ in range(times - 1):
        again = backend.write(json.loads(json.dumps(b)))
        assert again == {**first, "duplicate": True}
        assert state(store, tag) == once


def test_a_batch_sent_again_over_plain_json_is_applied_once(server, store, tag):
    b = full_batch(store, tag, f"json-{tag}-1")
    answers = []
    for _ in range(3):
        r = requests.post(server.api + "batch", json=b, headers=server.headers, timeout=30)
        assert r.status_code == 200, r.text
        answers.append(r.json()["written"])
    assert "duplicate" not in answers[0]
    assert answers[1] == answers[2] == {**answers[0], "duplicate": True}
    assert {k: v for k, v in state(store, tag).items() if k in ONCE} == ONCE


def test_a_batch_without_an_id_declaring_its_run_again_is_accepted(backend, store, tag):
    """Without an id nothing tells a copy from a new batch: the run and its same params are nothing new, the
    points are appended again — and nothing is refused (the run exists now: its params are compared, not
    inserted twice)."""
    rid = f"{tag}-r"
    b = {"runs": [{"id": rid, "project": f"p-{tag}"}],
         "params": [{"run_id": rid, "key": "lr", "value": 0.1}, {"run_id": rid, "key": "n", "value": 3}],
         "metrics": [{"run_id": rid, "name": "m", "values": [1.0, 2.0], "steps": [0, 1], "timestamps": [5.0, 6.0]}]}
    first = backend.write(json.loads(json.dumps(b)))
    assert (first["runs"], first["params"], first["points"]) == (1, 2, 2)
    for n in (2, 3):
        again = backend.write(json.loads(json.dumps(b)))
        assert (again["runs"], again["params"], again["points"]) == (0, 0, 2)
        assert store.get_run(rid)["params"] == {"lr": 0.1, "n": 3}
        assert store.get_series(rid, "m")["total_count"] == 2 * n
    # a new param with the re-declared run is added; a different value is still refused
    assert backend.write({"runs": [{"id": rid}], "params": [{"run_id": rid, "key": "extra", "value": "x"}]})[
        "params"] == 1
    with pytest.raises(Conflict):
        backend.write({"runs": [{"id": rid}], "params": [{"run_id": rid, "key": "lr", "value": 0.5}]})
    assert store.get_run(rid)["params"] == {"lr": 0.1, "n": 3, "extra": "x"}


class LostResponse:
    """The real backend, whose first ``losses`` answers are lost after the store applied the batch (a timeout, a
    dropped connection): the writer cannot tell and sends the batch again."""

    def __init__(self, target, losses: int):
        self.target = target
        self.losses = losses
        self.answers: list[dict] = []
        self.ids: list[str] = []

    def write(self, batch):
        self.ids.append(batch.get("id"))
        answer = self.target.write(batch)
        self.answers.append(answer)
        if self.losses > 0:
            self.losses -= 1
            raise ConnectionResetError("connection reset by peer (the answer was lost)")
        return answer

    def __getattr__(self, name):
        return getattr(self.target, name)


@pytest.mark.parametrize("losses", [1, 2])
def test_a_lost_response_is_resent_and_applied_once(losses, backend, store, tag):
    rid = f"{tag}-r"
    sink = LostResponse(backend, losses)
    w = Writer(sink, interval=60)
    try:
        w.add("runs", {"id": rid, "project": f"p-{tag}", "status": "running", "start_time": time.time()})
        w.add("params", {"run_id": rid, "key": "lr", "value": 0.1})
        w.add("tags", {"run_id": rid, "key": "t", "value": "v"})
        buf = w.series(rid, "loss", "{}")
        for i in range(100):
            w.add_point(buf, None, float(i), 1000.0 + i)
        w.flush(timeout=30)
    finally:
        w.close(timeout=10)
    assert len(sink.ids) == losses + 1 and len(set(sink.ids)) == 1 and sink.ids[0]  # one batch, sent again
    assert [a.get("duplicate", False) for a in sink.answers] == [False] + [True] * losses
    assert w.stats["retries"] == losses
    assert w.stats["duplicates"] == 1  # the answer that arrived said "duplicate"
    run = store.get_run(rid)
    assert run["params"] == {"lr": 0.1} and run["tags"] == {"t": "v"}
    assert store.get_series(rid, "loss")["points"].values.tolist() == [float(i) for i in range(100)]
    assert rejected_files() == []
    assert not w.unreported  # nothing was lost, nothing to raise


def test_a_conflict_through_the_http_backend_costs_only_the_conflicting_params(server, store, tag):
    rid = f"{tag}-r"
    store.write_batch({"runs": [{"id": rid, "project": f"p-{tag}"}],
                       "params": [{"run_id": rid, "key": "lr", "value": 0.2}, {"run_id": rid, "key": "seed", "value": 1}]})
    http = HttpBackend(server.url, server.token)
    # the error itself carries every conflict
    with pytest.raises(Conflict) as e:
        http.write({"params": [{"run_id": rid, "key": "lr", "value": 0.1}, {"run_id": rid, "key": "seed", "value": 2},
                               {"run_id": rid, "key": "fine", "value": 3}]})
    assert e.value.items == [{"run_id": rid, "key": "lr", "stored": "0.2", "value": "0.1"},
                             {"run_id": rid, "key": "seed", "stored": "1", "value": "2"}]
    # through the writer: the conflicting params are saved aside, every other item is stored
    w = Writer(http, interval=60)
    try:
        w.add("params", {"run_id": rid, "key": "lr", "value": 0.1})
        w.add("params", {"run_id": rid, "key": "other", "value": "kept"})
        w.add("params", {"run_id": rid, "key": "more", "value": [1, 2]})
        w.add("tags", {"run_id": rid, "key": "t", "value": "v"})
        with pytest.raises(WriterError, match=r"param 'lr' of run \S+ is already 0\.2.*saved to") as raised:
            w.flush(timeout=30)
    finally:
        w.close(timeout=10)
    run = store.get_run(rid)
    assert run["params"] == {"lr": 0.2, "seed": 1, "other": "kept", "more": [1, 2]}
    assert run["tags"] == {"t": "v"}
    files = rejected_files()
    assert len(files) == 1
    assert json.loads(files[0].read_text()) == [{"run_id": rid, "key": "lr", "value": 0.1}]
    assert str(files[0]) in str(raised.value)
    assert len(w.errors) == 1
