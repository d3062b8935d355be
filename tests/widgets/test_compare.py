"""Compare's model in Python: differences, best run, goal, overlay, following a RunTable's selection."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.client.tracking import get_client


@pytest.fixture
def sweep(tracking):
    R = tracking
    ids = []
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        with R.start_run(f"lr{lr}", params={"lr": lr, "opt": "adam", "layers": i}, capture_environment=False) as r:
            r.log_metric_series("loss", np.exp(-lr * np.arange(100)), context={"subset": "val"})
            r.log_metric("acc", 0.5 + lr)
        ids.append(r.id)
    R.flush()
    return R, ids


def test_differences_best_and_goal(sweep):
    from jupyter_mltrack.widgets.compare import compare

    R, ids = sweep
    c = compare(ids)
    assert c.metric == "loss[subset=val]" and c.goal == "min"  # a validation loss: lower is better
    assert c.best_run == ids[0]  # exp(-0.1 * 99) is the smallest final loss
    assert c.differing == ["layers", "lr"] and "opt" in c.params
    assert [r["run_id"] for r in c.runs] == ids
    assert len(c.overlay) == 3 and all(len(s["steps"]) == 100 for s in c.overlay)
    c.metric = "acc"
    assert c.goal == "max" and c.best_run == ids[0]
    c.goal = "min"
    assert c.best_run == ids[2]
    c.metric = "loss[subset=val]"
    assert c.goal == "min"  # an explicit goal is kept


def test_static_table_and_errors(sweep):
    from jupyter_mltrack.widgets.compare import MAX_RUNS, compare

    R, ids = sweep
    c = compare(ids + ["ghost"], metric="acc")
    assert c.error == "not found: ghost" and len(c.runs) == 3
    html = c.to_html()
    assert "<th>params.lr</th>" in html and "<th>params.opt</th>" not in html and "best by max acc" in html
    c.differences_only = False
    assert "<th>params.opt</th>" in c.to_html()
    with pytest.raises(InvalidInput):
        compare([f"r{i}" for i in range(MAX_RUNS + 1)])


def test_follows_run_table_selection(sweep):
    from jupyter_mltrack.widgets.compare import compare
    from jupyter_mltrack.widgets.run_table import RunTable

    R, ids = sweep
    table = RunTable(live=False)
    c = compare(table)
    assert len(c.runs) == 3
    table.selected = [ids[1], ids[2]]
    assert [r["run_id"] for r in c.runs] == [ids[1], ids[2]]


def test_many_runs(tracking):
    from jupyter_mltrack.widgets.compare import compare

    R = tracking
    store = get_client().backend.store
    runs = [{"id": f"m{i:04d}", "project": "Many"} for i in range(1000)]
    params = [{"run_id": f"m{i:04d}", "key": "lr", "value": i / 1000} for i in range(1000)]
    metrics = [{"run_id": f"m{i:04d}", "name": "acc", "values": list(np.linspace(0, i / 1000, 50))} for i in range(1000)]
    store.write_batch({"runs": runs, "params": params, "metrics": metrics})
    c = compare([r["id"] for r in runs])
    assert len(c.runs) == 1000 and c.best_run == "m0999" and len(c.overlay) == 1000
