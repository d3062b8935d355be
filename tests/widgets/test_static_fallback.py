"""Widgets in an executed notebook exported with nbconvert (no kernel), with and without the widget state saved:
the static fallbacks show."""

from __future__ import annotations

import os
from pathlib import Path

import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[2]
WIDGET = "application/vnd.jupyter.widget-view+json"
#: VS Code's order of the mime types of one output (``NOTEBOOK_DISPLAY_ORDER`` in its notebookCommon.ts); its Jupyter
#: renderer, finding no widget model (no kernel, or a kernel that never made it), asks for the next mime type
#: (``vscode.fallbackToNextRenderer``).
VSCODE_ORDER = ["application/json", "application/javascript", "text/html", "image/svg+xml", "text/latex",
                "text/markdown", "image/png", "image/jpeg", "text/plain"]


def _vscode_choice(data: dict) -> str | None:
    """The mime type VS Code shows for an output's data when no widget model is there."""
    known = [m for m in VSCODE_ORDER if m in data]
    return known[0] if known else None


@pytest.mark.parametrize("saved_state", [False, True], ids=["no widget state", "widget state saved"])
def test_nbconvert_export_shows_fallbacks(tmp_path, store_dir, monkeypatch, saved_state):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        "import jupyter_mltrack as mlt\n"
        "for i in range(3):\n"
        "    with mlt.start_run(f'fb{i}', project='FB', params={'lr': i / 10}, capture_environment=False) as r:\n"
        "        for s in range(20): r.log_metric('loss', 1 / (1 + s + i), step=s)\n"
        "mlt.flush()",
        "mlt.RunTable(project='FB', live=False)",
        "mlt.MetricChart(mlt.search_runs(project='FB'), live=False)",
        "mlt.compare(mlt.search_runs(project='FB'))",
    )]
    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # JupyterLab does not save widget state by default; nbclient does (and JupyterLab can)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=saved_state,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert ("widgets" in nb.metadata) is saved_state
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    # what a reader sees without running scripts: the page less its scripts (widget views, widget state)
    body = re.sub(r"<script\b.*?</script>", "", body, flags=re.S)
    assert body.count('class="mltrack-fallback"') == 3
    assert body.count("mltrack-static-table") == 2 and "fb0" in body and "fb2" in body  # run table and comparison
    assert "<polyline" in body  # the chart's SVG
    # VS Code: each widget's static rendering is an output of its own holding only HTML, right before the widget's
    # output, so VS Code shows it whatever it does with the widget; the widget's output itself falls back to its
    # one-line text
    for cell, kind in zip(nb.cells[1:], ("RunTable", "MetricChart", "Compare")):
        static, live = [o for o in cell.outputs if o.output_type == "display_data"]
        assert set(static.data) == {"text/html"} and _vscode_choice(static.data) == "text/html"
        assert static.data["text/html"].startswith('<div class="mltrack-fallback"')
        assert WIDGET in live.data and _vscode_choice(live.data) == "text/plain"
        assert live.data["text/plain"].startswith(f"{kind}(3 runs")
    # saved outputs stay small: no plotly.js anywhere in the notebook
    text = nbformat.writes(nb)
    assert len(text) < 400_000, len(text)
