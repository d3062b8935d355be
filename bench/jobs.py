"""Benchmark rows of jobs (issue #14), on a fresh SQLite store in a temporary folder:

J1  trigger → run in the store: ``run_job`` with the scheduler running on its thread (as in the server, local
    executor) until the execution's run is readable from the store; median and p95 of N triggers of a trivial script
    (target ≤ 1 s).
J2  scheduler overhead with 1,000 defined jobs: one ``Scheduler.tick`` (lease, due times, pending work) when nothing
    is due — the cost paid every 0.5 s by the leading server — as a median, and its share of the interval.
J3  1,000 jobs due at the same minute: the tick that fires them all (1,000 executions in one trigger).

    python bench/jobs.py [--quick] [--out bench/results/jobs.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_mltrack.core.store import Store  # noqa: E402
from jupyter_mltrack.jobs.executors import LocalExecutor  # noqa: E402
from jupyter_mltrack.jobs.scheduler import Scheduler  # noqa: E402

from run import machine_info  # noqa: E402


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def trigger_to_run(folder: Path, n: int) -> dict:
    store = Store(folder / "j1")
    (folder / "noop.py").write_text("pass\n")
    store.create_job({"name": "noop", "script": str(folder / "noop.py"), "max_concurrent": 1})
    s = Scheduler(store, LocalExecutor(store, 4)).start()
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            eid = store.run_job("noop")[0]["id"]
            s.wake()  # what POST jobs/{name}/run does
            while True:
                ex = next(e for e in store.job_executions("noop", 5) if e["id"] == eid)
                if ex["run_id"]:
                    store.get_run(ex["run_id"])
                    break
                time.sleep(0.002)
            times.append(time.perf_counter() - t0)
            while next(e for e in store.job_executions("noop", 5) if e["id"] == eid)["status"] == "running":
                time.sleep(0.01)
    finally:
        s.stop()
        store.close()
    return {"n": n, "median_s": statistics.median(times), "p95_s": p95(times), "max_s": max(times)}


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


class Nothing:
    def submit(self, claimed):
        raise AssertionError("nothing is dispatched in this row")

    def close(self):
        pass


def overhead(folder: Path, jobs: int, ticks: int) -> dict:
    store = Store(folder / "j2")
    (folder / "noop.py").write_text("pass\n")
    t0 = time.perf_counter()
    for i in range(jobs):
        store.create_job({"name": f"job-{i:04d}", "script": str(folder / "noop.py"), "schedule": "* * * * *"})
    define_s = time.perf_counter() - t0
    now = time.time()
    minute = (int(now) // 60 + 1) * 60
    clock = Clock(minute - 30.0)  # nothing due
    s = Scheduler(store, Nothing(), clock=clock)
    s.tick()  # takes the lease, fills the due-time cache
    idle = []
    for _ in range(ticks):
        t = time.perf_counter()
        s.tick()
        idle.append(time.perf_counter() - t)
    clock.t = minute + 1.0  # all 1,000 due
    t = time.perf_counter()
    s.fire_due(clock.t)
    fire_s = time.perf_counter() - t
    fired = len(store.job_executions("job-0000")) == 1 and len(store.job_executions(f"job-{jobs - 1:04d}")) == 1
    store.close()
    med = statistics.median(idle)
    return {"jobs": jobs, "define_s": define_s, "idle_tick_median_s": med, "idle_tick_p95_s": p95(idle),
            "share_of_interval": med / s.interval, "fire_all_s": fire_s, "all_fired": fired}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "jobs.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        j1 = trigger_to_run(folder, 5 if a.quick else 30)
        print(f"J1 trigger → run in the store: median {j1['median_s'] * 1000:.0f} ms, p95 {j1['p95_s'] * 1000:.0f} ms "
              f"(n={j1['n']}, target ≤ 1 s)")
        j2 = overhead(folder, 100 if a.quick else 1000, 20 if a.quick else 100)
        print(f"J2 idle tick with {j2['jobs']} jobs: median {j2['idle_tick_median_s'] * 1000:.1f} ms, "
              f"p95 {j2['idle_tick_p95_s'] * 1000:.1f} ms = {j2['share_of_interval'] * 100:.1f}% of the 0.5 s interval")
        print(f"J3 {j2['jobs']} jobs due at once: fired in {j2['fire_all_s'] * 1000:.0f} ms (all: {j2['all_fired']}); "
              f"defining them took {j2['define_s']:.1f} s")
    out = {"machine": machine_info(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "J1": j1, "J2": j2}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
