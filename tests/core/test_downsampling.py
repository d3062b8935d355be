"""core/series.py's downsample, in-process and point by point: the finite minimum and maximum are always kept
(with and without NaN/±inf in the series, with strictly increasing steps and with repeated ones), non-finite points
are kept while they are few and thinned with the rest when they are many, and what is returned never exceeds
max_points. (tests/server/test_read_paths.py checks the same through every read path.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jupyter_mltrack.core.series import Points, downsample


def series(values, steps=None) -> Points:
    values = np.asarray(values, dtype=np.float64)
    steps = np.arange(values.size, dtype=np.int64) if steps is None else np.asarray(steps, dtype=np.int64)
    return Points(steps, np.arange(values.size, dtype=np.float64), values)


def kept(p: Points, max_points: int) -> list[int]:
    d, down = downsample(p, max_points)
    assert down and len(d) <= max_points
    pos = {(int(s), float(t)) for s, t in zip(p.steps, p.timestamps)}
    assert all((int(s), float(t)) in pos for s, t in zip(d.steps, d.timestamps))  # a subset, in order
    assert np.all(np.diff(d.timestamps) > 0)
    return [int(t) for t in d.timestamps]  # positions in p (timestamps are the positions)


STEPS = {"even": lambda n, rng: None, "repeated": lambda n, rng: np.repeat(np.arange(n // 2), 2),
         "uneven": lambda n, rng: np.cumsum(rng.integers(1, 200, size=n))}


@pytest.mark.parametrize("kind", sorted(STEPS))
@pytest.mark.parametrize("seed", range(8))
def test_one_nan_never_costs_the_minimum_or_maximum(seed, kind):
    rng = np.random.default_rng(seed)
    v = np.cumsum(rng.normal(size=4000))
    v[int(rng.integers(1, 3999))] = math.nan
    p = series(v, STEPS[kind](4000, rng))
    lo, hi = int(np.nanargmin(v)), int(np.nanargmax(v))
    for mp in (12, 50, 300):
        got = kept(p, mp)
        assert {lo, hi, 0, 3999} <= set(got), (mp, lo, hi)


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_a_few_non_finite_points_are_all_kept(kind):
    rng = np.random.default_rng(11)
    v = np.cumsum(rng.normal(size=3000))
    special = {500: math.nan, 1500: math.inf, 2500: -math.inf}
    for i, x in special.items():
        v[i] = x
    steps = STEPS[kind](3000, rng)
    finite = np.where(np.isfinite(v), v, np.nan)
    want = {0, 2999, int(np.nanargmin(finite)), int(np.nanargmax(finite)), *special}
    got = kept(series(v, steps), 30)  # 3 non-finite points ≤ 30 // 10: all kept
    assert want <= set(got), want - set(got)


def test_non_finite_points_up_to_a_tenth_of_max_points_are_all_kept():
    v = np.cumsum(np.random.default_rng(2).normal(size=3000))
    v[100:3000:100] = math.nan  # 29 NaN points
    got = kept(series(v), 290)  # 29 ≤ 290 // 10: every one kept
    assert all(i in got for i in range(100, 3000, 100))


def test_many_non_finite_points_are_thinned_with_the_ends_and_extremes_kept():
    v = np.cumsum(np.random.default_rng(4).normal(size=2000))
    v[1::3] = math.nan  # a third of the points are NaN
    finite = np.where(np.isfinite(v), v, np.nan)
    for mp in (5, 20, 101):
        got = kept(series(v), mp)
        assert {0, 1999, int(np.nanargmin(finite)), int(np.nanargmax(finite))} <= set(got), mp


def test_an_all_nan_series_downsamples_to_its_ends():
    got = kept(series([math.nan] * 1000), 10)
    assert got[0] == 0 and got[-1] == 999


@pytest.mark.parametrize("mp", [3, 4, 5, 6, 7])
def test_the_fewest_points_still_fit(mp):
    v = np.sin(np.arange(1000) / 50.0) * np.arange(1000)
    got = kept(series(v), mp)
    assert len(got) <= mp and got[0] == 0 and got[-1] == 999
    if mp >= 5:  # room for the extremes too
        assert {int(np.argmin(v)), int(np.argmax(v))} <= set(got)


def test_a_series_no_longer_than_max_points_is_returned_as_it_is():
    p = series([3.0, math.nan, 1.0])
    assert downsample(p, 3) == (p, False)
    d, down = downsample(series([3.0, math.nan, 1.0, 2.0]), 3)
    assert down and len(d) == 3
