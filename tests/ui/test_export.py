"""An exported report opens in chromium with its charts drawn."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ui


def test_report_charts_render(tracking, tmp_path, browser):
    R = tracking
    ids = []
    for lr in (0.1, 0.01):
        with R.start_run(f"lr-{lr}", params={"lr": lr}) as run:
            for i in range(50):
                run.log_metric("loss", 1.0 / (1 + lr * i), step=i)
        ids.append(run.id)
    # plotly.js inside the file: the test machine has no network to load it from the CDN (see the test below)
    path = R.export_report(ids, tmp_path / "report.html", plotly="inline")
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=20_000)
    traces = page.locator(".js-plotly-plot .scatterlayer .trace").count()
    assert traces == 2
    # the plot area has drawn lines: non-empty SVG paths with real length
    lengths = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line'))
        .map(p => p.getTotalLength())""")
    assert len(lengths) == 2 and min(lengths) > 100
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    shot = page.locator(".js-plotly-plot").first.screenshot()
    # not a blank image: a PNG of a drawn chart compresses far worse than an empty one
    assert len(shot) > 8000
    ctx.close()


def test_a_light_report_opened_offline_says_how_to_get_charts(tracking, tmp_path, browser):
    """The default report loads plotly.js from the CDN; where it cannot (offline, as here: every request leaving
    the file is refused), each chart says how to export one that works offline instead of staying blank."""
    R = tracking
    with R.start_run("light", params={"lr": 0.1}) as run:
        for i in range(20):
            run.log_metric("loss", 1.0 / (1 + i), step=i)
    path = R.export_report([run.id], tmp_path / "light.html")
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    ctx.route("http*://**/*", lambda route: route.abort())
    page = ctx.new_page()
    page.goto(path.as_uri())
    note = page.get_by_text("This chart needs plotly.js from cdn.plot.ly, which did not load")
    note.first.wait_for(timeout=20_000)
    assert "plotly='inline'" in note.first.inner_text() and "plotly='static'" in note.first.inner_text()
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() == 0
    ctx.close()
