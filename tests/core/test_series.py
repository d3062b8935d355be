"""core/series.py: chunk codec, summaries, chunking in the store, downsampling, bytes on disk."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jupyter_mltrack.core import series as SER
from jupyter_mltrack.core.series import CHUNK_POINTS, Points, Summary, decode_chunk, downsample, encode_chunk

from ._helpers import sql


def pts(steps, values, timestamps=None) -> Points:
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if timestamps is None:
        timestamps = 1_700_000_000.0 + np.arange(len(steps)) * 0.25
    return Points(steps, np.asarray(timestamps, dtype=np.float64), values)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def assert_same_points(a: Points, b: Points) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(bits(a.values), bits(b.values))  # bit for bit: NaN payloads, -0.0, ±inf
    # timestamps are stored as whole microseconds
    np.testing.assert_array_equal(np.round(a.timestamps * 1e6), np.round(b.timestamps * 1e6))


# ------------------------------------------------------------------------------------------------------------------
# codec


NAN_PAYLOAD = np.array([0x7FF8_0000_0000_1234], dtype=np.uint64).view(np.float64)[0]
NEG_NAN = np.array([0xFFF8_0000_0000_0000], dtype=np.uint64).view(np.float64)[0]


@pytest.mark.parametrize(
    "steps, values",
    [
        pytest.param([0, 1, 2, 3], [0.5, math.nan, math.inf, -math.inf], id="non-finite"),
        pytest.param([0, 1, 2, 3, 4], [NAN_PAYLOAD, NEG_NAN, -0.0, 5e-324, 1.7976931348623157e308], id="odd-bits"),
        pytest.param([-5, -3, -1_000_000, 7], [1.0, 2.0, 3.0, 4.0], id="negative-steps"),
        pytest.param([2**62, -(2**62), 2**63 - 1, -(2**63), 0], [1.0, 2.0, 3.0, 4.0, 5.0], id="huge-steps"),
        pytest.param([9, 3, 3, 8, 1, 1, 0], [1, 2, 3, 4, 5, 6, 7], id="out-of-order-and-duplicate"),
        pytest.param([7], [42.0], id="one-point"),
        pytest.param([], [], id="empty"),
    ],
)
def test_chunk_round_trip_is_bit_exact(steps, values):
    p = pts(steps, values)
    data = encode_chunk(p)
    assert data[0] == SER.CODEC_ZSTD_SHUFFLE
    back = decode_chunk(data, len(p))
    assert back.steps.dtype == np.int64 and back.values.dtype == np.float64
    assert_same_points(back, p)  # arrival order is kept (no sorting in the codec)


def test_chunk_round_trip_random_large():
    rng = np.random.default_rng(7)
    n = CHUNK_POINTS
    p = pts(rng.integers(-(2**40), 2**40, n), rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n),
            1.6e9 + np.cumsum(rng.random(n)))
    assert_same_points(decode_chunk(encode_chunk(p), n), p)


CODEC_THREADS = """
    import sys, threading, time
    import numpy as np
    from jupyter_mltrack.core import series as SER
    rng = np.random.default_rng(0)
    chunks = []
    for k in range(8):
        n = int(rng.integers(1000, SER.CHUNK_POINTS))
        p = SER.Points(np.arange(n, dtype=np.int64), np.full(n, 1.7e9), rng.standard_normal(n))
        chunks.append((p, SER.encode_chunk(p)))
    errors = []
    deadline = time.monotonic() + 1.5

    def work(i):
        r = 0
        while time.monotonic() < deadline and not errors:
            p, data = chunks[(i + r) % len(chunks)]
            r += 1
            try:
                if i % 2:
                    data = SER.encode_chunk(p)
                if not np.array_equal(SER.decode_chunk(data, len(p)).values, p.values):
                    errors.append("wrong values")
            except Exception as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(errors[0] if errors else "ok")
"""


def test_codec_is_thread_safe(run_py):
    r = run_py(CODEC_THREADS, check=False)  # in a subprocess: the failure can be a segmentation fault
    assert (r.returncode, r.stdout.strip()) == (0, "ok"), r.stdout + r.stderr


def test_timestamps_keep_microseconds():
    ts = [1_700_000_000.123456, 1_700_000_000.123457, 1_600_000_000.0, 0.000001]
    back = decode_chunk(encode_chunk(pts([0, 1, 2, 3], [1, 2, 3, 4], ts)), 4)
    assert back.timestamps.tolist() == pytest.approx(ts, abs=1e-6)


def test_decode_refuses_unknown_codec_and_wrong_count():
    data = encode_chunk(pts([0, 1, 2], [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"^unknown metric chunk codec$"):
        decode_chunk(b"\x09" + data[1:], 3)
    with pytest.raises(ValueError, match=r"^unknown metric chunk codec$"):
        decode_chunk(b"", 0)
    with pytest.raises(ValueError, match=r"^corrupt metric chunk: expected 2 points$"):
        decode_chunk(data, 2)  # the frame holds 3 points
    with pytest.raises(ValueError, match=r"^corrupt metric chunk: expected 4 points$"):
        decode_chunk(data, 4)


def test_points_helpers():
    p = pts([3, 1, 2, 1], [30, 10, 20, 11])
    s = p.sorted_by_step()
    assert s.steps.tolist() == [1, 1, 2, 3]
    assert s.values.tolist() == [10, 11, 20, 30]  # stable: equal steps keep arrival order
    already = pts([1, 2, 2, 5], [1, 2, 3, 4])
    assert already.sorted_by_step() is already
    assert len(Points.concat([])) == 0
    both = Points.concat([pts([0], [1.0]), Points.empty(), pts([1, 2], [2.0, 3.0])])
    assert both.steps.tolist() == [0, 1, 2] and both.values.tolist() == [1.0, 2.0, 3.0]
    assert [len(c) for c in SER.split_chunks(pts(range(10), range(10)), 4)] == [4, 4, 2]
    assert SER.split_chunks(Points.empty()) == []
    # after the few points of a partial chunk: the first chunk tops it up, the others are views of the new points
    new = pts(range(10, 20), range(10, 20))
    chunks = SER.split_chunks(new, 4, head=pts([7, 8, 9], [7, 8, 9]))
    assert [c.steps.tolist() for c in chunks] == [[7, 8, 9, 10], [11, 12, 13, 14], [15, 16, 17, 18], [19]]
    assert all(np.shares_memory(c.values, new.values) for c in chunks[1:])
    assert [c.steps.tolist() for c in SER.split_chunks(pts([10], [1.0]), 4, head=pts([7, 8], [7, 8]))] == [[7, 8, 10]]
    assert [len(c) for c in SER.split_chunks(new, 4, head=Points.empty())] == [4, 4, 2]


# ------------------------------------------------------------------------------------------------------------------
# summaries


def test_summary_last_is_value_at_greatest_step_ties_latest_logged():
    s = Summary().merged(pts([5, 3, 5, 1], [1.0, 2.0, 3.0, 4.0], [10, 11, 12, 13]))
    assert (s.count, s.last, s.last_step, s.last_time) == (4, 3.0, 5, 12)
    assert (s.min, s.max) == (1.0, 4.0)


def test_summary_merge_across_batches():
    s = Summary().merged(pts([10], [1.0], [100]))
    s = s.merged(pts([2, 3], [-5.0, 9.0], [101, 102]))  # older steps: last stays
    assert (s.last, s.last_step, s.last_time, s.count) == (1.0, 10, 100, 3)
    assert (s.min, s.max) == (-5.0, 9.0)
    s = s.merged(pts([10], [7.0], [103]))  # same greatest step, logged later: it wins
    assert (s.last, s.last_step, s.last_time, s.count) == (7.0, 10, 103, 4)
    s = s.merged(pts([11], [0.5], [104]))
    assert (s.last, s.last_step) == (0.5, 11)
    assert s.merged(Points.empty()) is s


def test_summary_min_max_ignore_nan_but_keep_inf():
    s = Summary().merged(pts([0, 1, 2], [math.nan, 2.0, math.nan]))
    assert (s.min, s.max) == (2.0, 2.0)
    assert math.isnan(s.last) and s.last_step == 2
    s = s.merged(pts([3], [math.inf]))
    assert (s.min, s.max, s.last) == (2.0, math.inf, math.inf)
    s = s.merged(pts([4], [-math.inf]))
    assert (s.min, s.max, s.last) == (-math.inf, math.inf, -math.inf)


def test_summary_all_nan_has_no_min_max():
    s = Summary().merged(pts([0, 1], [math.nan, math.nan]))
    assert s.count == 2 and s.min is None and s.max is None and math.isnan(s.last)


def _series_row(store, run_id, name):
    return next(m for m in store.get_run(run_id)["metrics"] if m["key"] == name)


def test_store_summary_semantics(store):
    store.write_batch({"runs": [{"id": "r"}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [5, 3, 5], "values": [1.0, 2.0, 3.0]}]})
    m = _series_row(store, "r", "m")
    assert (m["last"], m["last_step"], m["count"], m["min"], m["max"]) == (3.0, 5, 3, 1.0, 3.0)
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [5, 4], "values": ["NaN", "Infinity"]}]})
    m = _series_row(store, "r", "m")
    assert math.isnan(m["last"]) and m["last_step"] == 5 and m["count"] == 5  # NaN last survives SQLite's NULL
    assert (m["min"], m["max"]) == (1.0, math.inf)
    listed = next(x for x in store.search_runs()[0][0]["metrics"] if x["key"] == "m")
    assert math.isnan(listed["last"]) and listed["max"] == math.inf


# ------------------------------------------------------------------------------------------------------------------
# chunking in the store


def _chunk_rows(store, run_id="r", name="m"):
    return sql(
        store,
        "SELECT c.seq, c.count, c.step_min, c.step_max FROM metric_chunks c JOIN metric_series s "
        "ON s.id = c.series_id WHERE s.run_id = :r AND s.name = :n ORDER BY c.seq",
        r=run_id, n=name,
    )


def test_long_series_in_several_batches_reads_back_identical(store):
    rng = np.random.default_rng(3)
    total = 2 * CHUNK_POINTS + 1234
    steps = np.arange(total, dtype=np.int64)
    values = rng.standard_normal(total)
    values[rng.integers(0, total, 20)] = np.nan
    values[5] = np.inf
    times = 1.7e9 + np.arange(total) * 0.001
    store.write_batch({"runs": [{"id": "r"}]})
    cuts = [0, 5000, 5001, 12000, 12000, 20000, total]
    for a, b in zip(cuts, cuts[1:]):
        store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": steps[a:b], "timestamps": times[a:b],
                                        "values": values[a:b]}]})
    s = store.get_series("r", "m")
    assert s["total_count"] == total and not s["downsampled"]
    assert_same_points(s["points"], Points(steps, times, values))
    rows = _chunk_rows(store)
    assert len(rows) == math.ceil(total / CHUNK_POINTS)
    assert [r.seq for r in rows] == list(range(len(rows)))
    assert sum(r.count for r in rows) == total
    assert all(r.count == CHUNK_POINTS for r in rows[:-1])
    assert rows[0].step_min == 0 and rows[-1].step_max == total - 1
    assert sql(store, "SELECT chunks, count FROM metric_series WHERE run_id = 'r'")[0] == (len(rows), total)


def test_many_small_flushes_top_up_the_last_chunk(store):
    store.write_batch({"runs": [{"id": "r"}]})
    for i in range(120):
        store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [i], "values": [i * 0.5]}]})
    rows = _chunk_rows(store)
    assert len(rows) == 1 and rows[0].count == 120 and (rows[0].step_min, rows[0].step_max) == (0, 119)
    assert store.get_series("r", "m")["points"].values.tolist() == [i * 0.5 for i in range(120)]


def test_full_chunk_is_not_rewritten_and_next_point_opens_a_new_one(store):
    store.write_batch({"runs": [{"id": "r"}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "values": np.zeros(CHUNK_POINTS)}]})
    assert [r.count for r in _chunk_rows(store)] == [CHUNK_POINTS]
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [CHUNK_POINTS], "values": [1.0]}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [CHUNK_POINTS + 1], "values": [2.0]}]})
    assert [r.count for r in _chunk_rows(store)] == [CHUNK_POINTS, 2]
    assert store.get_series("r", "m")["total_count"] == CHUNK_POINTS + 2


def test_out_of_order_steps_across_batches_read_sorted(store):
    store.write_batch({"runs": [{"id": "r"}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [10, 20], "values": [1.0, 2.0]}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [15, 5, 20], "values": [3.0, 4.0, 5.0]}]})
    p = store.get_series("r", "m")["points"]
    assert p.steps.tolist() == [5, 10, 15, 20, 20]
    assert p.values.tolist() == [4.0, 1.0, 3.0, 2.0, 5.0]  # equal steps: arrival order
    m = _series_row(store, "r", "m")
    assert (m["last"], m["last_step"]) == (5.0, 20)


def test_bytes_on_disk_per_point_is_small(store):
    n = 1_000_000
    rng = np.random.default_rng(0)
    store.write_batch({"runs": [{"id": "r"}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": np.arange(n),
                                    "timestamps": 1.7e9 + np.arange(n) * 0.01, "values": rng.random(n)}]})
    (size, count), = sql(store, "SELECT sum(length(data)), sum(count) FROM metric_chunks")
    assert count == n
    assert size / n < 16, f"{size / n:.2f} bytes per point"


# ------------------------------------------------------------------------------------------------------------------
# downsampling


def _subset_of(d: Points, p: Points) -> bool:
    original = set(zip(p.steps.tolist(), bits(p.values).tolist()))
    return all(x in original for x in zip(d.steps.tolist(), bits(d.values).tolist()))


def test_downsample_leaves_short_series_alone():
    p = pts(range(10), range(10))
    assert downsample(p, None) == (p, False)
    d, down = downsample(p, 10)
    assert d is p and down is False
    with pytest.raises(ValueError):
        downsample(p, 2)


@pytest.mark.parametrize("n, max_points", [(100, 3), (1000, 50), (10_000, 100), (50_000, 997)])
def test_downsample_keeps_at_most_max_points(n, max_points):
    rng = np.random.default_rng(n)
    p = pts(np.arange(n), np.cumsum(rng.standard_normal(n)))
    d, down = downsample(p, max_points)
    assert down and 3 <= len(d) <= max_points
    assert np.all(np.diff(d.steps) > 0)
    assert d.steps[0] == 0 and d.steps[-1] == n - 1  # the ends are kept
    assert _subset_of(d, p)


def test_downsample_keeps_isolated_spikes():
    n = 20_000
    v = np.sin(np.arange(n) / 500.0)
    v[4321], v[15000] = 50.0, -60.0
    d, _ = downsample(pts(np.arange(n), v), 200)
    assert d.values.max() == 50.0 and d.values.min() == -60.0


def test_downsample_keeps_global_min_and_max():
    n = 10_000
    v = np.random.default_rng(1).standard_normal(n)
    d, _ = downsample(pts(np.arange(n), v), 500)
    assert len(d) <= 500
    assert d.values.max() == v.max()
    assert d.values.min() == v.min()  # plain MinMaxLTTB dropped this one (step 9460)


def test_downsample_with_duplicate_steps():
    steps = np.repeat(np.arange(3000), 3)
    v = np.random.default_rng(5).standard_normal(len(steps))
    d, down = downsample(pts(steps, v), 100)
    assert down and len(d) <= 100
    assert np.all(np.diff(d.steps) >= 0)
    assert _subset_of(d, pts(steps, v))


def test_downsample_with_a_few_non_finite_values():
    n = 10_000
    v = np.sin(np.arange(n) / 300.0)
    v[1234], v[5678], v[9000] = np.nan, np.inf, -np.inf
    d, _ = downsample(pts(np.arange(n), v), 100)
    assert len(d) <= 100
    kept = set(d.steps.tolist())
    assert {1234, 5678, 9000} <= kept  # rare non-finite points are never dropped


def test_downsample_with_many_non_finite_values_stays_bounded():
    n = 10_000
    v = np.cos(np.arange(n) / 100.0)
    v[::7] = np.nan
    v[::13] = np.inf
    d, down = downsample(pts(np.arange(n), v), 300)
    assert down and len(d) <= 300
    assert _subset_of(d, pts(np.arange(n), v))


def test_store_get_series_downsamples(store):
    n = 5000
    store.write_batch({"runs": [{"id": "r"}]})
    store.write_batch({"metrics": [{"run_id": "r", "name": "m", "values": np.sin(np.arange(n) / 50.0)}]})
    s = store.get_series("r", "m", max_points=100)
    assert s["downsampled"] and s["total_count"] == n and len(s["points"]) <= 100
    full = store.get_series("r", "m", max_points=n)
    assert not full["downsampled"] and len(full["points"]) == n


@pytest.mark.parametrize("with_x", [True, False])
def test_the_direct_minmaxlttb_call_equals_the_librarys_public_one(with_x):
    from tsdownsample import MinMaxLTTBDownsampler

    from jupyter_mltrack.core.series import _minmax_lttb

    rng = np.random.default_rng(7)
    for n, n_out in ((1000, 198), (50_000, 1998), (10, 5)):
        x = np.cumsum(rng.integers(1, 5, n)).astype(np.int64)
        y = np.cumsum(rng.standard_normal(n))
        public = MinMaxLTTBDownsampler().downsample(*((x,) if with_x else ()), y, n_out=n_out)
        assert np.array_equal(_minmax_lttb(x if with_x else None, y, n_out), public)
