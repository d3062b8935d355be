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
    path = R.export_report(ids, tmp_path / "report.html")
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
