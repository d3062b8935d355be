"""The notebook widgets rendered by JupyterLab in chromium: the run table pages, sorts and selects; the chart
draws traces and grows while a run logs."""

from __future__ import annotations

import time

import nbformat
import pytest

from .conftest import open_lab

pytestmark = pytest.mark.ui

SETUP = """import jupyter_mltrack as mlt, numpy as np
for i in range(30):
    with mlt.start_run(f"w{i:02d}", project="Widgets", params={"lr": i / 100, "opt": "adam" if i % 2 else "sgd"},
                       capture_environment=False) as r:
        r.log_metric("acc", i / 30)
        r.log_metric_series("loss", np.exp(-np.arange(200) * (i + 1) / 100), context={"subset": "train"})
mlt.flush()"""


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def _run_cell(page, index):
    page.evaluate(f"""async () => {{
        const nb = window.jupyterapp.shell.currentWidget;
        await nb.context.sessionContext.ready;
        nb.content.activeCellIndex = {index};
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }}""")


def _wait_idle(page, timeout=60_000):
    page.wait_for_function("""() => {
        const nb = window.jupyterapp.shell.currentWidget;
        return nb && nb.context.sessionContext.session && nb.context.sessionContext.session.kernel
            && nb.context.sessionContext.session.kernel.status === 'idle';
    }""", timeout=timeout)


def test_run_table_widget(lab, page):
    _notebook(lab.root / "table.ipynb", [SETUP, "t = mlt.RunTable(project='Widgets', page_size=10)\nt",
                                         "t.selected"])
    open_lab(page, lab, "table.ipynb")
    _run_cell(page, 0)
    _wait_idle(page)
    _run_cell(page, 1)
    table = page.locator(".mltrack-run-table")
    table.wait_for(timeout=60_000)
    rows = table.locator("tbody tr")
    page.wait_for_function("() => document.querySelectorAll('.mltrack-run-table tbody tr').length === 10")
    assert rows.first.get_attribute("data-run-id")
    assert "1–10 of 30 runs" in table.locator(".mltrack-count").inner_text()
    # clicking a header sorts in the kernel
    table.locator('th[data-column="params.lr"]').click()
    page.wait_for_function("""() => {
        const cells = [...document.querySelectorAll('.mltrack-run-table tbody td[data-column="params.lr"]')];
        return cells.length === 10 && cells[0].textContent === '0.2900';
    }""", timeout=20_000)
    table.locator('th[data-column="params.lr"]').click()
    page.wait_for_function("""() => {
        const c = document.querySelector('.mltrack-run-table tbody td[data-column="params.lr"]');
        return c && c.textContent === '0';
    }""", timeout=20_000)
    # filter in the search language
    table.locator(".mltrack-filter").fill("params.opt = 'adam'")
    table.locator(".mltrack-filter").press("Enter")
    page.wait_for_function("() => document.querySelector('.mltrack-run-table .mltrack-count').textContent.includes('of 15 runs')",
                           timeout=20_000)
    # paging
    table.locator(".mltrack-next").click()
    page.wait_for_function("() => document.querySelector('.mltrack-run-table .mltrack-count').textContent.startsWith('11–15')",
                           timeout=20_000)
    # selection is readable from Python
    boxes = table.locator("tbody input.mltrack-select")
    boxes.nth(0).check()
    boxes.nth(1).check()
    first_two = [table.locator("tbody tr").nth(i).get_attribute("data-run-id") for i in range(2)]
    time.sleep(0.5)
    _run_cell(page, 2)
    _wait_idle(page)
    out = page.locator(".jp-Cell").nth(2).locator(".jp-OutputArea-output").inner_text()
    assert all(rid in out for rid in first_two), out


def test_metric_chart_draws_and_grows(lab, page):
    cells = [
        SETUP,
        "ids = list(mlt.search_runs(project='Widgets')['run_id'][:3])\nmlt.MetricChart(ids, metrics=['loss'])",
        # a run logging in the background of the kernel while its chart is displayed
        """import threading
live = mlt.start_run("live-chart", project="Widgets", capture_environment=False)
live.log_metric("score", 0.0, step=0)
chart = live.chart()
def train():
    for s in range(1, 40):
        live.log_metric("score", s / 40, step=s)
        time.sleep(0.1)
    live.end()
import time
threading.Thread(target=train, daemon=True).start()
chart""",
    ]
    _notebook(lab.root / "chart.ipynb", cells)
    open_lab(page, lab, "chart.ipynb")
    _run_cell(page, 0)
    _wait_idle(page)
    _run_cell(page, 1)
    page.wait_for_selector(".mltrack-metric-chart .mltrack-chart-plot[data-traces='3']", timeout=60_000)
    lengths = page.evaluate("""() => [...document.querySelectorAll('.mltrack-metric-chart')][0]
        .querySelectorAll('.scatterlayer .trace, .gl-container canvas').length""")
    assert lengths >= 1
    _wait_idle(page)
    _run_cell(page, 2)
    charts = page.locator(".mltrack-metric-chart .mltrack-chart-plot")
    charts.nth(1).wait_for(timeout=60_000)
    first = None
    deadline = time.time() + 30
    while time.time() < deadline:
        pts = charts.nth(1).get_attribute("data-points")
        if pts:
            first = first or int(pts)
            if int(pts) >= 30:
                break
        time.sleep(0.5)
    assert first is not None and int(charts.nth(1).get_attribute("data-points")) >= 30 > first


def test_selecting_rows_updates_the_comparison(lab, page):
    cells = [SETUP, "t = mlt.RunTable(project='Widgets', page_size=10, live=False)\nt", "c = mlt.compare(t)\nc"]
    _notebook(lab.root / "compare.ipynb", cells)
    open_lab(page, lab, "compare.ipynb")
    for i in range(3):
        _run_cell(page, i)
        _wait_idle(page)
    cmp = page.locator(".mltrack-compare")
    cmp.wait_for(timeout=60_000)
    page.wait_for_selector(".mltrack-compare .mltrack-parcoords .parcoords", timeout=30_000)
    assert cmp.locator(".mltrack-compare-table tbody tr").count() == 10  # the table's page
    boxes = page.locator(".mltrack-run-table tbody input.mltrack-select")
    boxes.nth(0).check()
    boxes.nth(2).check()
    boxes.nth(4).check()
    page.wait_for_function("() => document.querySelectorAll('.mltrack-compare-table tbody tr').length === 3",
                           timeout=20_000)
    assert "3 runs" in cmp.locator(".mltrack-compare-summary").inner_text()
    assert cmp.locator(".mltrack-compare-table tbody tr.mltrack-best").count() == 1
    page.wait_for_function("() => document.querySelector('.mltrack-compare .mltrack-scatter').dataset.points === '3'",
                           timeout=20_000)
