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
         # the first step once, then every step twice: a repeat that is not at the start
         "repeated later": lambda n, rng: np.concatenate([[0], np.repeat(np.arange(1, n // 2 + 1), 2)])[:n],
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


# -- the selection itself, against tsdownsample's public calls -----------------------------------------------------

def reference(p: Points, max_points: int) -> list[int]:
    """The documented selection, written out with tsdownsample's public calls: MinMaxLTTB (NaNMinMaxLTTB when a
    value is not finite) over the steps when they strictly increase, else over positions, to ``max_points - 2``
    points (at least 3); the non-finite points added while there are at most ``max_points // 10`` of them; the
    finite minimum and maximum added from 5 points on; and when that makes too many, the ends and extremes kept and
    the rest thinned evenly, from its first point to its last."""
    from tsdownsample import MinMaxLTTBDownsampler, NaNMinMaxLTTBDownsampler

    x, y, n = p.steps, p.values, len(p)
    xs = (x,) if bool(np.all(x[1:] > x[:-1])) else ()
    finite = np.isfinite(y)
    n_out = max(3, max_points - 2)
    if finite.all():
        idx = set(MinMaxLTTBDownsampler().downsample(*xs, y, n_out=n_out).tolist())
        extremes = {int(np.argmin(y)), int(np.argmax(y))}
    else:
        yy = np.where(finite, y, np.nan)
        idx = set(NaNMinMaxLTTBDownsampler().downsample(*xs, yy, n_out=n_out).tolist())
        extremes = {int(np.nanargmin(yy)), int(np.nanargmax(yy))} if finite.any() else set()
        special = np.flatnonzero(~finite).tolist()
        if len(special) <= max_points // 10:
            idx |= set(special)
    if max_points >= 5:
        idx |= extremes
    else:
        extremes = set()
    if len(idx) > max_points:
        keep = extremes | {0, n - 1}
        rest = sorted(idx - keep)
        picks = np.linspace(0, len(rest) - 1, max_points - len(keep)).astype(np.int64)
        idx = keep | {rest[i] for i in picks}
    return sorted(idx)


def _noisy(n: int, seed: int, steps: str, specials: int = 0) -> Points:
    rng = np.random.default_rng(seed)
    v = np.cumsum(rng.normal(size=n))
    if specials:
        where = rng.choice(np.arange(1, n - 1), size=specials, replace=False)
        v[where] = rng.choice([math.nan, math.inf, -math.inf], size=specials)
    s = STEPS[steps](n, rng)
    return series(v, s)


@pytest.mark.parametrize("steps", sorted(STEPS))
@pytest.mark.parametrize("max_points", [3, 4, 5, 12, 100])
@pytest.mark.parametrize("specials", [0, 1, 9])
def test_the_selection_is_minmax_lttb_over_the_steps_plus_the_extremes(steps, max_points, specials):
    p = _noisy(5000, 7 + specials, steps, specials)
    assert kept(p, max_points) == reference(p, max_points)


@pytest.mark.parametrize("count", [10, 11])
def test_non_finite_points_are_added_up_to_exactly_a_tenth_of_max_points(count):
    """10 non-finite points with max_points 100 are all added; the 11th tips it over and none is added."""
    p = _noisy(20_000, 3, "uneven", count)
    got = kept(p, 100)
    assert got == reference(p, 100)
    special = [i for i in range(len(p)) if not math.isfinite(p.values[i])]
    assert (set(special) <= set(got)) is (count == 10)


# (n, max_points, non-finite points, seed): cases where the non-finite points and the extremes added to
# MinMaxLTTB's choice come to more than max_points, so the rest is thinned
THINNED = [(929, 220, 17, 0), (3614, 364, 26, 1), (636, 291, 20, 2), (5000, 100, 10, 5)]


@pytest.mark.parametrize("n, max_points, specials, seed", THINNED)
@pytest.mark.parametrize("steps", ["even", "uneven"])
def test_too_many_added_points_are_thinned_to_exactly_max_points(n, max_points, specials, seed, steps):
    p = _noisy(n, seed, steps, specials)
    from tsdownsample import NaNMinMaxLTTBDownsampler

    xs = (p.steps,) if steps == "uneven" else ()
    chosen = set(NaNMinMaxLTTBDownsampler().downsample(*xs, np.where(np.isfinite(p.values), p.values, np.nan),
                                                       n_out=max_points - 2).tolist())
    special = set(np.flatnonzero(~np.isfinite(p.values)).tolist())
    if len(chosen | special) + 2 <= max_points:
        pytest.skip("this case no longer needs thinning")  # tsdownsample chose differently: the cases need renewing
    got = kept(p, max_points)
    assert len(got) == max_points
    finite = np.where(np.isfinite(p.values), p.values, np.nan)
    assert {0, n - 1, int(np.nanargmin(finite)), int(np.nanargmax(finite))} <= set(got)
    assert got == reference(p, max_points)
