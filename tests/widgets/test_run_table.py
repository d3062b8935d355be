"""RunTable's model, tested in Python: paging, server-side filter/sort, columns, selection, live refresh."""

from __future__ import annotations

import time

import pytest
from jupyter_mltrack.client.tracking import get_client


@pytest.fixture
def runs(tracking):
    R = tracking
    for i in range(60):
        with R.start_run(f"r{i:02d}", project="T", params={"lr": i / 100, "opt": "adam" if i % 2 else "sgd"},
                         capture_environment=False) as r:
            r.log_metric("acc", i / 60)
            r.log_metric("loss", 1 - i / 60, context={"subset": "val"})
    R.flush()
    return R


def test_pages_not_everything(runs):
    from jupyter_mltrack.widgets.run_table import RunTable

    t = RunTable(project="T", page_size=10, live=False)
    assert t.total == 60 and len(t.rows) == 10
    assert [r["name"] for r in t.rows][:2] == ["r59", "r58"]  # newest first
    assert t.columns == ["params.lr", "params.opt", "metrics.acc", "metrics.loss[subset=val]"]
    assert {"name", "status", "start_time", "duration", "params.lr", "tags.x"} - set(t.available_columns) == {"tags.x"}
    t.page = 5
    assert [r["name"] for r in t.rows][0] == "r09"
    t.page = 99  # past the end: clamped to the last page
    assert t.page == 5


def test_filter_sort_and_errors(runs):
    from jupyter_mltrack.widgets.run_table import RunTable

    t = RunTable(project="T", page_size=10, live=False)
    t.page = 3
    t.filter = "params.opt = 'adam' and metrics.acc > 0.5"
    assert t.page == 0 and t.total == 15 and all(r["params.opt"] == "adam" for r in t.rows)
    t.order_by = "metrics.acc ASC"
    accs = [r["metrics.acc"] for r in t.rows]
    assert accs == sorted(accs) and accs[0] > 0.5
    t.order_by = "metrics.loss[subset=val] DESC"
    losses = [r["metrics.loss[subset=val]"] for r in t.rows]
    assert losses == sorted(losses, reverse=True)
    before = list(t.rows)
    t.filter = "metrics.acc >"
    assert "search" in t.error and t.rows == before  # a bad filter explains itself and keeps the table
    t.filter = "params.lr < 0.05"
    assert t.error == "" and t.total == 5


def test_selection_and_columns(runs):
    from jupyter_mltrack.widgets.run_table import RunTable

    t = RunTable(project="T", page_size=5, columns=["params.lr"], live=False)
    assert t.columns == ["params.lr"]
    t.selected = [t.rows[0]["run_id"], t.rows[1]["run_id"]]
    df = t.selected_runs
    assert sorted(df["run_id"]) == sorted(t.selected) and "params.lr" in df.columns
    t.columns = ["metrics.acc"]
    assert t.columns == ["metrics.acc"]
    html = t.to_html()
    assert "<th>metrics.acc</th>" in html and "r59" in html and "60 runs" in html
    bundle = t._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data and "text/html" not in data
    # the static rendering is an output of its own, marked for the view to hide once it has drawn
    assert t.fallback_bundle()["text/html"] == (f'<div class="mltrack-fallback" data-mltrack-fallback="{t.fallback_id}">'
                                                f"{html}</div>")


def test_live_refresh(runs):
    from jupyter_mltrack.widgets.run_table import RunTable

    R = runs
    t = RunTable(project="T", page_size=10, live=True)
    t.comm  # the widget is open
    with R.start_run("late", project="T", capture_environment=False):
        pass
    R.flush()
    deadline = time.time() + 10
    while time.time() < deadline and t.total != 61:
        time.sleep(0.2)
    assert t.total == 61 and t.rows[0]["name"] == "late"
    t.close()


def test_ten_thousand_runs_one_page_at_a_time(tracking):
    """10,000 runs: the widget holds one page; sorting and filtering run in the store."""
    from jupyter_mltrack.widgets.run_table import RunTable

    store = get_client().backend.store
    for start in range(0, 10_000, 2_500):
        ids = [f"k{i:05d}" for i in range(start, start + 2_500)]
        store.write_batch({
            "runs": [{"id": i, "project": "Big", "status": "finished"} for i in ids],
            "params": [{"run_id": i, "key": "lr", "value": int(i[1:]) / 10_000} for i in ids],
            "metrics": [{"run_id": i, "name": "acc", "values": [(int(i[1:]) * 7919 % 10_000) / 10_000]} for i in ids],
        })
    t = RunTable(project="Big", page_size=50, live=False)
    assert t.total == 10_000 and len(t.rows) == 50
    t.order_by = "metrics.acc DESC"
    assert t.rows[0]["metrics.acc"] == 0.9999 and len(t.rows) == 50
    t.filter = "params.lr >= 0.5 and metrics.acc < 0.1"
    want = [i for i in range(10_000) if i >= 5_000 and i * 7919 % 10_000 < 1_000]
    assert t.total == len(want) == 501
    best = sorted(want, key=lambda i: -(i * 7919 % 10_000))[:50]  # still sorted by acc, descending (all distinct)
    assert [r["run_id"] for r in t.rows] == [f"k{i:05d}" for i in best]
    assert [r["metrics.acc"] for r in t.rows] == [i * 7919 % 10_000 / 10_000 for i in best]
    import json

    assert len(json.dumps(t.get_state()["rows"])) < 100_000  # the browser gets a page, never 10k rows
