"""The notebook widgets rendered by JupyterLab in chromium: the run table pages, sorts and selects; the chart
draws traces and grows while a run logs."""

from __future__ import annotations

import math
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


# the traces plotly drew in the index-th chart on the page: visibility, number of points, first and last value
_DRAWN = """(index) => {
    const gd = document.querySelectorAll('.mltrack-metric-chart .mltrack-chart-plot')[index];
    if (!gd || !gd._fullData) return [];
    return gd._fullData.map((t) => ({visible: t.visible, n: t._length, first: t.y[0], last: t.y[t._length - 1]}));
}"""


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
    # the static rendering (an output of its own, for viewers without widgets) is hidden once the view has drawn
    fallback = page.locator(".mltrack-fallback")
    assert fallback.count() == 1 and not fallback.is_visible()
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
    # what plotly drew (its own data after drawing, not the widget's attributes): three whole loss curves
    drawn = page.evaluate(_DRAWN, 0)
    assert len(drawn) == 3 and all(t["visible"] is True and t["n"] == 200 and t["first"] == 1.0 for t in drawn), drawn
    runs = [next(i for i in range(30) if math.isclose(t["last"], math.exp(-199 * (i + 1) / 100), rel_tol=1e-9))
            for t in drawn]  # each line ends at its run's last loss
    assert len(set(runs)) == 3, (runs, drawn)
    _wait_idle(page)
    _run_cell(page, 2)
    charts = page.locator(".mltrack-metric-chart .mltrack-chart-plot")
    charts.nth(1).wait_for(timeout=60_000)
    seen = []  # the points plotly has drawn of the live run's trace, as it grows
    deadline = time.time() + 60
    while time.time() < deadline and (not seen or seen[-1] < 40):
        drawn = page.evaluate(_DRAWN, 1)
        if drawn:
            seen.append(drawn[0]["n"])
        time.sleep(0.2)
    assert seen and seen[0] < 40 and seen[-1] == 40, seen  # drawn early, then every step 0..39
    assert seen == sorted(seen)
    final = page.evaluate(_DRAWN, 1)
    assert len(final) == 1 and final[0]["first"] == 0.0 and final[0]["last"] == 39 / 40, final


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
    # the parallel coordinates' title stays above their axis labels (it used to overlap them)
    page.wait_for_function("""() => document.querySelectorAll(
        '.mltrack-compare .mltrack-parcoords .parcoords .axis-title').length > 0""", timeout=30_000)
    layout = page.evaluate("""() => {
        const plot = document.querySelector('.mltrack-compare .mltrack-parcoords');
        const title = plot.querySelector('.gtitle').getBoundingClientRect();
        const labels = [...plot.querySelectorAll('.parcoords .axis-title')].map((e) => e.getBoundingClientRect());
        return {top: plot._fullLayout.margin.t, titleBottom: title.bottom,
                labelsTop: Math.min(...labels.map((r) => r.top)), labels: labels.length};
    }""")
    assert layout["top"] >= 80 and layout["labels"] >= 2, layout
    assert layout["titleBottom"] <= layout["labelsTop"] - 4, layout
    boxes = page.locator(".mltrack-run-table tbody input.mltrack-select")
    boxes.nth(0).check()
    boxes.nth(2).check()
    boxes.nth(4).check()
    page.wait_for_function("() => document.querySelectorAll('.mltrack-compare-table tbody tr').length === 3",
                           timeout=20_000)
    assert "3 runs" in cmp.locator(".mltrack-compare-summary").inner_text()
    rows = page.evaluate("""() => [...document.querySelectorAll('.mltrack-compare-table tbody tr')].map((tr) => ({
        best: tr.classList.contains('mltrack-best'), name: tr.cells[0].textContent.trim(),
        metric: tr.cells[tr.cells.length - 1].textContent.trim()}))""")
    # the best by acc (goal max) is the run with the highest acc of the three selected: the highest w-number
    assert [r["name"] for r in rows if r["best"]] == [max(r["name"] for r in rows)], rows
    assert max(rows, key=lambda r: float(r["metric"]))["best"], rows
    page.wait_for_function("() => document.querySelector('.mltrack-compare .mltrack-scatter').dataset.points === '3'",
                           timeout=20_000)
