"""Figures and images in JupyterLab, in Debian's chromium over a real server and store: an image series whose step
slider changes the image shown, a confusion matrix with its counts in the sidebar's run detail (and its normalised
view), and two runs' figures side by side in the explorer with one slider shared by both."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import new_page, open_lab, wait_until

pytestmark = pytest.mark.ui

Y_TRUE = ["cat", "dog", "dog", "bird", "cat", "dog", "dog"]
Y_PRED = ["cat", "dog", "cat", "bird", "cat", "bird", "dog"]
# rows true bird, cat, dog; columns predicted bird, cat, dog
COUNTS = {("bird", "bird"): 1, ("cat", "cat"): 2, ("dog", "dog"): 2, ("dog", "cat"): 1, ("dog", "bird"): 1,
          ("cat", "dog"): 0}


def _log(store_dir) -> dict[str, dict[str, list[int]]]:
    """Two runs of project "Figs" logged with the Python API into the lab's store: run "figs-a" an image series at
    steps 0, 1, 2, a confusion matrix, a matplotlib and a plotly figure; "figs-b" the series at steps 0 and 2. Answers run id → figure key →
    the artifact id of each step."""
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

    import jupyter_mltrack as mlt
    from jupyter_mltrack.client.tracking import reset

    mlt.set_tracking_uri(str(store_dir))
    ids = {}
    try:
        with mlt.start_run("figs-a", project="Figs", capture_environment=False) as a:
            for step in (0, 1, 2):
                mlt.log_image(np.full((6, 8, 3), (80 * step, 40, 200 - 80 * step), dtype=np.uint8), "samples",
                              step=step)
            mlt.log_confusion_matrix(Y_TRUE, Y_PRED)
            fig = Figure(figsize=(3, 2))
            fig.add_subplot().plot([1, 3, 2])
            mlt.log_figure(fig, "curve")
            mlt.log_figure(go.Figure(go.Bar(x=["x", "y"], y=[4, 5])), "bars")
        with mlt.start_run("figs-b", project="Figs", capture_environment=False) as b:
            for step in (0, 2):
                mlt.log_image(np.full((6, 8), 30 + 100 * step, dtype=np.uint8), "samples", step=step)
        mlt.flush()
        for run in (a, b):
            ids[run.id] = {f["key"]: [s["artifact_id"] for s in f["steps"]] for f in run.figures}
    finally:
        reset()
    return ids


@pytest.fixture(scope="module")
def figs(lab):
    return _log(lab.store_dir)


@pytest.fixture
def fpage(browser, lab, request):
    with new_page(browser, lab, request.node.name) as p:
        yield p


def _run_ids(figs):
    a, b = list(figs)
    return a, b


def _open_run(page, run_id):
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-run')", timeout=60_000)
    page.evaluate("(id) => { window.jupyterapp.commands.execute('mltrack:open-run', {runId: id}); }", run_id)
    detail = page.locator(f'.jp-mltrack-run-detail[data-run-id="{run_id}"]')
    detail.wait_for()
    return detail


def _shown(img) -> str:
    """The artifact file an image shows, once it is loaded (decoded, with pixels)."""
    img.wait_for()
    return wait_until(lambda: img.evaluate("el => el.complete && el.naturalWidth > 0 ? el.dataset.artifact : ''"),
                      30, "the image to load")


def test_an_image_series_slider_changes_the_image(fpage, lab, figs):
    page = fpage
    a, _ = _run_ids(figs)
    steps = figs[a]["samples"]
    open_lab(page, lab)
    detail = _open_run(page, a)
    card = detail.locator('figure.jp-mltrack-figure[data-figure="samples"]')
    card.wait_for()
    img = card.locator("img.jp-mltrack-figure-img")
    assert _shown(img) == f"{steps[2]}/image.png"  # the newest step first
    assert card.locator(".jp-mltrack-step-value").get_attribute("data-step") == "2"
    slider = card.locator('input[type="range"]')
    slider.fill("0")
    wait_until(lambda: _shown(img) == f"{steps[0]}/image.png", 30, "step 0's image")
    assert card.locator(".jp-mltrack-step-value").get_attribute("data-step") == "0"
    slider.fill("1")
    wait_until(lambda: _shown(img) == f"{steps[1]}/image.png", 30, "step 1's image")
    # the pixels are step 1's: red 80, green 40, blue 120
    rgb = img.evaluate("""el => { const c = document.createElement('canvas'); c.width = el.naturalWidth;
        c.height = el.naturalHeight; const g = c.getContext('2d'); g.drawImage(el, 0, 0);
        return Array.from(g.getImageData(1, 1, 1, 1).data.slice(0, 3)); }""")
    assert rgb == [80, 40, 120]


def test_a_confusion_matrix_in_the_run_detail(fpage, lab, figs):
    page = fpage
    a, _ = _run_ids(figs)
    open_lab(page, lab)
    detail = _open_run(page, a)
    grid = detail.locator('figure[data-figure="confusion_matrix"] .jp-mltrack-confusion-grid')
    grid.wait_for()
    assert grid.locator("td.jp-mltrack-confusion-cell").count() == 9
    for (t, p), n in COUNTS.items():
        cell = grid.locator(f'td[data-true="{t}"][data-pred="{p}"]')
        assert cell.inner_text() == str(n), (t, p)
    heads = grid.locator("thead th").all_inner_texts()
    assert heads[1:] == ["bird", "cat", "dog"]
    # normalised by true label: dog's row is 1/4, 1/4, 2/4
    detail.locator('figure[data-figure="confusion_matrix"] .jp-mltrack-confusion-normalize').check()
    wait_until(lambda: grid.locator('td[data-true="dog"][data-pred="dog"]').inner_text() == "0.50", 10,
               "the normalised view")
    assert grid.locator('td[data-true="dog"][data-pred="bird"]').inner_text() == "0.25"


def test_two_runs_side_by_side_in_the_explorer(fpage, lab, figs):
    page = fpage
    a, b = _run_ids(figs)
    open_lab(page, lab)
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('mltrack:open-explorer'); }")
    page.wait_for_selector(".jp-mltrack-explorer-project", state="visible")
    page.select_option(".jp-mltrack-explorer-project", "Figs")
    page.wait_for_selector('.jp-mltrack-explorer[data-project="Figs"]')
    for rid in (a, b):
        page.click(f'.jp-mltrack-explorer-row[data-run-id="{rid}"] input[type="checkbox"]')
    page.click('.jp-mltrack-explorer-tab[data-tab="figures"]')
    row = page.locator('.jp-mltrack-figures-row[data-figure="samples"]')
    row.wait_for()
    heads = page.locator(".jp-mltrack-figures-heads .jp-mltrack-figures-run")
    order = [heads.nth(i).get_attribute("data-run-id") for i in range(heads.count())]
    assert sorted(order) == sorted([a, b])
    cell = {rid: row.locator(f'.jp-mltrack-figures-cell[data-run-id="{rid}"] img') for rid in (a, b)}
    # the newest step (2) in both columns
    assert _shown(cell[a]) == f"{figs[a]['samples'][2]}/image.png"
    assert _shown(cell[b]) == f"{figs[b]['samples'][1]}/image.png"
    # one slider for both: step 1 is a's own, and b's last image before it (step 0)
    row.locator('input[type="range"]').fill("1")
    wait_until(lambda: _shown(cell[a]) == f"{figs[a]['samples'][1]}/image.png", 30, "a's step 1")
    assert _shown(cell[b]) == f"{figs[b]['samples'][0]}/image.png"
    # the confusion matrix row: a's grid, and b has none
    cm = page.locator('.jp-mltrack-figures-row[data-figure="confusion_matrix"]')
    cm.locator(f'.jp-mltrack-figures-cell[data-run-id="{a}"] .jp-mltrack-confusion-grid').wait_for()
    assert "not logged by this run" in cm.locator(f'.jp-mltrack-figures-cell[data-run-id="{b}"]').inner_text()


def test_matplotlib_and_plotly_figures_in_the_run_detail(fpage, lab, figs):
    page = fpage
    a, _ = _run_ids(figs)
    open_lab(page, lab)
    detail = _open_run(page, a)
    assert _shown(detail.locator('figure[data-figure="curve"] img')) == f"{figs[a]['curve'][0]}/figure.svg"
    # plotly.js comes from the server (as for the notebook widgets) and draws the stored JSON
    detail.locator('figure[data-figure="bars"] .jp-mltrack-figure-plotly .main-svg').first.wait_for()
    assert detail.locator('figure[data-figure="bars"] .jp-mltrack-figure-plotly .bars path').count() == 2


def test_the_slider_follows_a_series_still_logging(fpage, lab, figs):
    """Left at the newest step, the slider moves on as steps arrive; moved back, it stays where it was put."""
    import jupyter_mltrack as mlt
    from jupyter_mltrack.client.tracking import reset

    page = fpage
    mlt.set_tracking_uri(str(lab.store_dir))
    try:
        run = mlt.start_run("figs-live", project="Figs", capture_environment=False)
        run.log_image(np.zeros((4, 4), dtype=np.uint8), "live", step=0)
        run.log_image(np.zeros((4, 4), dtype=np.uint8) + 50, "live", step=1)
        run.flush()
        open_lab(page, lab)
        detail = _open_run(page, run.id)
        value = detail.locator('figure[data-figure="live"] .jp-mltrack-step-value')
        value.wait_for()
        assert value.get_attribute("data-step") == "1"
        run.log_image(np.zeros((4, 4), dtype=np.uint8) + 100, "live", step=2)
        run.flush()
        wait_until(lambda: value.get_attribute("data-step") == "2", 30, "the new step to show")
        detail.locator('figure[data-figure="live"] input[type="range"]').fill("0")
        wait_until(lambda: value.get_attribute("data-step") == "0", 10, "step 0")
        run.log_image(np.zeros((4, 4), dtype=np.uint8) + 150, "live", step=3)
        run.flush()
        wait_until(lambda: "of 4" in detail.locator('figure[data-figure="live"] .jp-mltrack-step-slider').inner_text(),
                   30, "the fourth step to arrive")
        assert value.get_attribute("data-step") == "0"
        run.end()
    finally:
        reset()
