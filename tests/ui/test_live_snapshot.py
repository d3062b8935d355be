"""The live document — unsaved edits and the tracked cell's own outputs — lands in the run's snapshot."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from .conftest import open_lab

pytestmark = pytest.mark.ui


def test_unsaved_edit_is_in_the_snapshot(lab, page):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# saved title"),
                nbformat.v4.new_code_cell("%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt"),
                nbformat.v4.new_code_cell("%%track_run --name live-snap --project Live\nprint('output of the tracked cell')")]
    nbformat.write(nb, lab.root / "live.ipynb")
    open_lab(page, lab, "live.ipynb")
    # edit the markdown cell in the browser and do not save
    page.evaluate("""() => {
        const nb = window.jupyterapp.shell.currentWidget;
        nb.content.widgets[0].model.sharedModel.setSource('# an UNSAVED title');
    }""")
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.context.sessionContext.ready; }")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    store = lab.store()

    def live_snapshot():
        runs = store.search_runs(filter="name = 'live-snap'")[0] if store.list_projects() else []
        if not runs:
            return None
        for art in store.get_run(runs[0]["id"])["artifacts"]:
            labels = (art["metadata"] or {}).get("files", {})
            for f in art["files"]:
                if labels.get(f["path"]) == "live document":
                    return art, f
        return None

    deadline = time.time() + 90
    found = None
    while time.time() < deadline and found is None:
        found = live_snapshot()
        time.sleep(0.5)
    assert found is not None, "no live snapshot was stored; lab log:\n" + lab.log.read_text()[-3000:]
    art, f = found
    doc = json.loads(store.blobs.read_bytes(f["sha256"]))
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in doc["cells"]]
    assert sources[0] == "# an UNSAVED title"
    outputs = json.dumps(doc["cells"][2].get("outputs", []))
    assert doc["cells"][2]["execution_count"] == 2
    assert "output of the tracked cell" in outputs  # the tracked cell's own output made it in
    # the file on disk still has the saved title: the live document is what ran
    assert "saved title" in (lab.root / "live.ipynb").read_text()
    assert art["metadata"]["identified_by"].endswith("live document from JupyterLab")
