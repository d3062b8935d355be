"""The sidebar in a real JupyterLab, in Debian's chromium: a run logged by a real kernel shows up, its details
open, it refreshes by itself, and its notebook snapshot opens as a new notebook."""

from __future__ import annotations

import time

import nbformat
import pytest

from .conftest import open_lab, open_sidebar, run_all_cells, wait_until

pytestmark = pytest.mark.ui

TRACKED = """%%track_run --name ui-run --project UI --experiment exp1 --param lr=0.01 --tag who=ui
for i in range(20):
    mlt.log_metric("loss", 1 / (i + 1), context={"subset": "train"})
mlt.log_metric("acc", 0.75)"""


def _write_notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def _reveal_run(page, run_id, project, experiment=None):
    row = page.locator(f'.jp-mltrack-run[data-run-id="{run_id}"]')
    deadline = time.time() + 30
    while time.time() < deadline:
        if row.count() and row.first.is_visible():
            return row.first
        proj = page.locator(f'.jp-mltrack-project[data-project-name="{project}"]')
        if proj.count() and proj.first.is_visible():
            proj.first.click()
            page.wait_for_timeout(400)
        if row.count() and row.first.is_visible():
            return row.first
        if experiment:
            exp = page.locator(f'.jp-mltrack-experiment[data-experiment-name="{experiment}"]')
            if exp.count() and exp.first.is_visible():
                exp.first.click()
                page.wait_for_timeout(400)
        page.wait_for_timeout(300)
    raise AssertionError(f"run {run_id} never appeared in the sidebar")


def test_run_from_a_real_kernel_in_the_sidebar(lab, page):
    _write_notebook(lab.root / "tracked.ipynb", ["%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt", TRACKED])
    open_lab(page, lab, "tracked.ipynb")
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.context.sessionContext.ready; }")
    run_all_cells(page)

    store = lab.store()

    def finished():
        runs = store.search_runs(project="UI", filter="name = 'ui-run'")[0] if store.list_projects() else []
        return runs[0] if runs and runs[0]["status"] == "finished" else None

    try:
        run = wait_until(finished, 90, "the tracked cell's run to finish")
    except AssertionError:
        raise AssertionError("run not stored; lab log:\n" + lab.log.read_text()[-3000:])
    full = store.get_run(run["id"])
    snap = next(a for a in full["artifacts"] if a["name"] == "notebook")
    assert snap["metadata"]["identified_by"] in ("jupyter-sessions", "JPY_SESSION_NAME")
    assert "tracked.ipynb" in {f["path"] for f in snap["files"]}

    open_sidebar(page)
    row = _reveal_run(page, run["id"], "UI", "exp1")
    assert "ui-run" in row.inner_text()
    assert row.locator(".jp-mltrack-status").get_attribute("data-status") == "finished"

    row.click()
    detail = page.locator(f'.jp-mltrack-run-detail[data-run-id="{run["id"]}"]')
    detail.wait_for()
    assert "0.01" in detail.locator('[data-param-key="lr"]').inner_text()
    assert "0.05" in detail.locator('[data-metric-key="loss[subset=train]"]').inner_text()
    assert detail.locator('[data-artifact-name="notebook"]').count() >= 1
    assert detail.locator('[data-artifact-name="environment"]').count() >= 1
    page.screenshot(path=str(lab.root / "detail.png"))

    # the snapshot opens as a new notebook, never overwriting one
    detail.locator(".jp-mltrack-open-snapshot").first.click()

    def written():  # the file appears before its bytes do: wait until it reads as a notebook
        folder = lab.root / "mltrack-snapshots"
        for path in (folder.glob("*.ipynb") if folder.exists() else ()):
            try:
                return path, nbformat.read(path, as_version=4)
            except (nbformat.reader.NotJSONError, ValueError):
                return None
        return None

    opened, nb = wait_until(written, 30, "the snapshot file, written")
    assert any("%%track_run --name ui-run" in c.source for c in nb.cells)
    name = opened.name
    page.wait_for_selector(f'.lm-TabBar-tab[title*="{name}"], .lm-TabBar-tab:has-text("{name}")', timeout=30_000)


def test_sidebar_refreshes_by_itself(lab, page):
    store = lab.store()
    store.write_batch({"runs": [{"id": "live1", "name": "first-live", "project": "Live"}]})
    open_lab(page, lab)
    open_sidebar(page)
    _reveal_run(page, "live1", "Live")
    # another process writes a new run and points: the open panel shows them without a click
    store.write_batch({"runs": [{"id": "live2", "name": "second-live", "project": "Live"}],
                       "metrics": [{"run_id": "live2", "name": "acc", "values": [0.5, 0.625]}]})
    row = page.locator('.jp-mltrack-run[data-run-id="live2"]')
    row.wait_for(timeout=15_000)
    assert "second-live" in row.inner_text()
    store.write_batch({"updates": [{"run_id": "live2", "status": "failed", "end_time": time.time()}]})
    page.wait_for_selector('.jp-mltrack-run[data-run-id="live2"] .jp-mltrack-status[data-status="failed"]',
                           timeout=15_000)

