"""Chunk overviews (core/series.py: overview) and the downsampled reads that use them (Store.get_series*)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jupyter_mltrack.core import series as SER
from jupyter_mltrack.core.series import CHUNK_POINTS, OVERVIEW_BUCKET, Points, decode_chunk, encode_chunk

from ._helpers import execute, sql
from .test_series import assert_same_points, bits, pts


def _bucket_extremes(values: np.ndarray) -> list[tuple[int, float | None, float | None]]:
    """(bucket start, finite min, finite max) of every bucket, by brute force."""
    out = []
    for start in range(0, len(values), OVERVIEW_BUCKET):
        v = values[start : start + OVERVIEW_BUCKET]
        f = v[np.isfinite(v)]
        out.append((start, float(f.min()) if f.size else None, float(f.max()) if f.size else None))
    return out


def _check_selection(values: np.ndarray, idx: np.ndarray) -> None:
    n = len(values)
    assert idx.dtype == np.int64
    assert np.all(np.diff(idx) > 0), "sorted and unique"
    assert idx[0] == 0 and idx[-1] == n - 1
    kept = set(idx.tolist())
    for start, lo, hi in _bucket_extremes(values):
        stop = min(start + OVERVIEW_BUCKET, n)
        mine = [i for i in range(start, stop) if i in kept]
        if lo is None:
            assert start in kept  # a bucket without finite values keeps its first point
            continue
        got = values[mine]
        assert lo in got.tolist() and hi in got.tolist(), start
        # two picks per bucket, plus the chunk's ends and its few non-finite points
        extra = sum(1 for i in mine if i in (0, n - 1) or not np.isfinite(values[i]))
        assert len(mine) <= 2 + extra


# ------------------------------------------------------------------------------------------------------------------
# selection


@pytest.mark.parametrize("n", [CHUNK_POINTS, 1, 2, 31, 32, 33, 100, 1000 + 7])
def test_overview_keeps_every_buckets_min_and_max_and_the_ends(n):
    rng = np.random.default_rng(n)
    values = np.cumsum(rng.standard_normal(n))
    idx = SER.overview_indices(pts(np.arange(n) * 3 + 11, values))
    _check_selection(values, idx)
    if n == CHUNK_POINTS:
        assert len(idx) <= 2 * (n // OVERVIEW_BUCKET) + 2


def test_overview_picks_the_first_of_equal_extremes_and_handles_constant_buckets():
    values = np.zeros(2 * OVERVIEW_BUCKET)
    values[OVERVIEW_BUCKET + 5] = values[OVERVIEW_BUCKET + 9] = 1.0
    idx = SER.overview_indices(pts(np.arange(len(values)), values)).tolist()
    assert idx == [0, OVERVIEW_BUCKET, OVERVIEW_BUCKET + 5, 2 * OVERVIEW_BUCKET - 1]


def test_overview_non_finite_values():
    n = 10 * OVERVIEW_BUCKET + 5
    rng = np.random.default_rng(1)
    values = rng.standard_normal(n)
    values[3] = np.nan  # a NaN inside a bucket takes no part in its min/max
    values[40] = np.inf  # nor ±inf: the bucket's finite extremes are kept as well
    values[41] = -np.inf
    values[2 * OVERVIEW_BUCKET : 3 * OVERVIEW_BUCKET] = np.nan  # a bucket of NaN only
    values[4 * OVERVIEW_BUCKET : 5 * OVERVIEW_BUCKET : 2] = np.inf  # only non-finite values, mixed
    values[4 * OVERVIEW_BUCKET + 1 : 5 * OVERVIEW_BUCKET : 2] = np.nan
    values[10 * OVERVIEW_BUCKET :] = np.nan  # the last, partial bucket: NaN only
    p = pts(np.arange(n), values)
    idx = SER.overview_indices(p)
    _check_selection(values, idx)
    special = np.flatnonzero(~np.isfinite(values))
    assert special.size > SER.OVERVIEW_MAX_SPECIAL  # too many to keep them all
    kept = set(idx.tolist())
    assert {2 * OVERVIEW_BUCKET, 4 * OVERVIEW_BUCKET, 10 * OVERVIEW_BUCKET, n - 1} <= kept
    assert not set(special.tolist()) <= kept
    # with a few non-finite points, every one of them is kept
    few = rng.standard_normal(CHUNK_POINTS)
    where = rng.choice(CHUNK_POINTS, SER.OVERVIEW_MAX_SPECIAL, replace=False)
    few[where[::3]] = np.nan
    few[where[1::3]] = np.inf
    few[where[2::3]] = -np.inf
    idx = SER.overview_indices(pts(np.arange(CHUNK_POINTS), few))
    _check_selection(few, idx)
    assert set(where.tolist()) <= set(idx.tolist())


def test_overview_of_all_nan_chunk_keeps_each_buckets_first_point():
    n = 3 * OVERVIEW_BUCKET + 1
    idx = SER.overview_indices(pts(np.arange(n), np.full(n, np.nan)))
    assert idx.tolist() == [0, OVERVIEW_BUCKET, 2 * OVERVIEW_BUCKET, 3 * OVERVIEW_BUCKET]


@pytest.mark.parametrize("steps", [[0, 1, 1, 2], [3, 2, 1, 0], [0, 5, 4, 6], []])
def test_no_overview_unless_steps_strictly_increase(steps):
    p = pts(steps, np.arange(len(steps), dtype=float))
    assert SER.overview_indices(p) is None and SER.overview(p) is None


def test_overview_is_a_chunk_of_original_points():
    rng = np.random.default_rng(2)
    n = CHUNK_POINTS
    p = pts(np.cumsum(rng.integers(1, 5, n)), rng.standard_normal(n), 1.7e9 + np.cumsum(rng.random(n)))
    ov = SER.overview(p)
    idx = SER.overview_indices(p)
    assert_same_points(ov, Points(p.steps[idx], p.timestamps[idx], p.values[idx]))
    assert_same_points(decode_chunk(encode_chunk(ov), len(ov)), ov)


def test_unshuffle_is_the_inverse_of_shuffle():
    def shuffle(a):  # the i-th byte of every little-endian number together
        return np.ascontiguousarray(a.astype("<i8").view(np.uint8).reshape(-1, 8).T).tobytes()

    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 1000):
        a = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
        assert SER._unshuffle(shuffle(a), n, "<i8").tolist() == a.tolist()
        three = [rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64) for _ in range(3)]
        got = SER._unshuffle(b"".join(shuffle(x) for x in three), n, "<i8", 3)
        assert got.shape == (3, n) and [r.tolist() for r in got] == [x.tolist() for x in three]


# ------------------------------------------------------------------------------------------------------------------
# in the store


N = 200_000


def _subset_of(d: Points, p: Points) -> bool:
    original = set(zip(p.steps.tolist(), bits(p.values).tolist()))
    return all(x in original for x in zip(d.steps.tolist(), bits(d.values).tolist()))


def _chunks(store, run_id="r"):
    return sql(
        store,
        "SELECT c.seq, c.count, c.step_min, c.step_max, c.data, c.overview, c.overview_count FROM metric_chunks c "
        "JOIN metric_series s ON s.id = c.series_id WHERE s.run_id = :r AND s.name = 'm' ORDER BY c.seq",
        r=run_id,
    )


@pytest.fixture
def long_series(store):
    """A 200k-point series written in batches that end mid-chunk (later flushes top those chunks up)."""
    rng = np.random.default_rng(11)
    steps = np.arange(N, dtype=np.int64) * 2
    values = np.cumsum(rng.standard_normal(N))
    values[rng.integers(0, N, 30)] = np.nan
    values[77_777] = np.nanmax(values) + 40.0  # a lone spike
    values[123_456] = np.nanmin(values) - 40.0
    times = 1.7e9 + np.arange(N) * 0.01
    store.write_batch({"runs": [{"id": "r"}]})
    cuts = [0, 5000, 5001, 30_000, 100_000, 100_003, 150_000, 163_840, N]
    for a, b in zip(cuts, cuts[1:]):
        store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": steps[a:b], "timestamps": times[a:b],
                                        "values": values[a:b]}]})
    return store, Points(steps, times, values)


def _finite_extremes(p: Points) -> tuple[float, float]:
    f = p.values[np.isfinite(p.values)]
    return float(f.min()), float(f.max())


def test_full_chunks_store_an_overview_partial_ones_do_not(long_series):
    store, full = long_series
    rows = _chunks(store)
    assert sum(r.count for r in rows) == N
    for r in rows:
        if r.count == CHUNK_POINTS:
            piece = decode_chunk(r.data, r.count)
            ov = decode_chunk(r.overview, r.overview_count)
            assert r.overview_count == len(SER.overview(piece)) < r.count / 10
            assert_same_points(ov, SER.overview(piece))
        else:
            assert r.overview is None and r.overview_count is None
    assert rows[-1].count < CHUNK_POINTS and all(r.count == CHUNK_POINTS for r in rows[:-1])


def test_chart_read_of_a_long_series_uses_overviews(long_series):
    store, full = long_series
    s = store.get_series("r", "m", max_points=2000)
    d = s["points"]
    assert s["total_count"] == N and s["downsampled"]
    assert 1000 < len(d) <= 2000
    assert np.all(np.diff(d.steps) > 0)
    assert _subset_of(d, full)
    assert (d.steps[0], d.steps[-1]) == (full.steps[0], full.steps[-1])
    lo, hi = _finite_extremes(full)
    assert np.nanmin(d.values) == lo and np.nanmax(d.values) == hi
    # every point is read without max_points
    s = store.get_series("r", "m")
    assert s["total_count"] == N and not s["downsampled"]
    assert_same_points(s["points"], full)


def test_short_reads_do_not_use_overviews(long_series):
    store, full = long_series
    # below the threshold (points < 64 × max_points) the downsampling sees every point
    mp = N // SER.OVERVIEW_READ_FACTOR + 1
    s = store.get_series("r", "m", max_points=mp)
    want, _ = SER.downsample(full, mp)
    assert s["downsampled"] and s["total_count"] == N
    assert_same_points(s["points"], want)
    (m,) = store.get_series_many(["r"], "m", max_points=mp)
    assert_same_points(m["points"], want)
    # at the threshold the overviews are read
    s = store.get_series("r", "m", max_points=mp - 1)
    assert s["downsampled"] and s["total_count"] == N and len(s["points"]) <= mp - 1
    assert not np.array_equal(s["points"].steps, SER.downsample(full, mp - 1)[0].steps)


def test_get_series_many_agrees_with_get_series(long_series):
    store, full = long_series
    store.write_batch({"runs": [{"id": "short"}], "metrics": [{"run_id": "short", "name": "m", "values": [1.0, 2.0]}]})
    one = store.get_series("r", "m", max_points=2000)
    a, b = store.get_series_many(["r", "short"], "m", max_points=2000)
    assert (a["run_id"], a["total_count"], a["downsampled"]) == ("r", N, True)
    assert_same_points(a["points"], one["points"])
    assert (b["run_id"], b["total_count"], b["downsampled"], b["points"].values.tolist()) == ("short", 2, False,
                                                                                           [1.0, 2.0])


@pytest.mark.parametrize("lo, hi", [(2 * 1234 + 1, 2 * 187_654), (-100, 2 * 190_000), (2 * 8192, 2 * 172_031 + 1)])
def test_step_range_with_overviews_keeps_exact_edges_and_counts(long_series, lo, hi):
    store, full = long_series
    inside = (full.steps >= lo) & (full.steps <= hi)
    want = Points(full.steps[inside], full.timestamps[inside], full.values[inside])
    (a,) = store.get_series_many(["r"], "m", max_points=1000, step_range=(lo, hi))
    d = a["points"]
    assert a["downsampled"] and a["total_count"] == len(want)
    assert len(d) <= 1000 and _subset_of(d, want)
    assert (d.steps[0], d.steps[-1]) == (want.steps[0], want.steps[-1])  # the edge chunks were read in full
    wlo, whi = _finite_extremes(want)
    assert np.nanmin(d.values) == wlo and np.nanmax(d.values) == whi
    # same counts without max_points, where every point in range is returned
    (e,) = store.get_series_many(["r"], "m", step_range=(lo, hi))
    assert e["total_count"] == a["total_count"] and not e["downsampled"]
    assert_same_points(e["points"], want)


def test_narrow_step_range_reads_points_not_overviews(long_series):
    store, full = long_series
    lo, hi = 2 * 50_000, 2 * 52_000 - 2  # 2,000 points in one chunk: below the threshold for max_points=200
    inside = (full.steps >= lo) & (full.steps <= hi)
    want, _ = SER.downsample(Points(full.steps[inside], full.timestamps[inside], full.values[inside]), 200)
    (a,) = store.get_series_many(["r"], "m", max_points=200, step_range=(lo, hi))
    assert a["total_count"] == int(inside.sum()) and a["downsampled"]
    assert_same_points(a["points"], want)


def test_chunks_without_overview_are_read_in_full(long_series):
    store, full = long_series
    # a store written before overviews existed, or partly so
    execute(store, "UPDATE metric_chunks SET overview = NULL, overview_count = NULL WHERE seq % 2 = 0")
    s = store.get_series("r", "m", max_points=2000)
    assert s["total_count"] == N and s["downsampled"] and len(s["points"]) <= 2000
    assert _subset_of(s["points"], full)
    lo, hi = _finite_extremes(full)
    assert np.nanmin(s["points"].values) == lo and np.nanmax(s["points"].values) == hi
    execute(store, "UPDATE metric_chunks SET overview = NULL, overview_count = NULL")
    s = store.get_series("r", "m", max_points=2000)
    want, _ = SER.downsample(full, 2000)  # exactly what a full decode gives
    assert s["total_count"] == N and s["downsampled"]
    assert_same_points(s["points"], want)
    (a,) = store.get_series_many(["r"], "m", max_points=2000)
    assert a["total_count"] == N and a["downsampled"]
    assert_same_points(a["points"], want)
    (b,) = store.get_series_many(["r"], "m", max_points=1000, step_range=(1000, 300_001))
    assert b["total_count"] == 150_001 - 500 and b["downsampled"] and len(b["points"]) <= 1000


def test_chunks_with_unordered_steps_have_no_overview_and_read_correctly(store):
    rng = np.random.default_rng(5)
    n = 20 * CHUNK_POINTS
    steps = np.arange(n, dtype=np.int64)
    steps[CHUNK_POINTS : 2 * CHUNK_POINTS] = steps[CHUNK_POINTS : 2 * CHUNK_POINTS][::-1]  # one chunk backwards
    steps[5 * CHUNK_POINTS + 10] = steps[5 * CHUNK_POINTS + 9]  # one with a repeated step
    values = rng.standard_normal(n)
    store.write_batch({"runs": [{"id": "r"}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": steps, "values": values}]})
    rows = _chunks(store)
    assert [r.seq for r in rows if r.overview is None] == [1, 5]
    s = store.get_series("r", "m", max_points=1000)
    full = store.get_series("r", "m")["points"]
    assert s["total_count"] == n and s["downsampled"] and len(s["points"]) <= 1000
    assert np.all(np.diff(s["points"].steps) >= 0) and _subset_of(s["points"], full)
    assert s["points"].values.max() == values.max() and s["points"].values.min() == values.min()


def test_overview_points_are_unchanged_when_the_last_chunk_is_topped_up(store):
    store.write_batch({"runs": [{"id": "r"}]})
    for a in range(0, CHUNK_POINTS + 10, 1000):  # the first chunk fills up over nine flushes
        b = min(a + 1000, CHUNK_POINTS + 10)
        store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": list(range(a, b)),
                                        "values": [math.sin(i / 7.0) for i in range(a, b)]}]})
    rows = _chunks(store)
    assert [(r.count, r.overview is not None) for r in rows] == [(CHUNK_POINTS, True), (10, False)]
    piece = decode_chunk(rows[0].data, rows[0].count)
    assert_same_points(decode_chunk(rows[0].overview, rows[0].overview_count), SER.overview(piece))


def test_chart_reads_never_touch_the_data_of_chunks_with_an_overview(long_series):
    store, full = long_series
    before = store.get_series("r", "m", max_points=2000)
    (ranged_before,) = store.get_series_many(["r"], "m", max_points=1000, step_range=(2 * 1234 + 1, 2 * 187_654))
    # break the points of every chunk that has an overview, except the edge chunks of the range above
    edges = (1234 // CHUNK_POINTS, 187_654 // CHUNK_POINTS)
    execute(store, "UPDATE metric_chunks SET data = :bad WHERE overview IS NOT NULL AND seq NOT IN (:a, :b)",
            bad=b"\x09", a=edges[0], b=edges[1])
    after = store.get_series("r", "m", max_points=2000)
    assert after["total_count"] == N and after["downsampled"]
    assert_same_points(after["points"], before["points"])
    (many,) = store.get_series_many(["r"], "m", max_points=2000)
    assert_same_points(many["points"], before["points"])
    (ranged,) = store.get_series_many(["r"], "m", max_points=1000, step_range=(2 * 1234 + 1, 2 * 187_654))
    assert ranged["total_count"] == ranged_before["total_count"]
    assert_same_points(ranged["points"], ranged_before["points"])
    with pytest.raises(ValueError, match="codec"):  # a read of every point does decode them
        store.get_series("r", "m")
