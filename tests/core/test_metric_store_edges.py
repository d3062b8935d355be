"""core/metric_store.py at its edges: which first point a series keeps in its row, that point moved into a chunk by
the next write, steps continued after the series' last one up to the 64-bit limit, parts with and without steps in
one batch, the points a batch reports, and what a read of a one-point series says about itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jupyter_mltrack.core import series as SER
from jupyter_mltrack.core.errors import Forbidden, InvalidInput, NotFound
from jupyter_mltrack.core.series import CHUNK_POINTS as C
from jupyter_mltrack.core.series import downsample, use_overviews

from ._helpers import sql

INT64_MAX = 2**63 - 1


def _chunks(store, run_id: str, name: str = "m") -> int:
    return sql(store, "select chunks from metric_series where run_id = :r and name = :n", r=run_id, n=name)[0][0]


@pytest.mark.parametrize("value, in_row", [
    (1.5, True), (-1.5, True), (0.0, True), (math.inf, True), (-math.inf, True),
    (-0.0, False),  # SQLite stores an integral REAL as an integer: the sign of zero would be lost
    (math.nan, False),  # stored as NULL: its sign and payload would be lost
])
def test_a_first_point_is_kept_in_the_row_only_when_the_row_holds_it_exactly(store, value, in_row):
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "steps": [7], "values": [value],
                                    "timestamps": [1_700_000_000.25]}]})
    assert _chunks(store, "r") == (0 if in_row else 1)
    s = store.get_series("r", "m")
    assert (s["total_count"], s["downsampled"]) == (1, False)
    got = float(s["points"].values[0])
    assert (math.isnan(got) and math.isnan(value)) or (got == value and math.copysign(1, got) == math.copysign(1, value))
    assert s["points"].steps.tolist() == [7]
    assert s["points"].timestamps.tolist() == [1_700_000_000.25]


def test_the_point_kept_in_the_row_moves_into_the_chunk_as_a_chunk_would_have_kept_it(store):
    t0 = 1_700_000_000.1234567  # below the microsecond: a chunk keeps microseconds
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "steps": [3], "values": [-2.5], "timestamps": [t0]}]})
    assert _chunks(store, "r") == 0
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [4, 5], "values": [1.0, 2.0],
                                    "timestamps": [t0 + 1, t0 + 2]}]})
    assert _chunks(store, "r") == 1
    s = store.get_series("r", "m")
    assert s["total_count"] == 3
    assert s["points"].steps.tolist() == [3, 4, 5]
    assert s["points"].values.tolist() == [-2.5, 1.0, 2.0]
    assert s["points"].timestamps.tolist() == [round(t * 1e6) / 1e6 for t in (t0, t0 + 1, t0 + 2)]
    assert s["points"].timestamps[0] == 1_700_000_000.123457


def test_steps_continued_after_the_last_one_may_reach_the_64_bit_limit_but_not_pass_it(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "steps": [INT64_MAX - 4], "values": [0.0]}]})
    with pytest.raises(InvalidInput) as e:
        store.write_batch({"metrics": [{"run_id": "r", "name": "m", "values": [1.0, 2.0, 3.0, 4.0, 5.0]}]})
    assert str(e.value) == (f"metric 'm': the steps after the series' last step {INT64_MAX - 4} would pass the "
                            "64-bit range; give steps explicitly")
    assert store.get_series("r", "m")["total_count"] == 1  # nothing of the refused batch
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "values": [1.0, 2.0, 3.0, 4.0]}]})
    s = store.get_series("r", "m")
    assert s["points"].steps.tolist() == [INT64_MAX - 4, INT64_MAX - 3, INT64_MAX - 2, INT64_MAX - 1, INT64_MAX]


def test_parts_without_steps_go_on_after_the_parts_before_them_in_the_batch_and_explicit_steps_stay(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    out = store.write_batch({"metrics": [
        {"run_id": "r", "name": "m", "values": [1.0, 2.0, 3.0]},  # 0, 1, 2
        {"run_id": "r", "name": "m", "steps": [10, 11], "values": [4.0, 5.0]},
        {"run_id": "r", "name": "m", "values": [6.0, 7.0]},  # 12, 13: after the batch's last step
        {"run_id": "r", "name": "m", "steps": [5], "values": [8.0]},  # an explicit step below: kept as it is
        {"run_id": "r", "name": "m", "values": [9.0]},  # 14
    ]})
    assert out["points"] == 9
    s = store.get_series("r", "m")
    assert list(zip(s["points"].steps.tolist(), s["points"].values.tolist())) == [
        (0, 1.0), (1, 2.0), (2, 3.0), (5, 8.0), (10, 4.0), (11, 5.0), (12, 6.0), (13, 7.0), (14, 9.0)]


def test_a_batch_counts_the_points_of_every_series_and_an_empty_item_stops_nothing(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    out = store.write_batch({"metrics": [
        {"run_id": "r", "name": "a", "steps": [1, 2], "values": [1.0, 2.0]},
        {"run_id": "r", "name": "empty", "steps": [], "values": []},
        {"run_id": "r", "name": "b", "steps": [1, 2, 3], "values": [1.0, 2.0, 3.0]},
        {"run_id": "r", "name": "c", "values": np.arange(20_000, dtype=np.float64)},
    ]})
    assert out["points"] == 2 + 3 + 20_000
    assert [store.get_series("r", n)["total_count"] for n in ("a", "b", "c")] == [2, 3, 20_000]


@pytest.mark.parametrize("max_points, ok", [(2, False), (3, True), (4, True), (2.5, False), (None, True)])
def test_max_points_is_an_integer_of_at_least_three_on_both_reads(store, max_points, ok):
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "values": np.arange(10, dtype=np.float64)}]})
    reads = (lambda: store.get_series("r", "m", max_points=max_points),
             lambda: store.get_series_many(["r"], "m", max_points=max_points)[0])
    for read in reads:
        if ok:
            s = read()
            assert (s["total_count"], s["downsampled"]) == (10, max_points is not None)
            assert 3 <= len(s["points"]) <= (10 if max_points is None else max_points)
        else:
            with pytest.raises(InvalidInput) as e:
                read()
            assert str(e.value) == f"max_points must be an integer ≥ 3, not {max_points!r}"


def test_a_read_says_which_series_it_is(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "loss", "context": {"subset": "val"}, "values": [0.5]}]})
    for s in (store.get_series("r", "loss", {"subset": "val"}),
              store.get_series_many(["r"], "loss", {"subset": "val"})[0]):
        assert {k: v for k, v in s.items() if k != "points"} == {
            "run_id": "r", "name": "loss", "context": {"subset": "val"}, "key": "loss[subset=val]",
            "total_count": 1, "downsampled": False}


def test_a_missing_series_and_a_missing_run_are_told_apart(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    with pytest.raises(NotFound) as e:
        store.get_series("r", "m")
    assert str(e.value) == "run r has no metric 'm'"
    with pytest.raises(NotFound) as e:
        store.get_series("nope", "m")
    assert str(e.value) == "no run 'nope'"


def test_many_series_read_together_take_only_the_context_asked_for_and_their_points_in_the_row(store):
    t = [1_700_000_000.1234567, 1_700_000_001.5, 1_700_000_002.75]
    store.write_batch({"runs": [{"id": f"r{i}", "project": "P"} for i in range(3)], "metrics": [
        *({"run_id": f"r{i}", "name": "acc", "context": {"subset": "val"}, "steps": [10 + i], "values": [0.5 + i],
           "timestamps": [t[i]]} for i in range(3)),
        {"run_id": "r1", "name": "acc", "context": {"subset": "train"}, "values": [9.0, 9.5]},
    ]})
    got = store.get_series_many(["r2", "r0", "r1", "nope"], "acc", {"subset": "val"})
    assert [s["run_id"] for s in got] == ["r2", "r0", "r1"]
    for s, i in zip(got, (2, 0, 1)):
        assert (s["total_count"], s["downsampled"], s["key"]) == (1, False, "acc[subset=val]")
        assert s["points"].steps.tolist() == [10 + i] and s["points"].values.tolist() == [0.5 + i]
        assert s["points"].timestamps.tolist() == [round(t[i] * 1e6) / 1e6]
    (train,) = store.get_series_many(["r0", "r1", "r2"], "acc", {"subset": "train"})
    assert (train["run_id"], train["key"], train["points"].values.tolist()) == ("r1", "acc[subset=train]", [9.0, 9.5])


@pytest.mark.parametrize("run_ids", ["r", ("r", 1), None])
def test_many_series_need_a_list_of_run_ids(store, run_ids):
    with pytest.raises(InvalidInput) as e:
        store.get_series_many(run_ids, "m")
    assert str(e.value) == "run_ids must be a list of run ids"


def test_a_step_range_takes_the_chunks_that_touch_its_ends(store):
    steps = np.arange(3 * C, dtype=np.int64)
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "steps": steps, "values": steps * 0.5}]})
    for lo, hi in ((C - 1, C), (C, 2 * C - 1), (C - 1, 2 * C), (0, 0), (3 * C - 1, 3 * C + 5)):
        s = store.get_series_many(["r"], "m", step_range=(lo, hi))[0]
        want = [k for k in steps.tolist() if lo <= k <= hi]
        assert s["points"].steps.tolist() == want
        assert s["points"].values.tolist() == [k * 0.5 for k in want]


def test_a_series_summary_goes_on_from_what_the_series_held(store):
    store.write_batch({"runs": [{"id": "r", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "steps": [10], "values": [0.5], "timestamps": [100.0]}]})
    # points logged later but at lower steps: the last value stays the one at the greatest step; min and max grow
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [5, 6], "values": [3.0, 2.0],
                                    "timestamps": [200.0, 201.0]}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [7], "values": [1.0], "timestamps": [300.0]}]})
    (m,) = [x for x in store.get_run("r")["metrics"] if x["name"] == "m"]
    assert {k: m[k] for k in ("count", "last", "last_step", "min", "max")} == {
        "count": 4, "last": 0.5, "last_step": 10, "min": 0.5, "max": 3.0}
    row = sql(store, "select last_time from metric_series where run_id = 'r' and name = 'm'")[0]
    assert row[0] == 100.0


def test_a_step_range_counts_the_points_inside_it(store):
    steps = np.arange(3 * C, dtype=np.int64)
    store.write_batch({"runs": [{"id": "r", "project": "P"}, {"id": "q", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "steps": steps, "values": steps * 0.5},
                                   {"run_id": "q", "name": "m", "steps": steps, "values": steps * 2.0}]})
    for lo, hi in ((C - 1, C), (C, 2 * C - 1), (0, 3 * C), (3 * C + 10, 3 * C + 20), (-5, -1)):
        got = store.get_series_many(["r", "q"], "m", step_range=(lo, hi))
        inside = len([k for k in steps.tolist() if lo <= k <= hi])
        assert [(s["run_id"], s["total_count"], len(s["points"])) for s in got] == [("r", inside, inside),
                                                                                    ("q", inside, inside)]
        down = store.get_series_many(["r", "q"], "m", step_range=(lo, hi), max_points=3)
        assert [(s["run_id"], s["total_count"]) for s in down] == [("r", inside), ("q", inside)]


def test_an_overlay_reads_overviews_only_for_the_series_long_enough(store):
    rng = np.random.default_rng(3)
    long_, short = rng.normal(size=8 * C), rng.normal(size=C)  # one full chunk: it has an overview too
    store.write_batch({"runs": [{"id": "long", "project": "P"}, {"id": "short", "project": "P"}],
                       "metrics": [{"run_id": "long", "name": "m", "values": long_},
                                   {"run_id": "short", "name": "m", "values": short}]})
    max_points = 8 * C // 64
    assert use_overviews(8 * C, max_points) and not use_overviews(C, max_points)
    together = {s["run_id"]: s for s in store.get_series_many(["long", "short"], "m", max_points=max_points)}
    for rid in ("long", "short"):
        alone = store.get_series(rid, "m", max_points=max_points)
        assert together[rid]["total_count"] == alone["total_count"] == (8 * C if rid == "long" else C)
        assert together[rid]["points"].steps.tolist() == alone["points"].steps.tolist()
        assert together[rid]["points"].values.tolist() == alone["points"].values.tolist()
    # the short series is read in full: its selection is the one of all its points
    full = store.get_series("short", "m")["points"]
    assert together["short"]["points"].steps.tolist() == downsample(full, max_points)[0].steps.tolist()


def test_reading_a_series_of_another_project_is_refused_with_the_role_it_needs(store):
    alice, bob = store.actor("alice"), store.actor("bob")
    store.write_batch({"runs": [{"id": "a1", "project": "A"}],
                       "metrics": [{"run_id": "a1", "name": "loss", "values": [1.0]}]}, alice)
    assert store.get_series("a1", "loss", actor=alice)["total_count"] == 1
    with pytest.raises(Forbidden) as e:
        store.get_series("a1", "loss", actor=bob)
    assert str(e.value) == "reading metrics in project 'A' needs the role viewer; bob is not a member"


def _decoded_rows(monkeypatch) -> list[list[tuple]]:
    """Spy on the decoding of each series' chunk rows: per series read, ``(count, overview_count)`` of each row
    (``overview_count`` None: the chunk's data was read, else its overview)."""
    calls: list[list[tuple]] = []
    real = SER.decode_chunks

    def spy(rows):
        rows = list(rows)
        calls.append([(r[0], r[1]) for r in rows])
        return real(rows)

    monkeypatch.setattr(SER, "decode_chunks", spy)
    return calls


def _two_long_series(store) -> np.ndarray:
    rng = np.random.default_rng(5)
    steps = np.arange(4 * C, dtype=np.int64)
    store.write_batch({"runs": [{"id": "r", "project": "P"}, {"id": "q", "project": "P"}],
                       "metrics": [{"run_id": "r", "name": "m", "steps": steps, "values": rng.normal(size=4 * C)},
                                   {"run_id": "q", "name": "m", "steps": steps, "values": rng.normal(size=4 * C)}]})
    return steps


def test_a_step_range_decides_the_overview_read_by_the_count_inside_it_for_this_series_alone(store, monkeypatch):
    _two_long_series(store)
    lo, hi = C, 3 * C - 1  # two whole chunks: 2C points inside, 4C in the series, 4C inside for both series
    max_points = 2 * C // SER.OVERVIEW_READ_FACTOR + 1
    assert not use_overviews(2 * C, max_points) and use_overviews(4 * C, max_points)
    full = store.get_series("r", "m")["points"]
    want, _ = downsample(full.slice(lo, hi + 1), max_points)
    calls = _decoded_rows(monkeypatch)
    (s,) = store.get_series_many(["r"], "m", max_points=max_points, step_range=(lo, hi))
    assert calls == [[(C, None), (C, None)]]  # the data of both chunks, no overview
    assert (s["total_count"], s["downsampled"]) == (2 * C, True)
    assert s["points"].steps.tolist() == want.steps.tolist()
    assert s["points"].values.tolist() == want.values.tolist()


def test_chunks_lying_exactly_on_a_step_range_s_ends_are_read_from_their_overviews(store, monkeypatch):
    _two_long_series(store)
    calls = _decoded_rows(monkeypatch)
    (s,) = store.get_series_many(["r"], "m", max_points=3, step_range=(C, 3 * C - 1))
    assert len(calls) == 1 and [ov is not None for _, ov in calls[0]] == [True, True]
    assert [count for count, _ in calls[0]] == [C, C]
    assert (s["total_count"], s["downsampled"], len(s["points"])) == (2 * C, True, 3)
    assert C <= s["points"].steps.min() and s["points"].steps.max() <= 3 * C - 1
    # one step further on either side: that end's chunk is only partly inside and is read in full
    for lo, hi, full_at in ((C - 1, 3 * C - 1, (0,)), (C, 3 * C, (2,)), (C + 1, 3 * C - 2, (0, 1))):
        calls.clear()
        (s,) = store.get_series_many(["r"], "m", max_points=3, step_range=(lo, hi))
        assert [i for i, (_, ov) in enumerate(calls[0]) if ov is None] == list(full_at), (lo, hi)
        assert s["total_count"] == hi - lo + 1


def test_an_overlay_decodes_only_the_series_of_the_runs_asked_for(store, monkeypatch):
    _two_long_series(store)
    calls = _decoded_rows(monkeypatch)
    (s,) = store.get_series_many(["q"], "m")
    assert len(calls) == 1 and sum(count for count, _ in calls[0]) == 4 * C
    assert (s["run_id"], s["total_count"]) == ("q", 4 * C)
