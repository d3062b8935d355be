"""The experiment explorer in JupyterLab's main area, in Debian's chromium, over a real server and store: opened
from the command palette, the launcher and the sidebar; 10,000 runs in a virtualised table scrolled to the end;
sorting, filtering with completion, the column chooser (hidden and pinned columns remembered per project), rows
grouped by a param; the metric explorer with one line per run and grouped by a param with a min/max band, and the
rows selected in the table as the runs charted."""

from __future__ import annotations

import time

import numpy as np
import pytest

from .conftest import new_page, open_lab, open_sidebar, wait_until

pytestmark = pytest.mark.ui

BIG = 10_000
OPTIMIZERS = ("adam", "sgd", "rmsprop")
_CURVE_LEVEL = {"adam": 0.1, "sgd": 0.5, "rmsprop": 1.0}


def _seed(store) -> None:
    """Project "Big": 10,000 finished runs (params optimizer and lr, metric acc = i / 10,000, one point each).
    Project "Curves": 12 runs of a 50-step loss curve whose level depends on the optimizer (4 runs each)."""
    now = time.time()
    for lo in range(0, BIG, 2_000):
        ids = [f"big{i:05d}" for i in range(lo, lo + 2_000)]
        store.write_batch({
            "runs": [{"id": rid, "name": f"run-{i:05d}", "project": "Big", "start_time": now - BIG + i}
                     for i, rid in zip(range(lo, lo + 2_000), ids)],
            "params": [p for i, rid in zip(range(lo, lo + 2_000), ids) for p in (
                {"run_id": rid, "key": "optimizer", "value": OPTIMIZERS[i % 3]},
                {"run_id": rid, "key": "lr", "value": round(0.001 * (1 + i % 10), 4)})],
            "metrics": [{"run_id": rid, "name": "acc", "steps": [0], "values": [i / BIG]}
                        for i, rid in zip(range(lo, lo + 2_000), ids)],
            "updates": [{"run_id": rid, "status": "finished", "end_time": now} for rid in ids],
        })
    steps = np.arange(50)
    batch = {"runs": [], "params": [], "metrics": [], "updates": []}
    for i in range(12):
        rid, opt = f"curve{i:02d}", OPTIMIZERS[i % 3]
        level = _CURVE_LEVEL[opt]
        batch["runs"].append({"id": rid, "name": f"curve-{i:02d}", "project": "Curves"})
        batch["params"].append({"run_id": rid, "key": "optimizer", "value": opt})
        batch["metrics"].append({"run_id": rid, "name": "loss", "steps": steps.tolist(),
                                 "values": (level + 0.01 * i + 1.0 / (1 + steps)).tolist()})
        batch["updates"].append({"run_id": rid, "status": "finished", "end_time": now})
    store.write_batch(batch)


@pytest.fixture(scope="module")
def seeded_lab(lab):
    store = lab.store()
    try:
        _seed(store)
    finally:
        store.close()
    return lab


@pytest.fixture
def xpage(browser, seeded_lab, request):
    with new_page(browser, seeded_lab, request.node.name) as p:
        yield p


def _execute_open(page):
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    # after a reload the layout restorer reopens the explorer itself: open it only once that is done
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    # no return value: the command answers the widget, which the page cannot hand back to Python
    page.evaluate("() => { window.jupyterapp.commands.execute('mltrack:open-explorer'); }")


def _open_explorer(page, lab, project: str):
    open_lab(page, lab)
    _execute_open(page)
    page.wait_for_selector(".jp-mltrack-explorer-project", state="visible")
    page.select_option(".jp-mltrack-explorer-project", project)
    page.wait_for_selector(f'.jp-mltrack-explorer[data-project="{project}"]')


def _total(page) -> int | None:
    t = page.get_attribute(".jp-mltrack-explorer-table", "data-total")
    return int(t) if t else None


def _cells(page, col: str) -> list[str]:
    return page.eval_on_selector_all(
        f'.jp-mltrack-explorer-row:not(.jp-mltrack-explorer-head) [data-col="{col}"]',
        "els => els.map(e => e.textContent)")


def _close_explorer(page):
    page.click('.lm-DockPanel-tabBar .lm-TabBar-tab[data-id="mltrack-explorer"] .lm-TabBar-tabCloseIcon')
    page.wait_for_selector("#mltrack-explorer", state="detached")


def test_the_explorer_opens_from_the_palette_the_launcher_and_the_sidebar(xpage, seeded_lab):
    page = xpage
    open_lab(page, seeded_lab)
    # the command behind the palette's "Open Experiment Explorer" entry
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    assert page.evaluate("() => window.jupyterapp.commands.label('mltrack:open-explorer')") == \
        "Open Experiment Explorer"
    _execute_open(page)
    page.wait_for_selector("#mltrack-explorer", state="visible")
    _close_explorer(page)
    # the launcher has a card for it
    page.evaluate("() => { window.jupyterapp.commands.execute('launcher:create'); }")
    # (a hidden launcher may stay in another tab: the card of the one shown)
    page.locator('.jp-LauncherCard[title*="full width"]:visible').first.click()
    page.wait_for_selector("#mltrack-explorer", state="visible")
    _close_explorer(page)
    # the sidebar's header button opens it
    open_sidebar(page)
    page.click(".jp-mltrack-open-explorer")
    page.wait_for_selector("#mltrack-explorer", state="visible")
    # one explorer, brought forward when opened again
    _execute_open(page)
    assert page.locator("#mltrack-explorer").count() == 1


def test_ten_thousand_runs_scroll_to_the_end_with_few_rows_in_the_page(xpage, seeded_lab):
    page = xpage
    _open_explorer(page, seeded_lab, "Big")
    wait_until(lambda: _total(page) == BIG, 30, "the total of 10,000 runs")
    assert page.text_content(".jp-mltrack-explorer-count").startswith("10,000 runs")
    # sort by name ascending: the first row is run-00000
    page.click('.jp-mltrack-explorer-colhead[data-col="name"]')
    wait_until(lambda: _cells(page, "name")[:1] == ["run-00000"], 30, "the table sorted by name")
    # virtualised: only the rows in view (and a few around) are in the page
    assert len(_cells(page, "name")) < 120
    # to the very end: the last rows are fetched and drawn
    page.eval_on_selector(".jp-mltrack-explorer-table", "el => { el.scrollTop = el.scrollHeight; }")
    wait_until(lambda: "run-09999" in _cells(page, "name"), 30, "the last run drawn at the bottom")
    assert len(_cells(page, "name")) < 120
    last = page.locator('.jp-mltrack-explorer-row[data-run-id="big09999"]')
    assert last.is_visible() and last.get_attribute("data-index") == str(BIG - 1)
    # and back to the middle
    page.eval_on_selector(".jp-mltrack-explorer-table", "el => { el.scrollTop = 5000 * 26; }")
    wait_until(lambda: "run-04995" in _cells(page, "name"), 30, "rows around 5,000")


def test_sorting_filtering_with_completion_and_grouping_rows(xpage, seeded_lab):
    page = xpage
    _open_explorer(page, seeded_lab, "Big")
    wait_until(lambda: _total(page) == BIG, 30, "the total")
    # a metric column sorts by the server: descending on the second click
    head = '.jp-mltrack-explorer-colhead[data-col="metrics.acc"]'
    page.click(head)
    wait_until(lambda: _cells(page, "metrics.acc")[:1] == ["0"], 30, "ascending acc")
    page.click(head)
    wait_until(lambda: _cells(page, "metrics.acc")[:1] == ["0.9999"], 30, "descending acc")
    assert page.get_attribute(head, "aria-sort") == "descending"
    # completion of the field being typed, accepted with Tab
    box = page.locator(".jp-mltrack-explorer-filter-input")
    box.click()
    box.type("params.opt")
    page.wait_for_selector('.jp-mltrack-explorer-suggestions li:has-text("params.optimizer")')
    page.keyboard.press("Tab")
    assert box.input_value() == "params.optimizer "
    box.type("= 'adam' and metrics.acc > 0.5")
    page.keyboard.press("Enter")
    expected = sum(1 for i in range(BIG) if i % 3 == 0 and i / BIG > 0.5)
    wait_until(lambda: _total(page) == expected, 30, f"{expected} runs matched")
    assert set(_cells(page, "params.optimizer")) == {"adam"}
    # a filter the server refuses says why, by the field
    box.fill("metrics.acc >>> 1")
    page.keyboard.press("Enter")
    page.wait_for_selector(".jp-mltrack-explorer .jp-mltrack-filter-error")
    box.fill("")
    wait_until(lambda: _total(page) == BIG, 30, "the filter cleared")
    # rows grouped by a param: the group starts are marked, in the group's order
    page.select_option(".jp-mltrack-explorer-rowgroup", "params.optimizer")
    wait_until(lambda: page.locator(".jp-mltrack-group-start").count() >= 1, 30, "a group start")
    first = page.locator(".jp-mltrack-group-start .jp-mltrack-explorer-group").first.text_content()
    assert first == "adam"
    page.eval_on_selector(".jp-mltrack-explorer-table", f"el => {{ el.scrollTop = {BIG // 3 - 5} * 26; }}")
    wait_until(lambda: page.locator('.jp-mltrack-group-start .jp-mltrack-explorer-group:has-text("rmsprop")').count()
               == 1, 30, "the second group's start")


def test_the_column_chooser_hides_and_pins_columns_per_project(xpage, seeded_lab):
    page = xpage
    _open_explorer(page, seeded_lab, "Big")
    wait_until(lambda: _total(page) == BIG, 30, "the total")
    # the param and metric columns come with the project's keys (GET columns), which may answer after the rows
    wait_until(lambda: page.locator('.jp-mltrack-explorer-colhead[data-col="params.lr"]').count() == 1, 30,
               "the params.lr column")
    page.click(".jp-mltrack-explorer-columns-button")
    page.uncheck('.jp-mltrack-explorer-chooser-panel li[data-col="params.lr"] input[type="checkbox"]')
    page.click('.jp-mltrack-explorer-chooser-panel li[data-col="metrics.acc"] .jp-mltrack-explorer-pin')
    page.click(".jp-mltrack-explorer-columns-button")
    assert page.locator('.jp-mltrack-explorer-colhead[data-col="params.lr"]').count() == 0
    heads = page.eval_on_selector_all(".jp-mltrack-explorer-colhead", "els => els.map(e => e.dataset.col)")
    assert heads[0] == "metrics.acc"  # pinned first
    # remembered after a reload, for this project only
    page.reload()
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started !== undefined", timeout=60_000)
    _execute_open(page)
    page.wait_for_selector(".jp-mltrack-explorer-project", state="visible", timeout=60_000)
    page.select_option(".jp-mltrack-explorer-project", "Big")
    # (a pinned metric column is laid out once the project's keys, GET columns, have answered)
    wait_until(lambda: page.locator('.jp-mltrack-explorer-colhead[data-col="metrics.acc"]').count() == 1, 30,
               "the table with its metric columns")
    heads = page.eval_on_selector_all(".jp-mltrack-explorer-colhead", "els => els.map(e => e.dataset.col)")
    assert heads[0] == "metrics.acc" and "params.lr" not in heads
    page.select_option(".jp-mltrack-explorer-project", "Curves")
    wait_until(lambda: page.locator('.jp-mltrack-explorer-colhead[data-col="metrics.loss"]').count() == 1, 30,
               "the other project's default columns")
    heads = page.eval_on_selector_all(".jp-mltrack-explorer-colhead", "els => els.map(e => e.dataset.col)")
    assert heads[0] == "name"


def _chart(page):
    return page.locator('.jp-mltrack-explorer-chart[data-metric="loss"]')


def _run_color(page, run_id: str) -> tuple[int, int, int]:
    """The colour a run's line is drawn in (its legend swatch), as RGB."""
    css = page.eval_on_selector(
        f'.jp-mltrack-explorer-chart[data-metric="loss"] .jp-mltrack-explorer-legend li[data-run-id="{run_id}"] '
        ".jp-mltrack-swatch", "el => getComputedStyle(el).backgroundColor")
    return tuple(int(x) for x in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def _pixels_of(page, rgb: tuple[int, int, int], tolerance: int = 30) -> int:
    """How many pixels of the loss chart's canvas are close to ``rgb``."""
    return page.eval_on_selector(
        '.jp-mltrack-explorer-chart[data-metric="loss"] canvas',
        """(c, [r, g, b, tol]) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i + 3] > 200 && Math.abs(d[i] - r) <= tol && Math.abs(d[i + 1] - g) <= tol
                        && Math.abs(d[i + 2] - b) <= tol) n++;
            }
            return n;
        }""", [*rgb, tolerance])


def test_the_metric_explorer_draws_runs_and_groups_with_bands(xpage, seeded_lab):
    page = xpage
    _open_explorer(page, seeded_lab, "Curves")
    wait_until(lambda: _total(page) == 12, 30, "the 12 curves")
    # select three rows in the table: those are the runs charted
    for rid in ("curve00", "curve01", "curve02"):
        page.click(f'.jp-mltrack-explorer-row[data-run-id="{rid}"] input[type="checkbox"]')
    assert "3 selected" in page.text_content(".jp-mltrack-explorer-count")
    page.click('.jp-mltrack-explorer-tab[data-tab="metrics"]')
    page.check('.jp-mltrack-explorer-metric-picker label:has-text("loss") input')
    wait_until(lambda: _chart(page).count() == 1 and _chart(page).get_attribute("data-lines") == "3", 30,
               "three lines")
    assert _chart(page).locator("canvas").count() >= 1
    # the numbers drawn are the runs' own (the series come as msgpack: little-endian int64 steps, float64 values)
    ys = [_CURVE_LEVEL[OPTIMIZERS[i % 3]] + 0.01 * i + 1.0 / (1 + s) for i in range(3) for s in (0, 49)]
    assert _chart(page).get_attribute("data-x-range") == "0,49"
    lo, hi = map(float, _chart(page).get_attribute("data-y-range").split(","))
    assert (lo, hi) == (pytest.approx(min(ys)), pytest.approx(max(ys)))
    # the lines are drawn: each run's own colour is on the canvas
    for rid in ("curve00", "curve01", "curve02"):
        assert _pixels_of(page, _run_color(page, rid)) > 30, f"{rid}'s line is not drawn"
    assert _chart(page).get_attribute("data-groups") == "0"
    # no selection: the first runs of the table (all 12 here), grouped by optimizer with a min/max band each
    page.click('.jp-mltrack-explorer-tab[data-tab="runs"]')
    page.click(".jp-mltrack-explorer-clear")
    page.click('.jp-mltrack-explorer-tab[data-tab="metrics"]')
    page.select_option(".jp-mltrack-explorer-groupby", "params.optimizer")
    wait_until(lambda: _chart(page).get_attribute("data-groups") == "3"
               and _chart(page).get_attribute("data-lines") == "12", 30, "three groups of four runs")
    assert _chart(page).get_attribute("data-bands") == "3"
    # each group's mean line is drawn in its colour, its band in a lighter tint of it
    for rgb in ((0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c)):
        assert _pixels_of(page, rgb) > 30, f"no line of colour {rgb}"
    legend = _chart(page).locator(".jp-mltrack-explorer-legend li").all_text_contents()
    assert legend == ["adam · 4 runs", "rmsprop · 4 runs", "sgd · 4 runs"]
    # no band on request; log y and smoothing redraw without losing the groups
    page.select_option(".jp-mltrack-explorer-band", "none")
    wait_until(lambda: _chart(page).get_attribute("data-bands") == "0", 30, "no bands")
    page.check(".jp-mltrack-explorer-logy")
    page.fill(".jp-mltrack-explorer-smoothing", "0.6")
    assert _chart(page).get_attribute("data-groups") == "3"
    # x as relative time keeps every line
    page.select_option(".jp-mltrack-explorer-x", "relative")
    wait_until(lambda: _chart(page).get_attribute("data-lines") == "12", 30, "lines on relative time")


def test_the_explorer_is_live_while_runs_log(xpage, seeded_lab):
    page = xpage
    _open_explorer(page, seeded_lab, "Curves")
    wait_until(lambda: _total(page) == 12, 30, "the 12 curves")
    store = seeded_lab.store()
    try:
        store.write_batch({"runs": [{"id": "curve12", "name": "curve-12", "project": "Curves"}],
                           "params": [{"run_id": "curve12", "key": "optimizer", "value": "adam"}],
                           "metrics": [{"run_id": "curve12", "name": "loss", "steps": [0, 1], "values": [0.3, 0.2]}]})
    finally:
        store.close()
    wait_until(lambda: _total(page) == 13, 30, "the new run shown without a reload")
    page.click('.jp-mltrack-explorer-tab[data-tab="metrics"]')
    page.check('.jp-mltrack-explorer-metric-picker label:has-text("loss") input')
    wait_until(lambda: _chart(page).get_attribute("data-lines") == "13", 30, "the new run's line")


def test_the_lab_asks_nothing_about_jupyter_news(xpage, seeded_lab):
    """The environment `make lab` and `make test` install (binder/overrides.json) turns JupyterLab's news prompt
    off: no toast covers the page."""
    page = xpage
    open_lab(page, seeded_lab)
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    page.wait_for_timeout(3000)  # the prompt shows a moment after start-up
    assert page.locator(".Toastify__toast").filter(has_text="Jupyter news").count() == 0
