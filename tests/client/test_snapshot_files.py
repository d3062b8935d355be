"""What goes into a stored snapshot: the live document (when the frontend sends it), slimmed of widget state and
oversized outputs, plus an artifact of the run's own cell when it is tagged ``mltrack-artifact``."""

from __future__ import annotations

import base64
import json

import nbformat

from jupyter_mltrack.client import notebook as N

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


def _nb_bytes():
    nb = nbformat.v4.new_notebook()
    plot = nbformat.v4.new_code_cell("plot()")
    plot.metadata["tags"] = ["mltrack-artifact"]
    plot.metadata["mltrack_name"] = "loss-curve"
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    table = nbformat.v4.new_code_cell("df")
    table.metadata["tags"] = ["mltrack-artifact"]
    table.outputs = [nbformat.v4.new_output("execute_result", data={"text/html": "<table></table>", "text/plain": "df"},
                                            execution_count=2)]
    huge = nbformat.v4.new_code_cell("big()")
    huge.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "x" * (N.MAX_OUTPUT_BYTES + 10)})]
    nb.cells = [nbformat.v4.new_markdown_cell("# unsaved title"), plot, table, huge]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"m": {"plotly": "x" * 1000}}}}
    return nbformat.writes(nb).encode()


def test_slim_notebook_drops_widget_state_and_huge_outputs():
    raw = _nb_bytes()
    slim = json.loads(N.slim_notebook(raw))
    assert "widgets" not in slim["metadata"]
    assert "left out of this snapshot" in slim["cells"][3]["outputs"][0]["data"]["text/plain"]
    assert slim["cells"][1]["outputs"][0]["data"]["image/png"] == PNG
    assert len(N.slim_notebook(raw)) < len(raw) / 10
    assert N.slim_notebook(b"not json") == b"not json"


def test_tagged_cells_become_artifacts():
    arts = {name: (dict(files), meta) for name, files, meta in N.tagged_outputs(_nb_bytes())}
    assert set(arts) == {"loss-curve", "cell-3"}
    files, meta = arts["loss-curve"]
    assert files["output-1.png"].startswith(b"\x89PNG") and "cell.json" in files and meta["source"] == "plot()"
    assert arts["cell-3"][0]["output-1.html"] == b"<table></table>"


def test_snapshot_with_live_document(store):
    from jupyter_mltrack.client.backend import LocalBackend

    backend = LocalBackend(store)
    store.write_batch({"runs": [{"id": "r1"}]})
    snap = {"path": "/x/exp.ipynb", "how": "test", "saved": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "history": [{"source": "plot()", "execution_count": 1, "output": None}], "cell": "plot()",
            "kernel_name": "python3"}
    live = _nb_bytes()
    batch = N.snapshot_artifact("r1", snap, backend, live=live)()
    store.write_batch(batch)
    run = store.get_run("r1")
    arts = {a["name"]: a for a in run["artifacts"]}
    assert set(arts) == {"notebook", "loss-curve"}  # the tracked cell's own tagged cell, not the others
    labels = arts["notebook"]["metadata"]["files"]
    assert labels == {"live-exp.ipynb": "live document", "history.ipynb": "execution history",
                      "exp.ipynb": "saved file", "cell.py": "tracked cell"}
    assert arts["loss-curve"]["type"] == "cell-output" and arts["loss-curve"]["metadata"]["from"] == "live document"
    from jupyter_mltrack.report.diff import pick_snapshot

    assert pick_snapshot(run)[1]["path"] == "live-exp.ipynb"
    # the same snapshot again stores no new bytes
    before = sum(1 for _ in store.blobs.root.rglob("*") if _.is_file())
    store.write_batch(N.snapshot_artifact("r1", snap, backend, live=live)())
    after = sum(1 for _ in store.blobs.root.rglob("*") if _.is_file())
    assert after == before
    assert [a["version"] for a in store.get_run("r1")["artifacts"] if a["name"] == "notebook"] == [1, 2]


def test_a_hundred_reruns_store_the_bytes_once(store):
    """Re-running a tracked cell 100 times with the same notebook stores its bytes once (proven by byte counts)."""
    from jupyter_mltrack.client.backend import LocalBackend

    backend = LocalBackend(store)
    store.write_batch({"runs": [{"id": f"re{i}"} for i in range(100)]})
    live = _nb_bytes()
    snap = {"path": "/x/exp.ipynb", "how": "test", "saved": live,
            "history": [{"source": "df", "execution_count": 1, "output": None}], "cell": "df",
            "kernel_name": "python3"}

    def blob_bytes():
        return sum(p.stat().st_size for p in store.blobs.root.rglob("*") if p.is_file())

    store.write_batch(N.snapshot_artifact("re0", snap, backend, live=live)())
    once = blob_bytes()
    for i in range(1, 100):
        store.write_batch(N.snapshot_artifact(f"re{i}", snap, backend, live=live)())
    assert blob_bytes() == once
    named = [sorted((a["name"], f["path"], f["sha256"]) for a in store.get_run(f"re{i}")["artifacts"]
                    for f in a["files"]) for i in range(100)]
    # every run names the same files (the bytes behind them are shared): the snapshot's four and its cell's outputs
    assert all(n == named[0] for n in named)
    assert [(a, p) for a, p, _ in named[0]] == [
        ("cell-3", "cell.json"), ("cell-3", "output-1.html"), ("notebook", "cell.py"), ("notebook", "exp.ipynb"),
        ("notebook", "history.ipynb"), ("notebook", "live-exp.ipynb")]


def test_only_the_runs_own_tagged_cell_with_this_executions_outputs():
    tagged = N.tagged_cells(_nb_bytes())
    assert [t["name"] for t in tagged] == ["loss-curve", "cell-3"]
    fresh = [{"output_type": "stream", "name": "stdout", "text": "now\n"}]
    ((name, files, meta),) = N.own_tagged_outputs(tagged, None, "df\n", fresh)  # by source (nbclient: no cell id)
    assert (name, dict(files)["output-1.txt"], meta["cell_index"]) == ("cell-3", b"now\n", 2)
    assert json.loads(dict(files)["cell.json"])["outputs"] == fresh
    ((name, files, _),) = N.own_tagged_outputs(tagged, tagged[0]["id"], "anything", None)  # by the frontend's id
    assert name == "loss-curve" and dict(files)["output-1.png"].startswith(b"\x89PNG")  # the document's outputs
    assert N.own_tagged_outputs(tagged, None, "untagged()", fresh) == []
    assert N.own_tagged_outputs(tagged, None, None, fresh) == []
