"""Every read path agrees: the same run read through get_run, search_runs (with and without a filter), run_table,
run_frame, both REST listing views and GET runs/{id}, and the same series read through get_series,
get_series_many and both REST series routes, with and without downsampling, show the same status, last values,
summaries and points — for the cases where a rule is written in more than one place: a stale running run (with and
without a heartbeat), a series of one NaN point, NaN/±inf inside a series, ties on the last step.

One real ``jupyter server`` (a subprocess) serves the module's SQLite store; the test process writes to the same
file through its own Store, as a kernel does."""

from __future__ import annotations

import json
import math
import secrets
import time

import numpy as np
import pytest
import requests

from jupyter_mltrack.core import run_shape as R
from jupyter_mltrack.core.wire import float_from_wire


STALE = R.STALE_AFTER


@pytest.fixture(scope="module")
def store(module_store):
    return module_store


@pytest.fixture(scope="module")
def server(module_server):
    return module_server


@pytest.fixture
def rest(request):
    """GET a REST path; the server starts on the first call (the store-only paths need none)."""

    def get(path: str, **params):
        server = request.getfixturevalue("server")
        r = requests.get(server.api + path, params=params, headers=server.headers, timeout=30)
        assert r.status_code == 200, (path, params, r.text[:500])
        return r.json()

    return get


@pytest.fixture
def project():
    return "p-" + secrets.token_hex(4)


def num(v):
    return None if v is None else float_from_wire(v)


def same(a, b) -> bool:
    """Equal, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# -- the run read paths: each returns {run_id: {"status", "last": {key: value}, "summary": {key: (...)}|None}} ----

def _full(runs) -> dict:
    return {r["id"]: {"status": r["status"],
                      "last": {m["key"]: num(m["last"]) for m in r["metrics"]},
                      "summary": {m["key"]: (m["count"], num(m["min"]), num(m["max"]), m["last_step"])
                                  for m in r["metrics"]}} for r in runs}


def _table(table: dict) -> dict:
    return {row[0]: {"status": row[2], "last": {k: num(v) for k, v in m.items()}, "summary": None}
            for row, m in zip(table["base"], table["metrics"])}


def _frame(frame: dict) -> dict:
    out = {}
    for i, row in enumerate(frame["base"]):
        last = {k[len("metrics."):]: float(a[i]) for k, a in frame["numeric"].items() if k.startswith("metrics.")}
        out[row[0]] = {"status": row[2], "last": last, "summary": None}
    return out


RUN_PATHS = {
    "get_run": lambda s, rest, p, ids: _full([s.get_run(i) for i in ids]),
    "search_runs": lambda s, rest, p, ids: _full(s.search_runs(project=p)[0]),
    "search_runs_filter": lambda s, rest, p, ids: _full(
        s.search_runs(project=p, filter="status != 'killed' and start_time > 0")[0]),
    "run_table": lambda s, rest, p, ids: _table(s.run_table(project=p)),
    "run_frame": lambda s, rest, p, ids: _frame(s.run_frame(project=p)),
    "rest_full": lambda s, rest, p, ids: _full(rest("runs", project=p, view="full")["runs"]),
    "rest_table": lambda s, rest, p, ids: {
        r["id"]: {"status": r["status"], "last": {k: num(v) for k, v in r["metrics"].items()}, "summary": None}
        for r in rest("runs", project=p, view="table")["runs"]},
    "rest_run": lambda s, rest, p, ids: _full([rest(f"runs/{i}") for i in ids]),
}


def read_runs(path, store, rest, project, ids):
    got = RUN_PATHS[path](store, rest, project, ids)
    assert set(got) == set(ids), (path, set(got))
    return got


# -- the series read paths: each returns (total_count, [(step, value), ...]) -------------------------------------

def _points(p) -> list:
    return list(zip(p.steps.tolist(), p.values.tolist()))


def _rest_points(d) -> list:
    return list(zip(d["steps"], [float_from_wire(v) for v in d["values"]]))


SERIES_PATHS = {
    "get_series": lambda s, rest, rid, name, mp: (lambda r: (r["total_count"], _points(r["points"])))(
        s.get_series(rid, name, None, mp)),
    "get_series_many": lambda s, rest, rid, name, mp: (lambda r: (r["total_count"], _points(r["points"])))(
        s.get_series_many([rid], name, None, mp)[0]),
    "rest_series": lambda s, rest, rid, name, mp: (lambda r: (r["total_count"], _rest_points(r)))(
        rest(f"runs/{rid}/metrics", name=name, **({} if mp is None else {"max_points": mp}))),
    "rest_series_many": lambda s, rest, rid, name, mp: (lambda r: (r["total_count"], _rest_points(r)))(
        rest("metrics", runs=rid, name=name, **({} if mp is None else {"max_points": mp}))["series"][0]),
}


# -- the crashed rule ------------------------------------------------------------------------------------------------

# id suffix, stored status, heartbeat age (None: no heartbeat), start age → what every path must read
STATUS_CASES = [
    ("fresh", "running", 1, 1000, "running"),
    ("beat_stale", "running", STALE + 50, STALE + 100, "crashed"),
    ("no_beat_young", "running", None, 10, "running"),
    ("no_beat_old", "running", None, STALE + 10, "crashed"),
    ("beat_fresh_old_start", "running", 5, STALE * 10, "running"),
    ("finished_old", "finished", None, STALE * 10, "finished"),
]


@pytest.fixture
def aged(store, project):
    from sqlalchemy import text

    now = time.time()
    ids = {c[0]: f"{project}-{c[0]}" for c in STATUS_CASES}
    store.write_batch({"runs": [{"id": ids[c[0]], "project": project, "status": c[1]} for c in STATUS_CASES],
                       "metrics": [{"run_id": ids[c[0]], "name": "loss", "values": [0.5]} for c in STATUS_CASES]})
    # time passing: the heartbeats and starts were that long ago (fragments rebuilt from the detail tables)
    with store.engine.begin() as conn:
        for key, _status, beat, start, _want in STATUS_CASES:
            conn.execute(text("UPDATE runs SET heartbeat_at = :b, start_time = :s, table_row = '' WHERE id = :i"),
                         {"b": None if beat is None else now - beat, "s": now - start, "i": ids[key]})
    return ids, {ids[c[0]]: c[4] for c in STATUS_CASES}


@pytest.mark.parametrize("path", sorted(RUN_PATHS))
def test_a_stale_running_run_reads_crashed_on_every_path(path, store, rest, project, aged):
    ids, want = aged
    got = read_runs(path, store, rest, project, list(want))
    assert {i: v["status"] for i, v in got.items()} == want


@pytest.mark.parametrize("via", ["search_runs", "run_table", "run_frame", "rest_table", "rest_full"])
@pytest.mark.parametrize("status", ["crashed", "running", "finished"])
def test_a_status_filter_sees_the_status_every_path_shows(via, status, store, rest, project, aged):
    ids, want = aged
    flt = f"status = '{status}'"
    if via == "search_runs":
        got = {r["id"] for r in store.search_runs(project=project, filter=flt)[0]}
    elif via == "run_table":
        got = {row[0] for row in store.run_table(project=project, filter=flt)["base"]}
    elif via == "run_frame":
        got = {row[0] for row in store.run_frame(project=project, filter=flt)["base"]}
    else:
        got = {r["id"] for r in rest("runs", project=project, filter=flt, view=via[5:])["runs"]}
    assert got == {i for i, s in want.items() if s == status}
    # and the SQL order agrees with the Python status: sorting by status sorts the statuses every path shows
    order = [r["id"] for r in store.search_runs(project=project, order_by="status")[0]]
    assert [want[i] for i in order] == sorted(want.values())


def test_a_crashed_run_says_why(store, rest, project, aged):
    ids, want = aged
    for rid, status in want.items():
        for run in (store.get_run(rid), rest(f"runs/{rid}")):
            if status == "crashed":
                assert run["status_reason"].startswith("the process logging it stopped: its last heartbeat was at ")
            else:
                assert run["status_reason"] is None


# -- series --------------------------------------------------------------------------------------------------------

def run_with(store, project, *metrics) -> str:
    rid = f"{project}-r"
    store.write_batch({"runs": [{"id": rid, "project": project}],
                       "metrics": [{"run_id": rid, **m} for m in metrics]})
    return rid


def check_runs_agree(store, rest, project, rid, last: dict, summary: dict):
    for path in RUN_PATHS:
        got = read_runs(path, store, rest, project, [rid])[rid]
        assert same(got["last"], last), (path, got["last"])
        if got["summary"] is not None:
            assert same(got["summary"], summary), (path, got["summary"])


def series_reads(store, rest, rid, name, max_points):
    return {path: fn(store, rest, rid, name, max_points) for path, fn in SERIES_PATHS.items()}


def test_a_series_of_one_nan_point(store, rest, project):
    rid = run_with(store, project, {"name": "m", "values": ["NaN"], "steps": [7]})
    check_runs_agree(store, rest, project, rid, {"m": math.nan}, {"m": (1, None, None, 7)})
    for mp in (None, 3):
        for path, got in series_reads(store, rest, rid, "m", mp).items():
            assert same(got, (1, [(7, math.nan)])), (path, mp, got)


def test_ties_on_the_last_step_take_the_latest_logged(store, rest, project):
    # in one batch: step 5 twice (the second wins), and an earlier step logged after them
    rid = run_with(store, project, {"name": "m", "values": [1.0, 2.0, 3.0], "steps": [5, 5, 4]})
    check_runs_agree(store, rest, project, rid, {"m": 2.0}, {"m": (3, 1.0, 3.0, 5)})
    # in a later batch: the same step again wins over both
    store.write_batch({"metrics": [{"run_id": rid, "name": "m", "values": [0.5], "steps": [5]}]})
    check_runs_agree(store, rest, project, rid, {"m": 0.5}, {"m": (4, 0.5, 3.0, 5)})
    want = [(4, 3.0), (5, 1.0), (5, 2.0), (5, 0.5)]  # sorted by step, stable: logged order within a step
    for mp in (None, 4):
        for path, got in series_reads(store, rest, rid, "m", mp).items():
            assert got == (4, want), (path, mp, got)


def test_ties_in_a_long_series_downsample_alike(store, rest, project):
    """Duplicate steps make downsampling select on positions: every path agrees and keeps min, max and ends."""
    rng = np.random.default_rng(3)
    steps = np.tile(np.arange(300), 2)  # every step logged twice, the second pass after the first
    values = rng.normal(size=steps.size)
    values[50], values[516] = -9.0, 9.0
    rid = run_with(store, project, {"name": "m", "values": values.tolist(), "steps": steps.tolist()})
    check_runs_agree(store, rest, project, rid, {"m": values[-1]}, {"m": (600, -9.0, 9.0, 299)})
    stable = [(int(s), float(values[i])) for s in range(300) for i in (s, s + 300)]
    for path, got in series_reads(store, rest, rid, "m", None).items():
        assert got == (600, stable), path
    reads = series_reads(store, rest, rid, "m", 40)
    first = reads["get_series"]
    assert all(got == first for got in reads.values()), reads
    total, pts = first
    assert total == 600 and len(pts) <= 40
    assert {(50, -9.0), (216, 9.0), (0, values[0]), (299, values[-1])} <= set(pts)


def noisy(seed: int, n: int = 2000):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=n))


@pytest.mark.parametrize("seed", range(6))
def test_nan_and_infinities_inside_a_series(seed, store, rest, project):
    """NaN, +inf and -inf inside a noisy series: the summaries ignore NaN and keep ±inf; every read shows the
    non-finite points where they are; a downsampled read keeps them and the finite minimum and maximum."""
    values = noisy(seed)
    rng = np.random.default_rng(100 + seed)
    nan_at, up_at, down_at = (int(i) for i in rng.choice(np.arange(1, values.size - 1), 3, replace=False))
    fin_lo, fin_hi = float(np.delete(values, [nan_at, up_at, down_at]).min()), \
        float(np.delete(values, [nan_at, up_at, down_at]).max())
    values[nan_at], values[up_at], values[down_at] = math.nan, math.inf, -math.inf
    lo_at = int(np.flatnonzero(values == fin_lo)[0])
    hi_at = int(np.flatnonzero(values == fin_hi)[0])
    rid = run_with(store, project, {"name": "m", "values": [float(v) for v in values]})
    n = values.size
    check_runs_agree(store, rest, project, rid, {"m": float(values[-1])}, {"m": (n, -math.inf, math.inf, n - 1)})
    full = [(i, float(v)) for i, v in enumerate(values)]
    for path, got in series_reads(store, rest, rid, "m", None).items():
        assert same(got, (n, full)), path
    reads = series_reads(store, rest, rid, "m", 100)
    first = reads["get_series"]
    for path, got in reads.items():
        assert same(got, first), path
    total, pts = first
    assert total == n and len(pts) <= 100
    kept = {s for s, _ in pts}
    assert {0, n - 1, nan_at, up_at, down_at, lo_at, hi_at} <= kept, \
        ({0, n - 1, nan_at, up_at, down_at, lo_at, hi_at} - kept)
    assert all(same(v, float(values[s])) for s, v in pts)


@pytest.mark.parametrize("seed", range(12))
def test_a_noisy_series_with_one_nan_keeps_its_extremes_when_downsampled(seed, store, project):
    values = noisy(seed, 5000)
    nan_at = int(np.random.default_rng(seed).integers(1, values.size - 1))
    values[nan_at] = math.nan
    lo_at, hi_at = int(np.nanargmin(values)), int(np.nanargmax(values))
    rid = run_with(store, project, {"name": "m", "values": [float(v) for v in values]})
    for mp in (20, 200):
        got = store.get_series(rid, "m", None, mp)["points"]
        assert {0, values.size - 1, nan_at, lo_at, hi_at} <= set(got.steps.tolist()), (mp, lo_at, hi_at)
