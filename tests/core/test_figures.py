"""core/figures.py on SQLite and PostgreSQL: a figures item writes its artifact and its row in the batch's
transaction; listing groups by name and context, orders steps (no step first), reads a step logged again as its
newest; figure artifacts stay out of the run's artifacts; a retried batch adds nothing."""

from __future__ import annotations

import hashlib

import pytest

from jupyter_mltrack.core.errors import NotFound


def _file(store, data: bytes, path: str = "image.png") -> dict:
    sha, size = store.blobs.put_bytes(data)
    return {"path": path, "sha256": sha, "size": size, "media_type": "image/png"}


def test_figures_written_and_listed(store):
    a, b, c = (_file(store, x) for x in (b"one", b"two", b"three"))
    store.write_batch({"runs": [{"id": "r1"}], "artifacts": [
        {"run_id": "r1", "name": "weights", "files": [_file(store, b"w", "w.bin")]}]})
    store.write_batch({"id": "fig-1", "figures": [
        {"run_id": "r1", "name": "samples", "kind": "image", "step": 5, "files": [a]},
        {"run_id": "r1", "name": "samples", "kind": "image", "step": 1, "files": [b]},
        {"run_id": "r1", "name": "samples", "kind": "image", "step": None, "files": [c]},
        {"run_id": "r1", "name": "samples", "kind": "image", "step": 1, "context": {"subset": "val"}, "files": [a]},
    ]})
    store.write_batch({"figures": [{"run_id": "r1", "name": "samples", "kind": "image", "step": 5, "files": [c]}]})
    again = store.write_batch({"id": "fig-1", "figures": [
        {"run_id": "r1", "name": "samples", "kind": "image", "step": 9, "files": [a]}]})
    assert again["duplicate"] is True  # a retried batch adds no figure

    figs = store.list_figures("r1")
    assert [(f["key"], f["kind"]) for f in figs] == [("samples", "image"), ("samples[subset=val]", "image")]
    steps = figs[0]["steps"]
    assert [s["step"] for s in steps] == [None, 1, 5]
    shas = {s["step"]: store.artifact_file(s["artifact_id"], "image.png")["sha256"] for s in steps}
    assert shas == {None: c["sha256"], 1: b["sha256"], 5: c["sha256"]}  # step 5 logged again: the newest
    assert steps[2]["files"][0]["url"] == f"artifacts/{steps[2]['artifact_id']}/files/image.png"
    assert figs[1]["context"] == {"subset": "val"}
    run = store.get_run("r1")
    assert [x["name"] for x in run["artifacts"]] == ["weights"]
    art = store.get_artifact(steps[0]["artifact_id"])
    assert (art["type"], art["metadata"]["figure"], art["metadata"]["step"]) == ("figure", "image", None)


def test_figures_of_unknown_runs(store):
    with pytest.raises(NotFound, match="no run 'ghost'"):
        store.list_figures("ghost")
    with pytest.raises(NotFound, match="unknown run"):
        store.write_batch({"figures": [{"run_id": "ghost", "name": "x", "kind": "image",
                                        "files": [_file(store, b"x")]}]})
    with pytest.raises(NotFound, match="has not been uploaded"):
        store.write_batch({"runs": [{"id": "r2"}], "figures": [{"run_id": "r2", "name": "x", "kind": "image", "files": [
            {"path": "image.png", "sha256": hashlib.sha256(b"never").hexdigest(), "size": 5}]}]})
    with pytest.raises(NotFound, match="no run 'r2'"):  # the refused batch created nothing
        store.list_figures("r2")
