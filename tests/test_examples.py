"""The demo notebook runs top to bottom in a real kernel and records what it says it records."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from jupyter_mltrack.core.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_demo_notebook(tmp_path, store_dir, monkeypatch):
    src = ROOT / "examples" / "diabetes_regression.ipynb"
    nb_path = tmp_path / src.name
    shutil.copy(src, nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb_path))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            assert out.get("name") != "stderr", out  # quiet: no warnings, no "could not identify" line
    store = Store(store_dir)
    runs, total = store.search_runs(project="Diabetes progression", order_by="start_time")
    assert [r["name"] for r in runs] == ["ridge", "random-forest"]
    assert all(r["status"] == "finished" for r in runs)
    forest = store.get_run(runs[1]["id"])
    assert forest["params"] == {"n_estimators": 200, "max_depth": 6}
    val = store.get_series(forest["id"], "rmse", {"subset": "val"})
    assert val["total_count"] == 20 and list(val["points"].steps[:2]) == [10, 20]
    assert {a["name"] for a in forest["artifacts"]} == {"model", "notebook", "environment"}
    assert (tmp_path / "diabetes-report.html").stat().st_size > 100_000
    widget_cells = [c for c in nb.cells if c.cell_type == "code" and any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in c.outputs)]
    assert len(widget_cells) == 3
    for c in widget_cells:  # each widget is preceded by its static rendering, an output of its own
        i = next(i for i, o in enumerate(c.outputs) if "application/vnd.jupyter.widget-view+json" in o.get("data", {}))
        assert i > 0 and 'class="mltrack-fallback"' in c.outputs[i - 1]["data"]["text/html"]
