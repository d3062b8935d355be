"""MetricChart's model in Python: traces, downsampling, zoom detail, contexts, colour groups, live reload,
static fallbacks."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest


@pytest.fixture
def two_runs(tracking):
    R = tracking
    ids = []
    for lr in (0.1, 0.01):
        with R.start_run(f"lr{lr}", params={"lr": lr, "opt": "adam"}, capture_environment=False) as r:
            r.log_metric_series("loss", np.exp(-lr * np.arange(100_000) / 1000), context={"subset": "train"})
            r.log_metric_series("loss", np.arange(50, dtype=float), steps=np.arange(0, 100_000, 2000),
                                context={"subset": "val"})
            r.log_metric("acc", 0.5 + lr)
        ids.append(r.id)
    R.flush()
    return R, ids


def test_traces_downsampled_and_styled(two_runs):
    from jupyter_mltrack.widgets.metric_chart import MetricChart

    R, ids = two_runs
    c = MetricChart(ids, max_points=500, live=False)
    assert c.metrics == ["acc", "loss"]
    keys = sorted((t["key"], t["run_id"]) for t in c.traces)
    assert len(keys) == 6
    train = [t for t in c.traces if t["key"] == "loss[subset=train]"]
    assert all(t["downsampled"] and len(t["steps"]) <= 500 and t["total_count"] == 100_000 for t in train)
    assert train[0]["values"][0] == 1.0  # the extremes survive downsampling
    val = [t for t in c.traces if t["key"] == "loss[subset=val]"]
    assert len({t["dash"] for t in train + val}) == 2  # contexts drawn distinctly
    assert len({t["color"] for t in train}) == 2  # one colour per run
    only = MetricChart(ids, metrics="loss", context={"subset": "val"}, live=False)
    assert {t["key"] for t in only.traces} == {"loss[subset=val]"}


def test_zoom_fetches_detail(two_runs):
    from jupyter_mltrack.widgets.metric_chart import MetricChart

    R, ids = two_runs
    c = MetricChart(ids, metrics="loss", context={"subset": "train"}, max_points=300, live=False)
    c.x_range = [1000.0, 1199.0]
    t = c.traces[0]
    assert t["steps"][0] == 1000 and t["steps"][-1] == 1199 and len(t["steps"]) == 200 and not t["downsampled"]
    c.x_range = []
    assert c.traces[0]["total_count"] == 100_000


def test_colour_by_param(two_runs):
    from jupyter_mltrack.widgets.metric_chart import MetricChart

    R, ids = two_runs
    c = MetricChart(ids, metrics="acc", live=False)
    assert c.color_options == ["lr", "opt"]
    c.color_by = "opt"
    assert {t["group"] for t in c.traces} == {"opt=adam"} and len({t["color"] for t in c.traces}) == 1
    c.color_by = "lr"
    assert len({t["color"] for t in c.traces}) == 2


def test_live_chart_grows_while_a_run_logs(tracking):
    R = tracking
    run = R.start_run("live", capture_environment=False)
    run.log_metric("score", 0.0, step=0)
    chart = run.chart(throttle=0.2)
    assert chart.traces[0]["steps"] == [0]
    for s in range(1, 20):
        run.log_metric("score", s / 20, step=s)
    deadline = time.time() + 10
    while time.time() < deadline and len(chart.traces[0]["steps"]) < 20:
        time.sleep(0.1)
    assert len(chart.traces[0]["steps"]) == 20
    # what is drawn: the plotly figure and the SVG line have every point, in order
    bundle = chart._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    (trace,) = data["application/vnd.plotly.v1+json"]["data"]
    assert trace["x"] == list(range(20)) and trace["y"] == [s / 20 for s in range(20)]
    (points,) = re.findall(r'<polyline [^>]*points="([^"]*)"', chart.fallback_bundle()["text/html"])
    xy = [tuple(map(float, p.split(","))) for p in points.split()]
    assert len(xy) == 20
    assert [x for x, _ in xy] == sorted(x for x, _ in xy) and [y for _, y in xy] == sorted((y for _, y in xy), reverse=True)
    run.end()
    chart.close()


def test_static_fallbacks(two_runs):
    from jupyter_mltrack.widgets.metric_chart import MetricChart

    R, ids = two_runs
    c = MetricChart(ids, metrics="loss", live=False)
    bundle = c._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    fig = data["application/vnd.plotly.v1+json"]
    assert len(fig["data"]) == 4 and all(len(t["x"]) == len(t["y"]) for t in fig["data"])
    static = c.static_html()
    assert static.startswith("<div><svg") and static.count("<polyline") == 4 and static in c.fallback_bundle()["text/html"]
    # no plotly.js in the widget state: the saved notebook stays small
    import json

    state = c.get_state()
    assert len(json.dumps({k: v for k, v in state.items() if isinstance(v, (str, int, float, list, dict, bool))})) < 500_000
    # plotly.js is loaded from the server, not embedded (its bundle starts with a "plotly.js v…" banner)
    assert 'baseUrl() + "mltrack/static/plotly.min.js"' in state["_esm"]
    assert "plotly.js v" not in state["_esm"] and len(state["_esm"]) < 50_000


def test_a_run_has_one_colour_in_the_chart_the_comparison_and_the_explorer(two_runs):
    """A run is drawn in the same colour by MetricChart, compare and JupyterLab's explorer: the colour is a function
    of its id alone (pinned here to what the explorer's runColor computes), whatever else is on the chart."""
    from jupyter_mltrack.widgets.compare import compare
    from jupyter_mltrack.widgets.metric_chart import MetricChart, run_color

    # the explorer's runColor (labextension/src/explorer/chartData.ts) for these ids
    assert run_color("curve00") == "hsl(100, 70%, 40%)"
    assert run_color("a") == "hsl(340, 70%, 32%)"
    assert run_color("run-1") == "hsl(76, 70%, 56%)"
    assert run_color("0123456789abcdef0123456789abcdef") == "hsl(45, 70%, 48%)"
    R, ids = two_runs
    chart = MetricChart(ids, live=False)
    alone = MetricChart([ids[1]], live=False)
    table = compare(list(reversed(ids)), metric="acc")
    for rid in ids:
        colors = {t["color"] for t in chart.traces if t["run_id"] == rid}
        assert colors == {run_color(rid)}
        assert {r["color"] for r in table.runs if r["run_id"] == rid} == colors
    assert {t["color"] for t in alone.traces} == {run_color(ids[1])}
    # grouped by a param, a group's colour is the palette's
    chart.color_by = "opt"
    assert len({t["color"] for t in chart.traces}) == 1 and run_color(ids[0]) not in {t["color"] for t in chart.traces}
