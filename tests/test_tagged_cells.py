"""Cells tagged ``mltrack-artifact`` under nbclient (a notebook executed headless, never saved while it runs): each
run gets its own tracked cell's outputs of this execution as an artifact — not the other tagged cells of the
notebook, nor the outputs the saved file held from before."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from jupyter_mltrack.core.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tagged(source: str, name: str, stale_output: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["mltrack-artifact"]
    cell.metadata["mltrack_name"] = name
    # what the saved file shows from an earlier execution: never this run's output
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stale_output)]
    return cell


def test_each_run_gets_only_its_own_tagged_cell(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt"),
        _tagged("%%track_run --name first --project T\nprint('first says', 1 + 1)", "first-output", "old first\n"),
        nbformat.v4.new_code_cell("print('in between')"),
        _tagged("%%track_run --name second --project T\nprint('second says', 2 * 3)", "second-output",
                "old second\n"),
        nbformat.v4.new_code_cell("mlt.flush()"),
    ]
    path = tmp_path / "two_runs.ipynb"
    nbformat.write(nb, path)
    for k, v in {"MLTRACK_URI": str(tmp_path / "store"), "MLTRACK_HOME": str(tmp_path / "home"),
                 "MLTRACK_NOTEBOOK": str(path),
                 "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}.items():
        monkeypatch.setenv(k, v)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    store = Store(tmp_path / "store")
    try:
        runs = {r["name"]: store.get_run(r["id"]) for r in store.search_runs(project="T")[0]}
        assert set(runs) == {"first", "second"}
        for name, said in (("first", "first says 2\n"), ("second", "second says 6\n")):
            outputs = [a for a in runs[name]["artifacts"] if a["type"] == "cell-output"]
            assert [a["name"] for a in outputs] == [f"{name}-output"], (name, [a["name"] for a in outputs])
            (art,) = outputs
            files = {f["path"] for f in art["files"]}
            assert files == {"cell.json", "output-1.txt"}
            assert store.read_artifact_file(art["id"], "output-1.txt").decode() == said
            assert art["metadata"]["source"].startswith(f"%%track_run --name {name}")
    finally:
        store.close()
