"""core/metric_store.py: a series of one point keeps it in its own row instead of a chunk row; the second point
moves both into a chunk. Every read gives the point back as a chunk would."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ._helpers import sql

T = 1_700_000_000.1234567  # finer than a microsecond: a chunk keeps the time to the microsecond


def _chunks(store, run_id="r"):
    return sql(store, "SELECT s.name, c.seq, c.count FROM metric_chunks c JOIN metric_series s ON s.id = c.series_id "
                      "WHERE s.run_id = :r ORDER BY s.name, c.seq", r=run_id)


def _point(store, name, run_id="r", **kw):
    p = store.get_series(run_id, name, **kw)["points"]
    return p.steps.tolist(), p.timestamps.tolist(), p.values.tolist()


def _log(store, name, values, steps, run_id="r", t=T):
    store.write_batch({"metrics": [{"run_id": run_id, "name": name, "values": values, "steps": steps,
                                    "timestamps": [t + i for i in range(len(values))]}]})


@pytest.fixture
def run(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}, {"id": "q", "project": "P"}]})
    return store


def test_final_metrics_logged_once_store_no_chunk(run):
    store = run
    store.write_batch({"metrics": [{"run_id": "r", "name": f"m{i}", "values": [i + 0.5], "steps": [7],
                                    "timestamps": [T]} for i in range(10)]})
    assert _chunks(store) == []
    assert sql(store, "SELECT count(*) FROM metric_series WHERE run_id = 'r' AND count = 1 AND chunks = 0")[0][0] == 10
    micro = round(T * 1e6) / 1e6
    for i in range(10):
        assert _point(store, f"m{i}") == ([7], [micro], [i + 0.5])
        assert _point(store, f"m{i}", max_points=3) == ([7], [micro], [i + 0.5])
    assert {m["key"]: (m["last"], m["last_step"], m["count"]) for m in store.get_run("r")["metrics"]} == {
        f"m{i}": (i + 0.5, 7, 1) for i in range(10)}


def test_a_point_kept_in_the_row_reads_as_one_from_a_chunk(run):
    """The same point logged as a series' only point (kept in the row) and as the first of two (in a chunk)."""
    store = run
    _log(store, "only", [0.1 + 0.2], [3], run_id="r")
    _log(store, "only", [0.1 + 0.2, 9.0], [3, 4], run_id="q")
    a = store.get_series("r", "only")["points"]
    b = store.get_series("q", "only")["points"]
    assert (a.steps[0], a.timestamps[0], a.values[0]) == (b.steps[0], b.timestamps[0], b.values[0])
    assert a.timestamps.dtype == b.timestamps.dtype == np.float64 and a.steps.dtype == np.int64


def test_the_second_point_moves_both_into_a_chunk(run):
    store = run
    _log(store, "m", [1.5], [0])
    assert _chunks(store) == []
    _log(store, "m", [2.5, 3.5], [1, 2], t=T + 10)
    assert _chunks(store) == [("m", 0, 3)]
    steps, times, values = _point(store, "m")
    assert (steps, values) == ([0, 1, 2], [1.5, 2.5, 3.5])
    assert times == [round(t * 1e6) / 1e6 for t in (T, T + 10, T + 11)]
    s = store.get_series("r", "m")
    assert s["total_count"] == 3


def test_many_runs_and_a_step_range_read_points_kept_in_rows(run):
    store = run
    _log(store, "m", [1.0], [5], run_id="r")
    _log(store, "m", [2.0, 3.0], [5, 6], run_id="q")
    many = {s["run_id"]: s for s in store.get_series_many(["r", "q"], "m")}
    assert many["r"]["points"].values.tolist() == [1.0] and many["r"]["total_count"] == 1
    assert many["q"]["points"].values.tolist() == [2.0, 3.0]
    inside = {s["run_id"]: s["points"].values.tolist() for s in store.get_series_many(["r", "q"], "m",
                                                                                      step_range=(5, 5))}
    assert inside == {"r": [1.0], "q": [2.0]}
    outside = {s["run_id"]: s["points"].values.tolist() for s in store.get_series_many(["r", "q"], "m",
                                                                                       step_range=(6, 9))}
    assert outside == {"r": [], "q": [3.0]}
    assert [s["run_id"] for s in store.get_series_many(["r", "q"], "m", max_points=3)] == ["r", "q"]


@pytest.mark.parametrize("value", [float("nan"), -0.0], ids=["nan", "negative-zero"])
def test_a_value_the_row_cannot_hold_exactly_goes_to_a_chunk(run, value):
    """NaN is stored as NULL in the row and −0.0 loses its sign there: such a point is written to a chunk, and its
    bits come back."""
    store = run
    raw = np.array([value]).view(np.uint64)[0]
    _log(store, "m", [value], [0])
    assert _chunks(store) == [("m", 0, 1)]
    assert store.get_series("r", "m")["points"].values.view(np.uint64).tolist() == [raw]
    _log(store, "m", [4.0], [1])  # and the series goes on from its chunk
    p = store.get_series("r", "m")["points"]
    assert p.values.view(np.uint64).tolist() == [raw, np.array([4.0]).view(np.uint64)[0]]
    assert _chunks(store) == [("m", 0, 2)]


def test_infinities_are_kept_in_the_row(run):
    store = run
    _log(store, "up", [math.inf], [0])
    _log(store, "down", [-math.inf], [0])
    assert _chunks(store) == []
    assert _point(store, "up")[2] == [math.inf] and _point(store, "down")[2] == [-math.inf]


def test_the_summaries_of_a_point_kept_in_the_row(run):
    """Its row stores no min and max: every read gives its value for them, and the filters and orders use it."""
    store = run
    _log(store, "m", [2.5], [0], run_id="r")
    _log(store, "m", [1.0, 4.0], [0, 1], run_id="q")
    assert sql(store, "SELECT min, max FROM metric_series WHERE run_id = 'r'") == [(None, None)]
    (m,) = store.get_run("r")["metrics"]
    assert (m["last"], m["min"], m["max"], m["count"]) == (2.5, 2.5, 2.5, 1)
    full = {r["id"]: r["metrics"][0] for r in store.search_runs()[0]}
    assert (full["r"]["min"], full["r"]["max"]) == (2.5, 2.5) and (full["q"]["min"], full["q"]["max"]) == (1.0, 4.0)
    found = lambda f: {r["id"] for r in store.search_runs(filter=f)[0]}  # noqa: E731
    assert found("min(metrics.m) > 2") == {"r"}
    assert found("max(metrics.m) < 3") == {"r"}
    assert found("max(metrics.m) > 3") == {"q"}
    assert [r["id"] for r in store.search_runs(order_by="min(metrics.m) DESC")[0]] == ["r", "q"]
    assert [r["id"] for r in store.search_runs(order_by="max(metrics.m) DESC")[0]] == ["q", "r"]


def test_the_point_kept_in_the_row_counts_in_the_summaries_after_more_points(run):
    store = run
    _log(store, "m", [10.0], [0])
    _log(store, "m", [5.0, 7.0], [1, 2])
    (m,) = store.get_run("r")["metrics"]
    assert (m["last"], m["min"], m["max"], m["count"]) == (7.0, 5.0, 10.0, 3)
    _log(store, "n", [-3.0], [0])
    _log(store, "n", [1.0], [1])
    (_, n), = [(k, v) for k, v in {x["key"]: x for x in store.get_run("r")["metrics"]}.items() if k == "n"]
    assert (n["min"], n["max"]) == (-3.0, 1.0)
