#!/usr/bin/env python3
"""Profile jupyter_mltrack on the benchmark's read/write paths (cProfile), to name the hot spot behind a missed
target. Runs in the project's venv:

    PYTHONPATH=. .venv/bin/python bench/profile_ours.py                # every case
    PYTHONPATH=. .venv/bin/python bench/profile_ours.py run_table rest_series --top 25

Each case builds its data with the benchmark's own generators in a temp folder, times the operation (median of a
few calls after a warm-up) and prints cProfile's top functions by own time and by cumulative time. The REST cases
profile in-process what the handler does on its worker thread (the store call, ``series_lists`` and
``encode_json``); the HTTP/tornado part is timed separately against a real server when ``--http`` is given.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "adapters"))
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

import _common as C  # noqa: E402
import ours as O  # noqa: E402


class Args:
    def __init__(self, store):
        self.phase = "populate"
        self.store = str(store)


def _timeit(fn, n=5):
    fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def profile(label, fn, top, n=5):
    t = _timeit(fn, n)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        fn()
    pr.disable()
    out = io.StringIO()
    st = pstats.Stats(pr, stream=out)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    print(f"\n=== {label}: median {t * 1e3:.1f} ms (unprofiled) ===")
    print(out.getvalue())


def _series_body(series: list[dict] | dict) -> bytes:
    """What the series handlers do on their worker thread: arrays to lists, then msgspec's JSON."""
    from jupyter_mltrack.core.wire import encode_json, series_lists

    for s in series if isinstance(series, list) else [series]:
        s.update(series_lists(s.pop("points")))
    return encode_json({"series": series} if isinstance(series, list) else series)


def case_run_table(work, top, n_runs=10_000):
    store_dir = work / "runs"
    if not store_dir.exists():
        O.populate_runs(C.Result(), {"n": n_runs}, store_dir)
    import jupyter_mltrack as mlt

    mlt.set_tracking_uri(str(store_dir))
    from jupyter_mltrack.client.tracking import get_client

    store = get_client().backend.store
    profile(f"Store.run_table, {n_runs} runs", lambda: store.run_table(), top)
    table = store.run_table()
    from jupyter_mltrack.client.frames import runs_dataframe

    profile(f"runs_dataframe (DataFrame build), {n_runs} runs", lambda: runs_dataframe(table), top)
    profile(f"mlt.search_runs(), {n_runs} runs", lambda: mlt.search_runs(), top)
    for view in ("table", "full"):
        profile(f"Store.search_runs_json (REST list, view={view}), {n_runs} runs",
                lambda: store.search_runs_json(limit=10_000, view=view), top)
        body, _ = store.search_runs_json(limit=10_000, view=view)
        print(f"REST list body (view={view}): {len(body) / 1e6:.1f} MB for {n_runs} runs")
    profile(f"mlt.search_runs(filter=…), {n_runs} runs", lambda: mlt.search_runs(filter=O.FILTER), top)
    profile(f"Store.search_runs_json(filter=…), {n_runs} runs",
            lambda: store.search_runs_json(filter=O.FILTER, limit=10_000, view="table"), top)


def case_rest_series(work, top):
    store_dir = work / "series"
    p = {"n_small": 10_000, "n_big": 1_000_000, "max_points": 2000}
    if not store_dir.exists():
        O.w7(C.Result(), p, work, Args(store_dir))
    store = O._store(store_dir)

    def handler(name, mp=None):
        return _series_body(store.get_series(O.RID7, name, None, mp))

    profile("Store.get_series 10k full", lambda: store.get_series(O.RID7, "s_small"), top)
    profile("REST handler work: 10k-point series (get_series + series_lists + encode_json)",
            lambda: handler("s_small"), top)
    profile("Store.get_series 1M → 2,000", lambda: store.get_series(O.RID7, "s_big", max_points=2000), top)
    profile("Store.get_series 1M full", lambda: store.get_series(O.RID7, "s_big"), top)
    profile("REST handler work: 1M → 2,000", lambda: handler("s_big", 2000), top)


def case_overlay(work, top):
    store_dir = work / "overlay"
    p = {"n_runs": 1000, "n_points": 1000, "max_points": 200}
    if not store_dir.exists():
        O.w8(C.Result(), p, work, Args(store_dir))
    store = O._store(store_dir)
    ids = [f"ov{i:05d}" for i in range(1000)]

    def handler():
        return _series_body(store.get_series_many(ids, "loss", None, 200))

    profile("Store.get_series_many, 1,000 runs → 200 points", lambda: store.get_series_many(ids, "loss", None, 200),
            top)
    profile("REST handler work: GET metrics?runs=1000 ids", handler, top)


def case_one_point_batch(work, top):
    """What the server's write thread does for each one-point POST of workload 3b."""
    store = O._store(work / "write")
    rid = "w3lat"
    store.write_batch({"runs": [{"id": rid, "name": "w3", "project": "bench"}]})
    store.write_batch({"metrics": [{"run_id": rid, "name": "loss", "values": C.series_values(2_000_000)}]})
    i = [0]

    def one():
        i[0] += 1
        store.write_batch({"metrics": [{"run_id": rid, "name": "lat", "steps": [i[0]], "values": [i[0] * 0.5]}]})

    profile("Store.write_batch of one point (the 3b POST's store work)", one, top, n=200)


_BUSY_CELL = compile("x = 0\nwhile not done.is_set():\n    for i in range(1000):\n        x += i\n", "<cell>", "exec")


def case_write_beside_loop(work, top, n=500_000, reps=7):
    """A store write of ``n`` points (one series, going on from a partial chunk) on its own, then in a thread beside
    a pure-Python loop (a user's code going on while the writer thread stores what it logged): what the write's
    releases of the interpreter lock cost it (each one waits out the loop's switch interval)."""
    import threading

    store = O._store(work / "beside")
    rid = "beside"
    store.write_batch({"runs": [{"id": rid, "name": "beside", "project": "bench"}]})
    off = [0]

    def batch():
        steps = np.arange(off[0], off[0] + n, dtype=np.int64)
        off[0] += n + 7  # the next write starts inside a partial chunk
        return {"metrics": [{"run_id": rid, "name": "loss", "steps": steps, "timestamps": np.full(n, time.time()),
                             "values": np.sin(steps / 1000.0)}]}

    store.write_batch(batch())
    for label in ("alone", "beside a Python loop"):
        times = []
        for _ in range(reps):
            b, done, out = batch(), threading.Event(), {}

            def write(b=b, done=done, out=out):
                t = time.perf_counter()
                store.write_batch(b)
                out["s"] = time.perf_counter() - t
                done.set()

            th = threading.Thread(target=write)
            th.start()
            if label != "alone":  # a notebook cell's loop: module-level code, its names globals
                exec(_BUSY_CELL, {"done": done})
            th.join()
            times.append(out["s"])
        print(f"Store.write_batch of {n:,} points, {label}: median {statistics.median(times) * 1e3:.1f} ms "
              f"({', '.join(f'{t * 1e3:.1f}' for t in times)})")


def case_log_metric_in_a_cell(work, top, n=1_000_000, reps=5):
    """Row 1's loop as a notebook cell writes it (module-level code: its names are globals), capture on: the loop,
    the final flush and the rate, medians of ``reps``."""
    import jupyter_mltrack as mlt

    vals = C.series_values(n).tolist()
    got = []
    for k in range(reps):
        mlt.set_tracking_uri(str(work / f"cell-{k}"))
        run = mlt.start_run("cell", project="bench")
        mlt.flush()
        t0 = time.perf_counter()
        exec(O._CELL_LOOP, {"vals": vals, "run": run})  # row 1c's loop
        t_loop = time.perf_counter() - t0
        mlt.flush()
        t = time.perf_counter() - t0
        run.end()
        mlt.flush()
        got.append((t_loop, t - t_loop, n / t))
    loop, flush, rate = (statistics.median(g[i] for g in got) for i in range(3))
    print(f"log_metric × {n:,} in a cell: loop {loop:.3f} s, flush {flush:.3f} s, {rate / 1e6:.2f}M/s "
          f"(flushes {', '.join(f'{g[1]:.3f}' for g in got)})")


CASES = {"run_table": case_run_table, "rest_series": case_rest_series, "overlay": case_overlay,
         "one_point_batch": case_one_point_batch, "write_beside_loop": case_write_beside_loop,
         "log_metric_in_a_cell": case_log_metric_in_a_cell}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*", default=list(CASES))
    ap.add_argument("--top", type=int, default=18)
    ap.add_argument("--work", default=None, help="reuse a folder of generated stores")
    a = ap.parse_args()
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="mltrack-profile-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}")
    for c in a.cases:
        CASES[c](work, a.top)


if __name__ == "__main__":
    main()
