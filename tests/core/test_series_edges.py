"""core/series.py at its edges: the dtypes of an empty read, which chunks get an overview (strictly increasing
steps only, from two points on)."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mltrack.core.series import Points, decode_chunks, encode_chunk, overview_indices


def pts(steps, values):
    return Points(np.asarray(steps, np.int64), np.arange(len(steps), dtype=np.float64) + 1000.0,
                  np.asarray(values, np.float64))


def test_an_empty_read_has_the_columns_types():
    """No chunk to decode (a step range outside the series): int64 steps, float64 timestamps and values — the
    types every later concatenation and encoding relies on."""
    for p in (decode_chunks([])[0], Points.concat([]), Points.concat([pts([], [])]), Points.empty()):
        assert len(p) == 0
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
