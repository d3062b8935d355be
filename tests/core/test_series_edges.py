"""core/series.py at its edges: the dtypes of an empty read, which chunks get an overview (strictly increasing
steps only, from two points on), sorting by step (two points; stable among equal steps), downsampling's refusal of
too few points and its fallback to tsdownsample's public call."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from jupyter_mltrack.core import series as SER
from jupyter_mltrack.core.series import Points, decode_chunks, downsample, encode_chunk, overview_indices


def pts(steps, values):
    return Points(np.asarray(steps, np.int64), np.arange(len(steps), dtype=np.float64) + 1000.0,
                  np.asarray(values, np.float64))


def test_an_empty_read_has_the_columns_types():
    """No chunk to decode (a step range outside the series): int64 steps, float64 timestamps and values — the
    types every later concatenation and encoding relies on."""
    for p in (decode_chunks([])[0], Points.concat([]), Points.concat([pts([], [])]), Points.empty()):
        assert len(p) == 0 and p.steps.size == p.timestamps.size == p.values.size == 0
        assert (p.steps.dtype, p.timestamps.dtype, p.values.dtype) == (np.int64, np.float64, np.float64)
    # concatenated with real points, an empty part changes no type
    both = Points.concat([Points.empty(), pts([1, 2], [0.5, 1.5])])
    assert both.steps.dtype == np.int64 and both.steps.tolist() == [1, 2]


@pytest.mark.parametrize("steps", [[5, 5], [5, 4], [1, 2, 2], [3, 1, 2]])
def test_a_chunk_without_strictly_increasing_steps_has_no_overview(steps):
    assert overview_indices(pts(steps, np.arange(len(steps), dtype=float))) is None


@pytest.mark.parametrize("steps,values,want", [([7], [1.0], [0]), ([1, 2], [2.0, 1.0], [0, 1]),
                                               ([1, 5, 9], [1.0, 0.0, 2.0], [0, 1, 2]),
                                               ([1, 5, 9, 10], [1.0, 1.5, 1.2, 2.0], [0, 3])])
def test_a_short_chunk_keeps_its_ends_minimum_and_maximum(steps, values, want):
    assert overview_indices(pts(steps, values)).tolist() == want


def test_an_empty_chunk_has_no_overview():
    assert overview_indices(Points.empty()) is None
    assert decode_chunks([(3, None, encode_chunk(pts([1, 2, 3], [1.0, 2.0, 3.0])))])[0].steps.tolist() == [1, 2, 3]


@pytest.mark.parametrize("steps", [[5, 4], [2, 1, 3], [9, 8, 7, 6]])
def test_points_read_back_sorted_by_step_however_few(steps):
    p = pts(steps, [float(s) for s in steps]).sorted_by_step()
    assert p.steps.tolist() == sorted(steps) and p.values.tolist() == [float(s) for s in sorted(steps)]
    assert p.timestamps.tolist() == [1000.0 + steps.index(s) for s in sorted(steps)]  # rows stay whole


def test_equal_steps_keep_the_order_they_were_logged_in():
    steps = np.tile(np.arange(300), 2)  # every step twice, the second pass after the first
    p = pts(steps, np.arange(600, dtype=float)).sorted_by_step()
    assert p.steps.tolist() == [s for s in range(300) for _ in (0, 1)]
    assert p.values.tolist() == [float(v) for s in range(300) for v in (s, s + 300)]


def test_downsampling_to_fewer_than_three_points_is_refused():
    p = pts(range(10), np.arange(10, dtype=float))
    with pytest.raises(ValueError, match=r"^max_points must be at least 3$"):
        downsample(p, 2)
    assert downsample(p, 10) == (p, False) and downsample(p, None) == (p, False)


def test_the_public_tsdownsample_call_picks_the_same_points(monkeypatch):
    """The compiled function looked up in tsdownsample's internals is only a shortcut: if another tsdownsample
    lacks it, the public call is used and chooses the same points."""
    from tsdownsample import MinMaxLTTBDownsampler

    rng = np.random.default_rng(5)
    increasing = pts(np.cumsum(rng.integers(1, 50, size=5000)), np.cumsum(rng.normal(size=5000)))  # uneven steps
    repeated = pts(np.repeat(np.arange(2500), 2), np.cumsum(rng.normal(size=5000)))  # positions, not steps
    fast = [downsample(p, 100)[0] for p in (increasing, repeated)]

    def missing_for_the_shortcut(original):
        def lookup(*a, **k):  # tsdownsample's own public call still finds it
            if sys._getframe(1).f_code.co_filename == SER.__file__:
                raise AttributeError("not in this tsdownsample")
            return original(*a, **k)
        return lookup

    monkeypatch.setattr(SER, "_MINMAX_LTTB", {})
    for name in ("_switch_mod_with_y", "_switch_mod_with_x_and_y"):
        monkeypatch.setattr(MinMaxLTTBDownsampler, name, missing_for_the_shortcut(getattr(MinMaxLTTBDownsampler, name)))
    slow = [downsample(p, 100)[0] for p in (increasing, repeated)]
    for f, s in zip(fast, slow):
        assert 50 < len(s) <= 100
        assert s.steps.tolist() == f.steps.tolist() and s.values.tolist() == f.values.tolist()


def test_the_installed_tsdownsample_is_called_through_the_shortcut_looked_up_once(monkeypatch):
    """With the tsdownsample this package installs, downsampling never goes through the public call (its per-call
    dtype checks cost a third of an overlay of 1,000 short series), and the compiled function is looked up once per
    form (over steps, over positions), not on every read."""
    from tsdownsample import MinMaxLTTBDownsampler

    def public_call(*a, **k):
        raise AssertionError("the public call was used")

    lookups = []

    def counted(name):
        original = getattr(MinMaxLTTBDownsampler, name)

        def lookup(*a, **k):
            lookups.append(name)
            return original(*a, **k)
        return lookup

    monkeypatch.setattr(MinMaxLTTBDownsampler, "downsample", public_call)
    for name in ("_switch_mod_with_y", "_switch_mod_with_x_and_y"):
        monkeypatch.setattr(MinMaxLTTBDownsampler, name, counted(name))
    monkeypatch.setattr(SER, "_MINMAX_LTTB", {})
    rng = np.random.default_rng(7)
    increasing = pts(np.cumsum(rng.integers(1, 50, size=3000)), rng.normal(size=3000))
    repeated = pts(np.repeat(np.arange(1500), 2), rng.normal(size=3000))
    first_round = None
    for _ in range(3):
        for p in (increasing, repeated):
            out, thinned = downsample(p, 100)
            assert thinned and 50 < len(out) <= 100
        first_round = first_round or list(lookups)
    assert set(first_round) == {"_switch_mod_with_x_and_y", "_switch_mod_with_y"}
    assert lookups == first_round  # none after the first read of each form


def test_a_chunk_whose_frame_does_not_say_its_size_decodes():
    """A zstd frame written without its content size (a streaming writer's) decodes within the size the point
    count allows."""
    import zstandard

    p = pts([3, 5, 9], [0.5, -1.0, 2.0])
    data = encode_chunk(p)
    raw = zstandard.ZstdDecompressor().decompress(data[1:])
    unsized = data[:1] + zstandard.ZstdCompressor(write_content_size=False).compress(raw)
    assert zstandard.get_frame_parameters(unsized[1:]).content_size == zstandard.CONTENTSIZE_UNKNOWN
    back = SER.decode_chunk(unsized, 3)
    assert back.steps.tolist() == [3, 5, 9] and back.values.tolist() == [0.5, -1.0, 2.0]
    assert back.timestamps.tolist() == p.timestamps.tolist()
