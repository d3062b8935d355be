#!/usr/bin/env python3
"""The team path: a real PostgreSQL server, a real Jupyter server in team mode, client processes with API keys.

    .venv/bin/python bench/team.py                        # full: 1 and 16 clients, 10k-run table (~5-8 min)
    .venv/bin/python bench/team.py --quick                # smoke run: small sizes (< 1 min)
    .venv/bin/python bench/team.py --markdown /tmp/team.md
    .venv/bin/python bench/team.py --only log --profile /tmp/prof   # cProfile of the server and clients (all threads)

Rows:

- T1/T2: HTTP batched logging into PostgreSQL through a team-mode server, 1 and 16 concurrent client processes. Each
  client is its own user with its own API key (``MLTRACK_URI`` = the server, ``MLTRACK_API_KEY``), a contributor of
  one shared project; each starts one run on the default path (environment capture on) and logs it with
  ``run.log_metric_series`` in chunks (workload 3a's procedure) and flushes. The figure is every client's points over the time from the first client's first call to the last
  client's flush returning (every batch acknowledged, i.e. committed). Then the database is read: every run must
  hold exactly its points (same steps, same values: 0 lost, 0 doubled).
- T3: the run table of 10k runs × (20 params, 10 metrics) on PostgreSQL (populated by ``Store.write_batch``), into
  a DataFrame by the embedded client (``mlt.search_runs()``, as workload 5b does on SQLite), also ``Store.run_table()``
  alone, and over REST (``GET runs?limit=10000&view=table``) through the team-mode server as a member (viewer) of the
  project — medians of several repetitions after one warm-up, every value checked.

PostgreSQL runs with its durability defaults (fsync, synchronous_commit and full_page_writes on), unlike the test
suite's cluster. The table's header gives the machine and the load average at the start and the end; the JSON goes to
bench/results/team-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (REPO, BENCH):  # the test helpers (tests/) and bench/run.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import numpy as np  # noqa: E402

from tests._postgres import Cluster  # noqa: E402
from tests._server import JupyterServer  # noqa: E402

from run import git_label, machine_info  # noqa: E402  (bench/run.py: the same machine facts as the main benchmark)

PROJECT = "team-bench"
TABLE_PROJECT = "bench"
READER = "bench"  # the team-mode server's token user: a viewer of the table's project
TEAM_ARGS = ("--MLTrackApp.access_control=True", f"--MLTrackApp.token_user={READER}")

SIZES = {
    "full": {"clients": (1, 16), "points": {1: 2_000_000, 16: 250_000}, "chunk": {1: 200_000, 16: 50_000},
             "table_runs": 10_000, "reps": 5},
    "quick": {"clients": (1, 4), "points": {1: 100_000, 4: 25_000}, "chunk": {1: 20_000, 4: 5_000},
              "table_runs": 1_000, "reps": 3},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------------------------
# --profile: every thread of the server and of each client under cProfile (a sitecustomize on PYTHONPATH), one
# .prof file per process written at its exit; not for timing (the profiler slows everything down)

PROFILER = r"""
import atexit, cProfile, os, sys, threading

_out = os.environ.get("MLTRACK_BENCH_PROFILE")
if _out:
    _profiles, _lock = [], threading.Lock()

    def _start():
        p = cProfile.Profile()
        with _lock:
            _profiles.append(p)
        p.enable()

    def _thread_started(*args):
        sys.setprofile(None)
        _start()

    threading.setprofile(_thread_started)
    _start()

    def _dump():
        import pstats
        stats = None
        for p in list(_profiles):
            try:
                p.disable()
                stats = pstats.Stats(p) if stats is None else stats.add(p)
            except Exception:
                pass
        role = os.environ.get("MLTRACK_BENCH_PROFILE_ROLE", "process")
        if stats is not None:
            stats.dump_stats(os.path.join(_out, f"{role}-{os.getpid()}.prof"))

    atexit.register(_dump)
"""


def profile_env(folder: Path | None, role: str) -> dict:
    if folder is None:
        return {}
    site = folder / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(PROFILER)
    path = os.pathsep.join([str(site), str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH")
                                                     else []))
    return {"MLTRACK_BENCH_PROFILE": str(folder), "MLTRACK_BENCH_PROFILE_ROLE": role, "PYTHONPATH": path}


def profile_summary(folder: Path, top: int = 30) -> str:
    import io
    import pstats

    out = []
    for role in ("server", "client", "table-server", "driver-store-run-table", "driver-search-runs"):
        files = sorted(str(f) for f in folder.glob(f"{role}*.prof"))
        if not files:
            continue
        for sort in ("tottime", "cumulative"):
            buf = io.StringIO()
            st = pstats.Stats(*files, stream=buf)
            st.strip_dirs().sort_stats(sort).print_stats(top)
            out.append(f"===== {role} ({len(files)} process(es)), by {sort}\n" + buf.getvalue())
    text = "\n".join(out)
    (folder / "summary.txt").write_text(text)
    return text


# ------------------------------------------------------------------------------------------------------------------
# one client process: its own user and key, one run, chunks of one series, flush

CLIENT = r"""
import json, sys, time
import numpy as np
n, chunk, seed, name, project = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rng = np.random.default_rng(seed)
vals = 1.0 / (1.0 + 1e-3 * np.arange(n)) + 0.01 * rng.standard_normal(n)
import jupyter_mltrack as mlt
from jupyter_mltrack.client.tracking import get_client
run = mlt.start_run(name, project=project)  # the default path: the run captures its environment
mlt.flush()
print("READY " + run.id, flush=True)
sys.stdin.readline()  # everyone starts together
t0 = time.time()
for i in range(0, n, chunk):
    run.log_metric_series("loss", vals[i:i + chunk])
mlt.flush(timeout=600)
t1 = time.time()
run.end()
mlt.flush(timeout=600)
stats = dict(get_client().writer.stats)
print("RESULT " + json.dumps({"run_id": run.id, "t0": t0, "t1": t1, "n": n, "stats": stats}, default=str),
      flush=True)
"""


def client_values(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 / (1.0 + 1e-3 * np.arange(n)) + 0.01 * rng.standard_normal(n)


def log_concurrently(server: JupyterServer, store, keys: list[str], n_clients: int, n: int, chunk: int,
                     work: Path, profile: Path | None = None) -> dict:
    """``n_clients`` client processes (key i acts as user i) each log ``n`` points into a run of their own, all
    started together; then every run is read back from ``store`` (lost, doubled, differing)."""
    env_base = dict(os.environ)
    for k in ("MLTRACK_TOKEN", "JUPYTERHUB_API_TOKEN"):
        env_base.pop(k, None)
    env_base["PYTHONPATH"] = str(REPO) + (os.pathsep + env_base["PYTHONPATH"] if env_base.get("PYTHONPATH") else "")
    procs, logs, results = [], [], []
    try:
        for i in range(n_clients):
            env = dict(env_base, MLTRACK_URI=server.url, MLTRACK_API_KEY=keys[i],
                       MLTRACK_HOME=str(work / f"client-home-{n_clients}-{i}"), **profile_env(profile, "client"))
            logs.append(open(work / f"client-{n_clients}-{i}.log", "w"))
            procs.append(subprocess.Popen(
                [sys.executable, "-c", CLIENT, str(n), str(chunk), str(1000 * n_clients + i), f"c{n_clients}-{i:02d}",
                 PROJECT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logs[-1], text=True, env=env,
                cwd=str(work)))
        for i, p in enumerate(procs):
            if not p.stdout.readline().startswith("READY "):
                raise RuntimeError(f"client {i} did not start: "
                                   f"{(work / f'client-{n_clients}-{i}.log').read_text()[-2000:]}")
        load = os.getloadavg()[0]
        for p in procs:  # go
            p.stdin.write("go\n")
            p.stdin.flush()
        for i, p in enumerate(procs):
            out, _ = p.communicate(timeout=1800)
            line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
            if p.returncode or line is None:
                raise RuntimeError(f"client {i} failed ({p.returncode}): "
                                   f"{(work / f'client-{n_clients}-{i}.log').read_text()[-2000:]}")
            results.append(json.loads(line[len("RESULT "):]))
    finally:
        for p in procs:  # on a failure: no client is left behind
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in logs:
            f.close()
    start, end = min(r["t0"] for r in results), max(r["t1"] for r in results)
    total = sum(r["n"] for r in results)
    # every point arrived exactly once: read each run's series back from the database
    lost = doubled = wrong_runs = 0
    for i, r in enumerate(results):
        want = client_values(n, 1000 * n_clients + i)
        got = store.get_series(r["run_id"], "loss")
        pts = got["points"]
        steps, values = np.asarray(pts.steps), np.asarray(pts.values)
        uniq = np.unique(steps)
        lost += int(n - np.isin(np.arange(n), uniq).sum())
        doubled += int(len(steps) - len(uniq)) + int(got["total_count"] - len(steps))
        if len(steps) != n or not np.array_equal(steps, np.arange(n)) or not np.array_equal(values, want):
            wrong_runs += 1
    return {
        "clients": n_clients, "points_per_client": n, "chunk": chunk, "points": total,
        "seconds": end - start, "rate": total / (end - start),
        "per_client_rate": [r["n"] / (r["t1"] - r["t0"]) for r in results],
        "per_client_seconds": [r["t1"] - r["t0"] for r in results],
        "lost": lost, "doubled": doubled, "runs_differing": wrong_runs,
        "writer_stats": [r["stats"] for r in results], "load_at_go": round(load, 2),
    }


# ------------------------------------------------------------------------------------------------------------------
# the run table


def populate(store, data: dict) -> float:
    t0 = time.perf_counter()
    now = time.time()
    runs = data["runs"]
    for b in range(0, len(runs), 1000):
        batch = {"runs": [], "params": [], "metrics": [], "updates": []}
        for i in range(b, min(b + 1000, len(runs))):
            r, rid = runs[i], f"r{i:011d}"  # 12 characters, as the client's run ids
            batch["runs"].append({"id": rid, "name": r["name"], "project": TABLE_PROJECT, "start_time": now + i * 1e-3})
            batch["params"] += [{"run_id": rid, "key": k, "value": v} for k, v in r["params"].items()]
            batch["metrics"] += [{"run_id": rid, "name": k, "steps": [0], "values": [v]}
                                 for k, v in r["metrics"].items()]
            batch["updates"].append({"run_id": rid, "status": "finished", "end_time": now + i * 1e-3 + 1})
        store.write_batch(batch)
    return time.perf_counter() - t0


def timed_reps(fn, reps: int) -> tuple[float, object, list[float]]:
    """One warm-up call, then the median of ``reps`` calls."""
    out = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out, times


def rows_differing(names, params: dict, metrics: dict, data: dict) -> int:
    want = {r["name"]: r for r in data["runs"]}
    bad = 0
    for j, name in enumerate(names):
        r = want.get(name)
        if r is None or any(params.get(k, [None] * len(names))[j] != v for k, v in r["params"].items()) or any(
                metrics.get(k, [None] * len(names))[j] != v for k, v in r["metrics"].items()):
            bad += 1
    return bad + abs(len(names) - len(data["runs"]))


def run_table(server: JupyterServer, url: str, n_runs: int, reps: int, profile: Path | None = None) -> dict:
    import requests

    sys.path.insert(0, str(BENCH / "adapters"))
    import _common as C  # the data of workloads 5 and 6 (bench/run.py)

    import jupyter_mltrack as mlt

    data = C.run_table_data(n_runs)
    mlt.set_tracking_uri(url)  # embedded on the PostgreSQL store, as workload 5b is on SQLite
    from jupyter_mltrack.client.tracking import get_client

    store = get_client().backend.store
    out = {"runs": n_runs, "populate_s": populate(store, data)}
    store.add_user(READER, exist_ok=True)
    store.set_member(TABLE_PROJECT, READER, "viewer")

    t, df, times = timed_reps(lambda: mlt.search_runs(), reps)
    out.update(df_ms=t * 1e3, df_times_ms=[x * 1e3 for x in times])
    pcols = {c[len("params."):]: df[c].tolist() for c in df.columns if c.startswith("params.")}
    mcols = {c[len("metrics."):]: df[c].tolist() for c in df.columns if c.startswith("metrics.")}
    out["df_rows_differing"] = rows_differing(df["name"].tolist(), pcols, mcols, data)

    t, table, times = timed_reps(lambda: store.run_table(), reps)
    out.update(store_table_ms=t * 1e3, store_table_times_ms=[x * 1e3 for x in times])

    s = requests.Session()
    s.headers.update(server.headers)  # the token user: READER, a viewer of the project

    def rest():
        r = s.get(server.api + "runs?limit=10000&view=table", timeout=300)
        r.raise_for_status()
        return r

    t, r, times = timed_reps(rest, reps)
    out.update(rest_ms=t * 1e3, rest_times_ms=[x * 1e3 for x in times], rest_bytes=len(r.content))
    runs = r.json()["runs"]
    names = [x["name"] for x in runs]
    params, metrics = {}, {}
    for j, x in enumerate(runs):
        for k, v in x["params"].items():
            params.setdefault(k, [None] * len(runs))[j] = v
        for k, v in x["metrics"].items():
            metrics.setdefault(k, [None] * len(runs))[j] = v
    out["rest_rows_differing"] = rows_differing(names, params, metrics, data)
    if profile is not None:  # after the timed calls: one more of each read under cProfile, in this process
        import cProfile

        for what, fn in (("store-run-table", store.run_table), ("search-runs", mlt.search_runs)):
            prof = cProfile.Profile()
            prof.runcall(fn)
            prof.dump_stats(str(profile / f"driver-{what}.prof"))
    from jupyter_mltrack.client.tracking import reset

    reset()
    return out


# ------------------------------------------------------------------------------------------------------------------
# the table of results

ROWS = [
    # id, label, key, unit, better, target
    ("T1", "HTTP batched logging into PostgreSQL through a team-mode server, 1 client process (API key, "
           "default `start_run`, environment capture on; `log_metric_series` chunks), until flushed", "log1.rate", "pts/s", "higher", None),
    ("T2", "the same, 16 concurrent client processes (16 users, one shared project), all points until the last "
           "flush", "logN.rate", "pts/s", "higher", 1e6),
    ("T2′", "points lost or doubled (T1 and T2), or runs whose series differs, read back from the database",
     "lost_or_doubled", "pts", "lower", 0),
    ("T3", "run table → DataFrame, 10k runs × (20 params, 10 metrics) on PostgreSQL (`mlt.search_runs()`, embedded)",
     "table.df_ms", "ms", "lower", 150),
    ("T3′", "the same, `Store.run_table()` alone (no DataFrame)", "table.store_table_ms", "ms", "lower", None),
    ("T3″", "run table via REST `GET runs?limit=10000&view=table` through the team-mode server, as a viewer of the "
            "project", "table.rest_ms", "ms", "lower", 150),
]


def fmt(v, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "pts/s":
        for div, suf in ((1e6, "M"), (1e3, "k")):
            if v >= div:
                return f"{v / div:.3g}{suf}/s"
        return f"{v:.3g}/s"
    if unit == "ms":
        return f"{v:.3g} ms" if v < 100 else f"{v:,.0f} ms"
    return f"{v:g}"


def fmt_target(t, unit, better) -> str:
    if t is None:
        return ""
    if unit == "pts":
        return f"{t:g}"
    return ("≥ " if better == "higher" else "≤ ") + fmt(t, unit)


def figure(results: dict, key: str):
    if key == "lost_or_doubled":
        runs = [v for k, v in results.items() if k.startswith("log")]
        return sum(r["lost"] + r["doubled"] + r["runs_differing"] for r in runs) if runs else None
    a, b = key.split(".")
    return results.get(a, {}).get(b)


def render(results: dict, meta: dict, quick: bool) -> tuple[str, list[dict]]:
    m = meta["machine"]
    lines = [f"Machine: {m.get('cores')} cores, {m.get('ram_gib')} GiB RAM, {m.get('cpu', '?')}; Python "
             f"{meta['python']}; PostgreSQL {meta['postgres']} (fsync, synchronous_commit, full_page_writes on: "
             f"its defaults); jupyter_mltrack {meta['version']}.",
             f"Command: `{meta['command']}` — {meta['mode']} mode, {meta['duration_s'] / 60:.1f} min, finished "
             f"{meta['date']}; load average (1 min) {meta['load_avg_start'][0]} at the start, "
             f"{meta['load_avg_end'][0]} at the end.", ""]
    if quick:
        lines += ["**Quick mode: sizes are reduced (clients "
                  + " and ".join(str(c) for c in SIZES["quick"]["clients"])
                  + f", {SIZES['quick']['table_runs']:,} runs), so figures are not comparable with the targets "
                    "(not evaluated).**", ""]
    lines += ["| # | figure | target | jupyter_mltrack | met |", "|---|---|---|---|---|"]
    table = []
    for rid, label, key, unit, better, target in ROWS:
        v = figure(results, key)
        ok = None
        if v is not None and target is not None and (not quick or unit == "pts"):
            ok = v >= target if better == "higher" else v <= target
        if quick and rid == "T2":
            label = label.replace("16 concurrent", f"{SIZES['quick']['clients'][-1]} concurrent").replace(
                "16 users", f"{SIZES['quick']['clients'][-1]} users")
        if quick and rid.startswith("T3"):
            label = label.replace("10k runs", f"{SIZES['quick']['table_runs'] // 1000}k runs")
        cell = fmt(v, unit)
        lines.append(f"| {rid} | {label} | {fmt_target(target, unit, better)} | {cell} | "
                     f"{'' if ok is None else ('✓' if ok else '✗')} |")
        table.append({"row": rid, "label": label, "unit": unit, "target": target, "value": v, "met": ok})
    lines.append("")
    for k in ("log1", "logN"):
        r = results.get(k)
        if r:
            rates = r["per_client_rate"]
            lines.append(f"{r['clients']} client(s): {r['points']:,} points ({r['points_per_client']:,} each, "
                         f"chunks of {r['chunk']:,}) in {r['seconds']:.2f} s; per client "
                         f"{fmt(min(rates), 'pts/s')} – {fmt(max(rates), 'pts/s')}; lost {r['lost']}, doubled "
                         f"{r['doubled']}, runs differing {r['runs_differing']}; load average {r['load_at_go']} "
                         "when they started.")
    t = results.get("table")
    if t:
        lines.append(f"Run table: {t['runs']:,} runs populated in {t['populate_s']:.1f} s; repetitions (ms): DataFrame "
                     + ", ".join(f"{x:.0f}" for x in t["df_times_ms"]) + "; `Store.run_table()` "
                     + ", ".join(f"{x:.0f}" for x in t["store_table_times_ms"]) + "; REST "
                     + ", ".join(f"{x:.0f}" for x in t["rest_times_ms"])
                     + f" ({t['rest_bytes'] / 1e6:.1f} MB); rows differing from what was written: DataFrame "
                       f"{t['df_rows_differing']}, REST {t['rest_rows_differing']}.")
    return "\n".join(lines) + "\n", table


# ------------------------------------------------------------------------------------------------------------------


def version() -> str:
    import jupyter_mltrack

    return jupyter_mltrack.__version__ + git_label()


def team_setup(store, n_users: int, project: str = PROJECT) -> list[str]:
    """Users ``client00``… with one API key each, contributors of ``project``; returns their keys."""
    store.create_project(project)
    keys = []
    for i in range(n_users):
        name = f"client{i:02d}"
        store.add_user(name)
        keys.append(store.create_key(name, label="bench")["key"])
        store.set_member(project, name, "contributor")
    return keys


def run(quick: bool, work: Path, only: set[str], profile: Path | None = None) -> tuple[dict, str]:
    """Start PostgreSQL and the servers, measure, stop everything. Returns (results, PostgreSQL's version)."""
    sizes = SIZES["quick" if quick else "full"]
    os.environ["MLTRACK_HOME"] = str(work / "mltrack-home")  # nothing goes to ~/.mltrack
    os.environ.pop("MLTRACK_URI", None)
    env = {"MLTRACK_ARTIFACTS": str(work / "artifacts"), **profile_env(profile, "server")}
    results: dict = {}
    cluster = Cluster(durable=True).start()
    try:
        pg_version = subprocess.run([str(cluster.bindir / "postgres"), "--version"], capture_output=True,
                                    text=True).stdout.split()[2]
        if "log" in only:
            log_phase(cluster, sizes, env, work, results, profile)
        if "table" in only:
            table_phase(cluster, sizes, env, work, results, profile)
    finally:
        cluster.stop()
    return results, pg_version


def log_phase(cluster, sizes, env, work, results, profile) -> None:
    """Logging: one database, one server; every client its own user and key, contributors of one project."""
    from jupyter_mltrack.core.store import Store

    url = cluster.url(cluster.create_database())
    store = Store(url)
    keys = team_setup(store, max(sizes["clients"]))
    (work / "log-server").mkdir()
    with JupyterServer(work / "log-server", url, args=TEAM_ARGS, env=env) as server:
        for n_clients in sizes["clients"]:
            log(f"· logging: {n_clients} client(s) × {sizes['points'][n_clients]:,} points")
            r = log_concurrently(server, store, keys, n_clients, sizes["points"][n_clients],
                                 sizes["chunk"][n_clients], work, profile)
            log(f"  {fmt(r['rate'], 'pts/s')} in {r['seconds']:.2f} s; lost {r['lost']}, doubled {r['doubled']}, "
                f"runs differing {r['runs_differing']}")
            results["log1" if n_clients == 1 else "logN"] = r
    store.close()


def table_phase(cluster, sizes, env, work, results, profile) -> None:
    """The run table: another database, another server."""
    from jupyter_mltrack.core.store import Store

    url = cluster.url(cluster.create_database())
    if profile is not None:
        env = dict(env, MLTRACK_BENCH_PROFILE_ROLE="table-server")
    (work / "table-server").mkdir()
    Store(url).close()  # the schema, before the server opens it
    with JupyterServer(work / "table-server", url, args=TEAM_ARGS, env=env) as server:
        log(f"· run table: {sizes['table_runs']:,} runs")
        results["table"] = run_table(server, url, sizes["table_runs"], sizes["reps"], profile)
        t = results["table"]
        log(f"  DataFrame {t['df_ms']:.0f} ms, Store.run_table {t['store_table_ms']:.0f} ms, REST "
            f"{t['rest_ms']:.0f} ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run (< 1 min)")
    ap.add_argument("--markdown", default=None, help="also write the table as markdown to this file")
    ap.add_argument("--json", default=str(BENCH / "results" / "team-latest.json"), help="where the results go")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (server and client logs)")
    ap.add_argument("--only", default="log,table", help="comma list of parts: log (T1, T2), table (T3)")
    ap.add_argument("--profile", default=None, metavar="DIR",
                    help="run the server and the clients under cProfile (every thread), .prof files and summary.txt "
                         "into DIR; the figures are then not measurements")
    args = ap.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    if not only or not only <= {"log", "table"}:
        ap.error("--only takes log, table or both")
    profile = Path(args.profile).resolve() if args.profile else None
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    if load_start[0] > 1.0:
        log(f"· warning: load average {load_start[0]:.1f} on {os.cpu_count()} cores — other work is running; "
            "figures will be noisy")
    work = Path(tempfile.mkdtemp(prefix="mltrack-bench-team-"))
    try:
        results, pg_version = run(args.quick, work, only, profile)
    except BaseException:
        log(f"· failed; logs kept in {work}")
        raise
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    meta = {
        "command": " ".join([".venv/bin/python", "bench/team.py", *(sys.argv[1:] if argv is None else argv)]),
        "mode": "quick" if args.quick else "full", "machine": machine_info(), "python": platform.python_version(),
        "postgres": pg_version, "version": version(), "duration_s": time.perf_counter() - t_start,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "work_folder": str(work) if args.keep else None,
        "load_avg_start": [round(x, 2) for x in load_start], "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "sizes": {k: (v if not isinstance(v, dict) else {str(a): b for a, b in v.items()})
                  for k, v in SIZES[("quick" if args.quick else "full")].items()},
    }
    text, table = render(results, meta, args.quick)
    if profile:
        text = "**Profiled run (`--profile`): the figures are slowed by the profiler, not measurements.**\n\n" + text
        log(profile_summary(profile))
        log(f"· profiles: {profile}")
    print(text)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": table, "results": results}, indent=1, default=str))
    log(f"· results: {out}")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(text)
        log(f"· markdown: {args.markdown}")
    failed = [r for r in table if r["met"] is False and r["unit"] == "pts"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
