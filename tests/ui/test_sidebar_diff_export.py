"""Comparing and exporting runs from the sidebar, in a real JupyterLab in Debian's chromium: mark two runs, diff
them (params, notebook cells), and download HTML reports of one run and of the marked runs."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from .conftest import SHOTS, open_lab, open_sidebar

pytestmark = pytest.mark.ui

CELLS_A = ["import numpy as np", "lr = 0.1\nprint(lr)", "x = 1", "y = 2", "z = 3", "train(lr)"]
CELLS_B = ["import numpy as np", "lr = 0.01\nprint(lr)", "x = 1", "y = 2", "z = 3", "train(lr)", "evaluate()"]


def _nb(sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return json.loads(nbformat.writes(nb))


def _snapshot_run(store, run_id, name, project, params, cells, acc):
    """A run with params, one metric and a notebook snapshot artifact (as the kernel-side client stores it)."""
    data = json.dumps(_nb(cells)).encode()
    sha, size = store.blobs.put_bytes(data)
    store.write_batch({
        "runs": [{"id": run_id, "name": name, "project": project}],
        "params": [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()],
        "metrics": [{"run_id": run_id, "name": "acc", "values": acc}],
        "artifacts": [{"run_id": run_id, "name": "notebook", "type": "notebook",
                       "metadata": {"files": {"history.ipynb": "execution history"}},
                       "files": [{"path": "history.ipynb", "sha256": sha, "size": size}]}],
        "updates": [{"run_id": run_id, "status": "finished", "end_time": time.time()}],
    })


def _reveal_runs(page, project, run_ids):
    """Expand `project` (its "All runs" group is open by default) until every run's row shows."""
    rows = {rid: page.locator(f'#mltrack-sidebar .jp-mltrack-run[data-run-id="{rid}"]') for rid in run_ids}
    proj = page.locator(f'#mltrack-sidebar .jp-mltrack-project[data-project-name="{project}"]')
    proj.wait_for(timeout=30_000)
    deadline = time.time() + 30
    while time.time() < deadline:
        if all(r.count() and r.first.is_visible() for r in rows.values()):
            return {rid: r.first for rid, r in rows.items()}
        if proj.get_attribute("aria-expanded") != "true":
            proj.click()
        page.wait_for_timeout(300)
    raise AssertionError(f"runs {run_ids} never appeared under project {project}")


def _mark(row):
    box = row.locator(".jp-mltrack-compare-check")
    box.check()
    assert box.is_checked()


def test_diff_two_marked_runs(lab, page):
    store = lab.store()
    _snapshot_run(store, "cmpa", "baseline", "Cmp", {"lr": 0.1, "opt": "adam"}, CELLS_A, [0.5, 0.8])
    _snapshot_run(store, "cmpb", "smaller-lr", "Cmp", {"lr": 0.01, "opt": "adam"}, CELLS_B, [0.6, 0.9])

    open_lab(page, lab)
    open_sidebar(page)
    rows = _reveal_runs(page, "Cmp", ["cmpa", "cmpb"])
    _mark(rows["cmpa"])
    # one marked: the bar offers an export, the diff waits for a second run
    bar = page.locator(".jp-mltrack-compare-bar")
    bar.wait_for()
    assert page.locator(".jp-mltrack-diff-button").is_disabled()
    assert "Export 1 run" in page.locator(".jp-mltrack-export-selected").inner_text()
    _mark(rows["cmpb"])
    # marking does not open the run
    assert page.locator(".jp-mltrack-run-detail").count() == 0
    diff_button = page.locator(".jp-mltrack-diff-button")
    assert diff_button.is_enabled()
    diff_button.click()

    view = page.locator('.jp-mltrack-diff[data-run-a="cmpa"][data-run-b="cmpb"]')
    view.wait_for()
    view.locator(".jp-mltrack-diff-summary").wait_for()

    # params: only the one that differs, A then B
    lr = view.locator('tr[data-param-key="lr"]')
    assert lr.locator('td[data-col="a"]').inner_text().strip() == "0.1"
    assert lr.locator('td[data-col="b"]').inner_text().strip() == "0.01"
    assert view.locator('tr[data-param-key="opt"]').count() == 0
    acc = view.locator('tr[data-metric-key="acc"]')
    assert acc.locator('td[data-col="a"]').inner_text().strip() == "0.8"
    assert acc.locator('td[data-col="b"]').inner_text().strip() == "0.9"

    # notebook: the summary, the modified cell as a line diff, the added cell, the unchanged ones folded
    assert view.locator(".jp-mltrack-diff-summary").inner_text() == (
        "1 modified, 1 added, 0 removed, 5 unchanged; outputs changed in 0")
    modified = view.locator('.jp-mltrack-diff-cell[data-change="modified"]')
    assert modified.count() == 1
    adds = modified.locator(".jp-mltrack-diff-add")
    dels = modified.locator(".jp-mltrack-diff-del")
    assert adds.count() == 1 and "lr = 0.01" in adds.first.inner_text()
    assert dels.count() == 1 and "lr = 0.1" in dels.first.inner_text()
    # the unchanged line of that cell is context, neither added nor removed
    assert "print(lr)" in modified.locator(".jp-mltrack-diff-ctx").first.inner_text()
    added = view.locator('.jp-mltrack-diff-cell[data-change="added"]')
    assert added.count() == 1 and "evaluate()" in added.locator(".jp-mltrack-diff-add").inner_text()
    # added lines are drawn green, removed lines red (theme colours, not transparent)
    bg_add = adds.first.evaluate("e => getComputedStyle(e).backgroundColor")
    bg_del = dels.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert bg_add != bg_del and "rgba(0, 0, 0, 0)" not in (bg_add, bg_del)

    assert view.locator('.jp-mltrack-diff-cell[data-change="unchanged"]').count() == 0
    toggle = view.locator(".jp-mltrack-diff-toggle-unchanged")
    assert toggle.inner_text() == "Show 5 unchanged cells"
    page.screenshot(path=str(SHOTS / "diff-view.png"))
    toggle.click()
    assert view.locator('.jp-mltrack-diff-cell[data-change="unchanged"]').count() == 5
    assert toggle.inner_text() == "Hide 5 unchanged cells"
    toggle.click()
    assert view.locator('.jp-mltrack-diff-cell[data-change="unchanged"]').count() == 0
    # a folded run of unchanged cells opens on its own
    gap = view.locator(".jp-mltrack-diff-gap").filter(has_text="4 unchanged cells")
    gap.click()
    assert view.locator('.jp-mltrack-diff-cell[data-change="unchanged"]').count() == 4

    # the command opens the same tab again rather than a second one, and swaps sides on request
    page.evaluate("async () => { await window.jupyterapp.commands.execute('mltrack:diff-runs', {a: 'cmpa', b: 'cmpb'}); }")
    assert page.locator(".jp-mltrack-diff").count() == 1
    view.locator(".jp-mltrack-diff-swap").click()
    swapped = page.locator('.jp-mltrack-diff[data-run-a="cmpb"][data-run-b="cmpa"]')
    swapped.wait_for()
    swapped.locator('tr[data-param-key="lr"] td[data-col="a"]').filter(has_text="0.01").wait_for()

    # a closed comparison opens again (closing the tab ends it; the command starts a new one)
    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon")
    page.wait_for_selector(".jp-mltrack-diff", state="detached")
    page.evaluate("async () => { await window.jupyterapp.commands.execute('mltrack:diff-runs', {a: 'cmpb', b: 'cmpa'}); }")
    swapped.wait_for()
    assert page.locator(".jp-mltrack-diff").count() == 1


def _tracked_cell_run(store, run_id, magic, body, stdout):
    """A run whose snapshot holds its tracked cell (``cell.ipynb``: the magic line, the body, a printed output)."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(magic + "\n" + body)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stdout)]
    nb.cells = [cell]
    sha, size = store.blobs.put_bytes(nbformat.writes(nb).encode())
    store.write_batch({
        "runs": [{"id": run_id, "name": run_id, "project": "Cells"}],
        "artifacts": [{"run_id": run_id, "name": "notebook", "type": "notebook",
                       "metadata": {"files": {"cell.ipynb": "the tracked cell"}},
                       "files": [{"path": "cell.ipynb", "sha256": sha, "size": size}]}],
        "updates": [{"run_id": run_id, "status": "finished", "end_time": time.time()}],
    })


def test_diff_shows_the_tracked_cells_source_and_outputs(lab, page):
    """A change made only in ``--param`` shows in the tracked cell's source (its magic line), and what it printed
    differently in its outputs, each as a line diff; two identical cells say so."""
    store = lab.store()
    body = "model = fit(n_estimators=n)\nprint('score', score(model))"
    _tracked_cell_run(store, "cella", "%%track_run --param n=1000", body, "score 0.91\n")
    _tracked_cell_run(store, "cellb", "%%track_run --param n=100", body, "score 0.88\n")
    _tracked_cell_run(store, "cellc", "%%track_run --param n=100", body, "score 0.88\n")
    open_lab(page, lab)
    page.evaluate("async () => { await window.jupyterapp.commands.execute('mltrack:diff-runs', {a: 'cella', b: 'cellb'}); }")
    view = page.locator('.jp-mltrack-diff[data-run-a="cella"][data-run-b="cellb"]')
    source = view.locator('.jp-mltrack-diff-tracked-part[data-part="source"]')
    source.wait_for(timeout=30_000)
    assert source.get_attribute("data-changed") == "true"
    assert source.locator(".jp-mltrack-diff-del .jp-mltrack-diff-text").all_inner_texts() == ["%%track_run --param n=1000"]
    assert source.locator(".jp-mltrack-diff-add .jp-mltrack-diff-text").all_inner_texts() == ["%%track_run --param n=100"]
    assert "model = fit(n_estimators=n)" in source.locator(".jp-mltrack-diff-ctx .jp-mltrack-diff-text").all_inner_texts()
    outputs = view.locator('.jp-mltrack-diff-tracked-part[data-part="outputs"]')
    assert outputs.get_attribute("data-changed") == "true"
    assert outputs.locator(".jp-mltrack-diff-del .jp-mltrack-diff-text").all_inner_texts() == ["score 0.91"]
    assert outputs.locator(".jp-mltrack-diff-add .jp-mltrack-diff-text").all_inner_texts() == ["score 0.88"]

    page.evaluate("async () => { await window.jupyterapp.commands.execute('mltrack:diff-runs', {a: 'cellb', b: 'cellc'}); }")
    same = page.locator('.jp-mltrack-diff[data-run-a="cellb"][data-run-b="cellc"]')
    same.locator('.jp-mltrack-diff-tracked-part[data-part="source"]').wait_for(timeout=30_000)
    parts = same.locator(".jp-mltrack-diff-tracked-part")
    assert [parts.nth(i).get_attribute("data-changed") for i in range(2)] == ["false", "false"]
    assert parts.nth(0).inner_text().endswith("Same source in both runs.")
    assert parts.nth(1).inner_text().endswith("Same outputs in both runs.")
    assert same.locator(".jp-mltrack-diff-tracked .jp-mltrack-diff-line").count() == 0


def test_diff_without_snapshots_says_why(lab, page):
    lab.store().write_batch({"runs": [{"id": "nosnap1", "name": "plain-1", "project": "NoSnap"},
                                      {"id": "nosnap2", "name": "plain-2", "project": "NoSnap"}],
                             "tags": [{"run_id": "nosnap1", "key": "who", "value": "ann"}]})
    open_lab(page, lab)
    page.evaluate("async () => { await window.jupyterapp.commands.execute('mltrack:diff-runs', {a: 'nosnap1', b: 'nosnap2'}); }")
    view = page.locator('.jp-mltrack-diff[data-run-a="nosnap1"][data-run-b="nosnap2"]')
    view.locator(".jp-mltrack-diff-notebook-note").wait_for()
    assert "no notebook snapshot" in view.locator(".jp-mltrack-diff-notebook-note").inner_text()
    assert view.locator('tr[data-tag-key="who"] td[data-col="a"]').inner_text() == "ann"
    # an unknown run: the server's message, not a blank tab
    page.evaluate("async () => { await window.jupyterapp.commands.execute('mltrack:diff-runs', {a: 'nosnap1', b: 'ghost'}); }")
    err = page.locator('.jp-mltrack-diff[data-run-b="ghost"] .jp-mltrack-error')
    err.wait_for()
    assert "ghost" in err.inner_text()


def test_export_report_from_run_detail(lab, page):
    store = lab.store()
    _snapshot_run(store, "repone", "report-me", "Rep", {"lr": 0.3}, CELLS_A, [0.1, 0.4, 0.7])
    open_lab(page, lab)
    open_sidebar(page)
    rows = _reveal_runs(page, "Rep", ["repone"])
    rows["repone"].click()
    detail = page.locator('.jp-mltrack-run-detail[data-run-id="repone"]')
    detail.wait_for()
    button = detail.locator(".jp-mltrack-export")
    button.wait_for()
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "mltrack-repone.html"
    html = open(download.path(), encoding="utf-8").read()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "report-me" in html and 'class="plotly-graph-div"' in html
    # the button is ready again
    page.wait_for_function("() => !document.querySelector('.jp-mltrack-export').disabled")


def test_export_marked_runs(lab, page):
    store = lab.store()
    store.write_batch({
        "runs": [{"id": "multi1", "name": "first-of-two", "project": "Rep2"},
                 {"id": "multi2", "name": "second-of-two", "project": "Rep2"}],
        "metrics": [{"run_id": "multi1", "name": "loss", "values": [3, 2, 1]},
                    {"run_id": "multi2", "name": "loss", "values": [4, 2]}],
    })
    open_lab(page, lab)
    open_sidebar(page)
    rows = _reveal_runs(page, "Rep2", ["multi1", "multi2"])
    _mark(rows["multi1"])
    _mark(rows["multi2"])
    button = page.locator(".jp-mltrack-export-selected")
    assert button.inner_text().strip() == "Export 2 runs"
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "mltrack-2-runs.html"
    html = open(download.path(), encoding="utf-8").read()
    assert "first-of-two" in html and "second-of-two" in html and 'class="plotly-graph-div"' in html
    # clearing the marks hides the bar
    page.locator(".jp-mltrack-compare-clear").click()
    page.locator(".jp-mltrack-compare-bar").wait_for(state="detached")
    assert not rows["multi1"].locator(".jp-mltrack-compare-check").is_checked()
