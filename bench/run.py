#!/usr/bin/env python3
"""Side-by-side benchmark: jupyter_mltrack vs MLflow vs Aim.

    .venv/bin/python bench/run.py                      # everything, medians of 3 repetitions (~15-20 min)
    .venv/bin/python bench/run.py --quick              # smoke run with small sizes (~2 min)
    .venv/bin/python bench/run.py --only ours --workloads 1,5 --reps 5 --markdown /tmp/table.md

Every workload of every system runs in a fresh process of that system's own interpreter (ours: the project's
.venv; MLflow and Aim: virtual environments under bench/.envs/, created on first use) on a fresh store in a
temporary folder. The adapters (bench/adapters/*.py) print one JSON result line; this driver takes medians over the
repetitions, prints a markdown table (each figure for each system and the ratio ours/theirs, our targets next to
ours, failed correctness checks shown in the table) and writes bench/results/latest.json. See bench/README.md.
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
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ENVS = BENCH / ".envs"
ADAPTERS = BENCH / "adapters"
SYSTEMS = ("ours", "mlflow", "aim")
NAMES = {"ours": "jupyter_mltrack", "mlflow": "MLflow", "aim": "Aim"}
ADAPTER_FILE = {"ours": "ours.py", "mlflow": "mlflow_adapter.py", "aim": "aim_adapter.py"}
PIP_PACKAGES = {"mlflow": ["mlflow", "pandas", "requests"], "aim": ["aim", "pandas", "requests"]}


# ------------------------------------------------------------------------------------------------------------------
# what runs: tasks (one adapter call per system and repetition) and the rows of the table


@dataclass
class Task:
    id: str
    workload: int
    full: dict  # system -> params
    quick: dict
    dataset: bool = False  # a read workload: populate once per system (cached), measure on a fresh copy per rep
    repeat: bool = True  # False: measured once (the adapter repeats inside, or the figure is deterministic)


TASKS = [
    Task("1", 1, full={"ours": {"n": 1_000_000}, "mlflow": {"n": 1_000, "n_async": 300}, "aim": {"n": 50_000}},
         quick={"ours": {"n": 200_000}, "mlflow": {"n": 200, "n_async": 50}, "aim": {"n": 5_000}}),
    Task("2", 2, full={"ours": {"n": 5_000_000, "chunk": 500_000}, "mlflow": {"n": 50_000}, "aim": {}},
         quick={"ours": {"n": 1_000_000, "chunk": 250_000}, "mlflow": {"n": 5_000}, "aim": {}}),
    Task("3", 3, full={"ours": {"n": 2_000_000, "chunk": 200_000, "latency_requests": 300},
                       "mlflow": {"n": 5_000, "latency_requests": 100}, "aim": {}},
         quick={"ours": {"n": 200_000, "chunk": 50_000, "latency_requests": 100},
                "mlflow": {"n": 2_000, "latency_requests": 30}, "aim": {}}),
    Task("4", 4, full={"ours": {"n": 1_000}, "mlflow": {"n": 200}, "aim": {"n": 50}},
         quick={"ours": {"n": 1_000}, "mlflow": {"n": 30}, "aim": {"n": 15}}),
    Task("5a", 5, dataset=True,
         full={"ours": {"n": 1_000}, "mlflow": {"n": 1_000}, "aim": {"n": 500, "nominal": 1_000}},
         quick={"ours": {"n": 1_000}, "mlflow": {"n": 1_000}, "aim": {"n": 50, "nominal": 1_000}}),
    Task("5b", 5, dataset=True,
         full={"ours": {"n": 10_000}, "mlflow": {"n": 10_000}, "aim": {"n": 500, "nominal": 10_000}},
         quick={"ours": {"n": 3_000}, "mlflow": {"n": 3_000}, "aim": {"n": 50, "nominal": 3_000}}),
    Task("6", 6, dataset=True,
         full={"ours": {"n": 10_000}, "mlflow": {"n": 10_000}, "aim": {"n": 500, "nominal": 10_000}},
         quick={"ours": {"n": 3_000}, "mlflow": {"n": 3_000}, "aim": {"n": 50, "nominal": 3_000}}),
    Task("7", 7, dataset=True,
         full={"ours": {"n_small": 10_000, "n_big": 1_000_000, "max_points": 2_000},
               "mlflow": {"n_small": 10_000, "n_big": 1_000_000, "max_points": 2_000},
               "aim": {"n_small": 10_000, "n_big": 100_000, "nominal_big": 1_000_000, "max_points": 2_000}},
         quick={"ours": {"n_small": 10_000, "n_big": 200_000, "max_points": 2_000},
                "mlflow": {"n_small": 10_000, "n_big": 20_000, "nominal_big": 200_000, "max_points": 2_000},
                "aim": {"n_small": 10_000, "n_big": 20_000, "nominal_big": 200_000, "max_points": 2_000}}),
    Task("8", 8, dataset=True,
         full={"ours": {"n_runs": 1_000, "n_points": 1_000, "max_points": 200},
               "mlflow": {"n_runs": 100, "n_points": 1_000, "max_points": 200},
               "aim": {"n_runs": 50, "n_points": 1_000, "max_points": 200, "nominal_runs": 1_000}},
         quick={"ours": {"n_runs": 300, "n_points": 1_000, "max_points": 200, "nominal_runs": 1_000},
                "mlflow": {"n_runs": 20, "n_points": 1_000, "max_points": 200},
                "aim": {"n_runs": 10, "n_points": 1_000, "max_points": 200, "nominal_runs": 1_000}}),
    Task("9", 9, repeat=False,
         full={"ours": {"n_points": 1_000_000, "n_runs": 1_000}, "mlflow": {"n_points": 50_000, "n_runs": 200},
               "aim": {"n_points": 30_000, "n_runs": 50}},
         quick={"ours": {"n_points": 200_000, "n_runs": 1_000}, "mlflow": {"n_points": 5_000, "n_runs": 30},
                "aim": {"n_points": 3_000, "n_runs": 8}}),
    Task("10", 10, repeat=False,
         full={"ours": {"import_n": 5, "mem_n": 10_000_000}, "mlflow": {"import_n": 5, "mem_n": 100_000},
               "aim": {"import_n": 5, "mem_n": 100_000}},
         quick={"ours": {"import_n": 2, "mem_n": 1_000_000}, "mlflow": {"import_n": 2, "mem_n": 10_000},
                "aim": {"import_n": 2, "mem_n": 10_000}}),
    # the default path (environment capture and snapshots on): ours only, no equivalent in the others
    Task("11", 11, full={"ours": {"n": 30}}, quick={"ours": {"n": 10}}),
    Task("12", 12, full={"ours": {"n": 2_000}}, quick={"ours": {"n": 500}}),
    # scale: stores of 1k, 10k and 100k runs × (20 params, 10 metrics), populated as for workloads 5 and 6
    Task("13a", 13, dataset=True, full={"ours": {"n": 1_000}}, quick={"ours": {"n": 1_000}}),
    Task("13b", 13, dataset=True, full={"ours": {"n": 10_000}}, quick={"ours": {"n": 3_000}}),
    Task("13c", 13, dataset=True, full={"ours": {"n": 100_000}}, quick={"ours": {"n": 10_000}}),
]
TASK_BY_ID = {t.id: t for t in TASKS}


@dataclass
class Row:
    task: str
    key: str
    label: str
    unit: str  # pts/s, ms, s, B, MB
    better: str  # "higher" | "lower"
    target: float | None = None
    ours_key: str | None = None  # show another figure of ours in this row (e.g. 1′)
    na: dict = field(default_factory=dict)  # system -> why this figure does not exist for it
    keys: dict = field(default_factory=dict)  # system -> the figure of that system shown in this row
    capture: str = "off"  # ours: environment capture "on", "off", or "—" (no run of ours is started)


#: a capture-off twin row of ours: the other systems' figures are in the default-path row above it
_OFF = {"mlflow": "capture-off twin of ours: MLflow's figure is in the row above",
        "aim": "capture-off twin of ours: Aim's figure is in the row above"}

ROWS = [
    Row("1", "rate", "1 per-call `log_metric`, one run, until durably flushed", "pts/s", "higher", 2e6,
        capture="on"),
    Row("1", "rate_off", "1ₒ the same, ours with environment capture off", "pts/s", "higher", 2e6, na=_OFF),
    Row("1", "rate_cell", "1c row 1's loop written in a notebook cell (module-level code: its names are globals)",
        "pts/s", "higher", 2e6, capture="on",
        na={"mlflow": "ours only: row 1 compares the systems", "aim": "ours only: row 1 compares the systems"}),
    Row("1", "rate_async", "1′ same, MLflow's asynchronous mode (`synchronous=False` + flush); ours = row 1",
        "pts/s", "higher", None, ours_key="rate", na={"aim": "no asynchronous mode"}, capture="on"),
    Row("2", "rate", "2a batch logging: ours `log_metric_series` + flush, MLflow `log_batch`", "pts/s", "higher", 2e6,
        capture="on"),
    Row("2", "rate_off", "2aₒ the same, ours with environment capture off", "pts/s", "higher", 2e6, na=_OFF),
    Row("2", "rate_store", "2b batch logging: ours `Store.write_batch` directly", "pts/s", "higher", 2e6,
        na={"mlflow": "no API below `log_batch` (row 2a)", "aim": "no batch API"}),
    Row("3", "rate", "3a logging over HTTP to a local server, batched", "pts/s", "higher", 500e3, capture="on"),
    Row("3", "rate_off", "3aₒ the same, ours with environment capture off", "pts/s", "higher", 500e3, na=_OFF),
    Row("3", "latency_ms", "3b over HTTP: one-point request, p50 latency (a plain POST to a run started on the "
        "default path)", "ms", "lower", 2.0, capture="on"),
    Row("4", "seconds", "4 create 1,000 runs (10 params, 5 points each), until flushed; ours: environment capture "
        "off", "s", "lower", 1.0),
    Row("4", "seconds_env", "4d the same on the default path, until flushed: ours `start_run(params=…)` with "
        "environment capture on (the default); MLflow its fluent API; Aim its only path (= row 4)", "s", "lower",
        1.0, keys={"mlflow": "seconds_default", "aim": "seconds"}, capture="on"),
    Row("5a", "df_ms", "5a run table → DataFrame, 1k runs × (20 params, 10 metrics)", "ms", "lower", None),
    Row("5a", "rest_ms", "5a′ run table via REST `GET runs?limit=10000&view=table`, 1k runs", "ms", "lower", None),
    Row("5a", "rest_full_ms", "5a″ full run list via REST `GET runs?limit=10000` (every metric summary), 1k runs",
        "ms", "lower", None),
    Row("5b", "df_ms", "5b run table → DataFrame, 10k runs × (20 params, 10 metrics)", "ms", "lower", 150),
    Row("5b", "rest_ms", "5b′ run table via REST `GET runs?limit=10000&view=table`, 10k runs", "ms", "lower", 150),
    Row("5b", "rest_full_ms", "5b″ full run list via REST `GET runs?limit=10000` (every metric summary), 10k runs",
        "ms", "lower", None),
    Row("6", "ms", "6 filtered search `metrics.acc > 0.5 and params.optimizer = 'adam'`, 10k runs", "ms", "lower",
        50),
    Row("6", "rest_ms", "6′ the same filter via REST (table view)", "ms", "lower", 50),
    Row("7", "small_ms", "7a read one 10k-point series in full", "ms", "lower", 5),
    Row("7", "small_rest_ms", "7a′ the same via REST (JSON, the default)", "ms", "lower", 5),
    Row("7", "small_rest_bin_ms", "7a‴ the same via REST in the binary form (`Accept: application/msgpack`, raw "
        "arrays), read by our HTTP client into numpy arrays", "ms", "lower", 2),
    Row("7", "big_down_ms", "7b read a 1M-point series downsampled to ≤ 2,000 points", "ms", "lower", 50),
    Row("7", "big_down_rest_ms", "7b′ the same via REST", "ms", "lower", 50),
    Row("7", "big_full_ms", "7c read the 1M-point series in full", "ms", "lower", None),
    Row("8", "many_ms", "8 one metric of 1,000 runs (1k points each) downsampled to ≤ 200, overlay", "ms", "lower",
        300),
    Row("8", "loop_ms", "8′ the same as 1,000 single-series reads (MLflow: full histories)", "ms", "lower", None,
        na={"aim": "its query API is row 8"}),
    Row("8", "rest_ms", "8″ the same via REST `GET metrics?runs=…`", "ms", "lower", 300),
    Row("9", "bytes_per_point", "9a bytes on disk per metric point (workload-1 procedure, the run and its "
        "environment included)", "B", "lower", 16, capture="on"),
    Row("9", "bytes_per_point_off", "9aₒ the same, ours with environment capture off", "B", "lower", 16, na=_OFF),
    Row("9", "bytes_per_run", "9b bytes on disk per small run (workload-4 procedure)", "B", "lower", 4096,
        capture="on"),
    Row("9", "bytes_per_run_off", "9bₒ the same, ours with environment capture off", "B", "lower", 4096, na=_OFF),
    Row("10", "import_ms", "10a `import` of the client module, fresh interpreter (median of 5)", "ms", "lower", 30),
    Row("10", "import_api_ms", "10a′ import + first access of the logging API (`start_run` / `Run`)", "ms", "lower",
        None),
    Row("10", "peak_mb", "10b peak memory (ru_maxrss) of a process logging 10M points", "MB", "lower", 300,
        capture="on"),
    Row("10", "peak_mb_off", "10bₒ the same, ours with environment capture off", "MB", "lower", 300, na=_OFF),
    Row("11", "cell_added_ms", "11a `%%track_run` on a trivial cell (nbclient, 30 cells): time added in the cell "
        "(median of tracked − untracked)", "ms", "lower", 5, capture="on",
        na={"mlflow": "no cell-level tracking", "aim": "no cell-level tracking"}),
    Row("11", "background_ms", "11b the same: the writer's background work per tracked cell (environment, "
        "snapshots, the store's write)", "ms", "lower", 10, capture="on",
        na={"mlflow": "no cell-level tracking", "aim": "no cell-level tracking"}),
    Row("12", "table_s", "12 a `RunTable` opened right after a 2,000-run sweep (10 params, 5 points each), "
        "including the flush it waits for", "s", "lower", 1.5, capture="on",
        na={"mlflow": "no notebook table widget", "aim": "no notebook table widget"}),
]
for _tid, _n, _t in (("13a", "1k", None), ("13b", "10k", None), ("13c", "100k", 1)):
    _na = {"mlflow": "scale rows: ours only (see rows 5 and 6)", "aim": "scale rows: ours only (see rows 5 and 6)"}
    ROWS += [
        Row(_tid, "page_ms", f"{_tid} {_n} runs × (20 params, 10 metrics): REST table view, first page (100 rows) "
            "sorted by `metrics.acc`", "ms", "lower", 50 if _t else None, na=_na),
        Row(_tid, "search_rest_ms", f"{_tid}′ {_n} runs: filtered search via REST (table view, first page)", "ms",
            "lower", 100 if _t else None, na=_na),
        Row(_tid, "search_ms", f"{_tid}″ {_n} runs: filtered search → DataFrame (`mlt.search_runs(filter=…)`)", "ms",
            "lower", None, na=_na),
        Row(_tid, "df_ms", f"{_tid}‴ {_n} runs: the whole run table → DataFrame", "ms", "lower",
            1500 if _t else None, na=_na),
        Row(_tid, "bytes_per_run", f"{_tid}⁗ {_n} runs: store size per run (populated by `Store.write_batch`)", "B",
            "lower", 4096, na=_na),
    ]
#: rows where no run of ours is started through the client (store-level writes, reads of stores populated directly,
#: imports): environment capture does not apply
for _r in ROWS:
    if _r.task in ("5a", "5b", "6", "7", "8", "13a", "13b", "13c") or \
            _r.key in ("rate_store", "import_ms", "import_api_ms", "small_rest_bin_ms"):
        _r.capture = "—"
REST_ONLY_OURS = {"rest_ms", "rest_full_ms", "small_rest_ms", "small_rest_bin_ms", "big_down_rest_ms"}  # MLflow/Aim: "—" (n/a) for these rows


# ------------------------------------------------------------------------------------------------------------------
# environments


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ours_python() -> Path:
    p = REPO / ".venv" / "bin" / "python"
    return p if p.exists() else Path(sys.executable)


def _probe(py: Path, module: str) -> bool:
    if not py.exists():
        return False
    code = ("import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in "
            f"({module!r}, 'pandas', 'numpy', 'requests')))")
    r = subprocess.run([str(py), "-c", code], capture_output=True, timeout=300)
    return r.returncode == 0


def ensure_env(system: str) -> tuple[Path | None, str]:
    """The interpreter of ``system`` (creating bench/.envs/<system> on first use), or None and the reason."""
    if system == "ours":
        return ours_python(), ""
    env = ENVS / system
    py = env / "bin" / "python"
    if _probe(py, system):
        return py, ""
    logfile = ENVS / f"{system}.install.log"
    log(f"· creating {env} and installing {' '.join(PIP_PACKAGES[system])} (first use; takes minutes; log: {logfile})")
    try:
        ENVS.mkdir(parents=True, exist_ok=True)
        with open(logfile, "ab") as lf:
            if not py.exists():
                subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, stdout=lf, stderr=lf, timeout=600)
            subprocess.run([str(py), "-m", "pip", "install", "-q", *PIP_PACKAGES[system]], check=True, stdout=lf,
                           stderr=lf, timeout=3600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        try:
            tail = " / ".join(logfile.read_text(errors="replace").strip().splitlines()[-2:])
        except OSError:
            tail = str(e)
        return None, f"could not be installed ({e.__class__.__name__}: {tail[:300]})"
    if _probe(py, system):
        return py, ""
    return None, f"installed but `import {system}` fails (see {logfile})"


def package_version(py: Path, dist: str) -> str:
    r = subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
                       capture_output=True, text=True, timeout=120)
    return r.stdout.strip() or "?"


def ours_version(py: Path) -> str:
    r = subprocess.run([str(py), "-c", "import jupyter_mltrack as m; print(m.__version__)"], capture_output=True,
                       text=True, timeout=120, env=adapter_env("ours", Path(tempfile.gettempdir())))
    return (r.stdout.strip() or "?") + git_label()


def git_label() -> str:
    """`` (git <commit>[ + uncommitted changes in jupyter_mltrack/])`` for a version line; empty without git."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "jupyter_mltrack"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return ""
    return f" (git {commit}{' + uncommitted changes in jupyter_mltrack/' if dirty else ''})"


def machine_info() -> dict:
    info = {"cores": os.cpu_count(), "platform": platform.platform(), "driver_python": platform.python_version()}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


# ------------------------------------------------------------------------------------------------------------------
# running adapters


def adapter_env(system: str, workdir: Path) -> dict:
    env = dict(os.environ)
    for k in ("MLTRACK_URI", "MLFLOW_TRACKING_URI", "PYTHONHOME"):
        env.pop(k, None)
    env["MLTRACK_HOME"] = str(workdir / "mltrack-home")  # nothing goes to ~/.mltrack
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DO_NOT_TRACK", "true")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("AIM_UI_TELEMETRY_ENABLED", "0")
    if system == "ours":
        env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    else:
        env.pop("PYTHONPATH", None)
    return env


def call_adapter(system: str, py: Path, workload: str, params: dict, workdir: Path, timeout: float,
                 phase: str = "all", store: Path | None = None) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [str(py), str(ADAPTERS / ADAPTER_FILE[system]), "--workload", workload, "--params-json", json.dumps(params),
           "--workdir", str(workdir), "--phase", phase]
    if store is not None:
        cmd += ["--store", str(store)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=adapter_env(system, workdir),
                           cwd=str(workdir), start_new_session=True)
    except subprocess.TimeoutExpired:
        return _failed(f"timed out after {timeout:.0f} s", time.perf_counter() - t0)
    wall = time.perf_counter() - t0
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            out = json.loads(line[len("BENCH_RESULT "):])
            out["wall_s"] = wall
            if p.returncode:
                out["checks"].append({"name": "adapter exit code", "ok": False, "detail": str(p.returncode)})
            return out
    return _failed(f"no result (exit {p.returncode}): {(p.stderr or p.stdout)[-1500:]}", wall)


def _failed(msg: str, wall: float) -> dict:
    return {"figures": {}, "checks": [{"name": "ran", "ok": False, "detail": msg.strip().splitlines()[-1][:300]}],
            "notes": [], "info": {"error": msg}, "wall_s": wall}


def aggregate(results: list[dict]) -> dict:
    figures: dict[str, list[float]] = {}
    for r in results:
        for k, v in r["figures"].items():
            if v is not None:
                figures.setdefault(k, []).append(v)
    checks: dict[str, dict] = {}
    for r in results:
        for c in r["checks"]:
            prev = checks.get(c["name"])
            if prev is None or (prev["ok"] and not c["ok"]):
                checks[c["name"]] = dict(c)
    notes, scaled, errors = [], {}, []
    for r in results:
        notes += [n for n in r.get("notes", []) if n not in notes]
        scaled.update(r.get("info", {}).get("scaled", {}))
        if r.get("info", {}).get("error"):
            errors.append(r["info"]["error"])
    return {
        "figures": {k: statistics.median(v) for k, v in figures.items()},
        "spread": {k: [min(v), max(v)] for k, v in figures.items()},
        "checks": list(checks.values()),
        "notes": notes,
        "scaled": scaled,
        "errors": errors,
        "reps": len(results),
    }


def run_all(args, work: Path, pythons: dict, unavailable: dict) -> dict:
    mode = "quick" if args.quick else "full"
    timeout = 900 if args.quick else 3600
    results: dict = {}
    populated: dict = {}
    tasks = [t for t in TASKS if args.workloads is None or t.workload in args.workloads]
    for task in tasks:
        for system in args.only:
            if system in unavailable:
                continue
            if system not in getattr(task, mode):  # a workload of ours only
                continue
            params = getattr(task, mode)[system]
            reps = args.reps if task.repeat else 1
            runs = []
            store = None
            if task.dataset:
                # workloads 5 and 6 read the same kind of store: populate it once per size
                same = task.workload in (5, 6, 13)  # the same kind of store, populated once per size
                name = f"runs{params['n']}" if same else f"w{task.id}"
                key = (system, name, json.dumps(params, sort_keys=True) if not same else "")
                store = populated.get(key)
                if store is None:
                    store = work / "datasets" / f"{system}-{name}"
                    t0 = time.perf_counter()
                    r = call_adapter(system, pythons[system], str(task.workload), params,
                                     work / "populate" / f"{system}-{name}", timeout, phase="populate", store=store)
                    log(f"[{task.id}] {NAMES[system]}: populated in {time.perf_counter() - t0:.1f} s"
                        + (f" — FAILED: {r['checks'][-1]['detail']}" if any(not c["ok"] for c in r["checks"]) else ""))
                    if any(not c["ok"] for c in r["checks"]):
                        results.setdefault(task.id, {})[system] = {"raw": [r], **aggregate([r])}
                        continue
                    populated[key] = store
            for rep in range(reps):
                wd = work / "runs" / f"{task.id}-{system}-{rep}"
                r = call_adapter(system, pythons[system], str(task.workload), params, wd, timeout,
                                 phase="measure" if task.dataset else "all", store=store)
                bad = [c for c in r["checks"] if not c["ok"]]
                figs = ", ".join(f"{k}={_short(v)}" for k, v in r["figures"].items())
                log(f"[{task.id}] {NAMES[system]} rep {rep + 1}/{reps}: {r['wall_s']:.1f} s  {figs}"
                    + (f"  ✗ {len(bad)} check(s) failed: {bad[0]['name']}: {bad[0]['detail']}" if bad else ""))
                runs.append(r)
                if not args.keep:
                    shutil.rmtree(wd, ignore_errors=True)
            if runs:
                results.setdefault(task.id, {})[system] = {"raw": runs, **aggregate(runs)}
    return results


def _short(v) -> str:
    return "None" if v is None else f"{v:.4g}"


# ------------------------------------------------------------------------------------------------------------------
# the table


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "pts/s":
        for div, suf in ((1e6, "M"), (1e3, "k")):
            if v >= div:
                return f"{v / div:.3g}{suf}/s"
        return f"{v:.3g}/s"
    if unit == "ms":
        if v >= 10_000:
            return f"{v / 1000:.3g} s"
        return f"{v:.3g} ms" if v < 100 else f"{v:,.0f} ms"
    if unit == "s":
        return f"{v:.3g} s"
    if unit == "B":
        if v >= 10_000:
            return f"{v / 1024:.3g} KB"
        return f"{v:,.0f} B" if v >= 100 else f"{v:.3g} B"
    if unit == "MB":
        return f"{v:,.0f} MB"
    return f"{v:.4g}"


def fmt_ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    if r >= 100:
        return f"{r:,.0f}"
    if r >= 0.01:
        return f"{r:.3g}"
    return f"{r:.1e}"


def target_ok(v, row: Row):
    if row.target is None or v is None:
        return None
    return v >= row.target if row.better == "higher" else v <= row.target


def fmt_target(row: Row) -> str:
    if row.target is None:
        return ""
    t = row.target
    sign = "≥" if row.better == "higher" else "≤"
    if row.unit == "pts/s":
        return f"{sign} {fmt(t, 'pts/s')}"
    if row.unit == "B" and t >= 1024:
        return f"{sign} {t / 1024:g} KB"
    return f"{sign} {t:g} {row.unit}"


def build_table(results: dict, systems: list[str], unavailable: dict, quick: bool):
    """Markdown lines of the table, plus footnotes, check summary and the list of missed targets."""
    others = [s for s in systems if s != "ours"]
    head = ["#", "figure (↑ higher is better / ↓ lower is better)", "target (ours)", "env. capture (ours)"]
    if "ours" in systems:
        head.append("jupyter_mltrack")
    for s in others:
        head.append(NAMES[s])
        if "ours" in systems:
            head.append(f"ours/{NAMES[s]}")
    head.append("checks")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    footnotes: list[str] = []
    missed: list[dict] = []
    table_rows = []

    def foot(text: str) -> str:
        if text not in footnotes:
            footnotes.append(text)
        return f"[{footnotes.index(text) + 1}]"

    shown_tasks = set()
    for row in ROWS:
        if row.task not in results:
            continue
        shown_tasks.add(row.task)
        by_sys = results[row.task]
        cells, values = [], {}
        for s in systems:
            key = row.ours_key if (s == "ours" and row.ours_key) else row.keys.get(s, row.key)
            if s in unavailable:
                values[s], cell = None, "not installed " + foot(f"{NAMES[s]}: {unavailable[s]}")
            elif s not in by_sys:  # not run: a workload of ours only, or not asked for
                values[s] = None
                cell = "— " + foot(f"{NAMES[s]}: {row.na[s]}") if s in row.na and row.task in results else "—"
            else:
                agg = by_sys[s]
                v = agg["figures"].get(key)
                values[s] = v
                if v is None:
                    if agg["errors"]:
                        cell = "error " + foot(f"{NAMES[s]}, workload {row.task}: " + agg["errors"][0].strip().splitlines()[-1][:240])
                    elif s in row.na:
                        cell = "— " + foot(f"{NAMES[s]}: {row.na[s]}")
                    elif s != "ours" and row.key in REST_ONLY_OURS:
                        cell = "—"
                    else:
                        notes = [n for n in agg["notes"]]
                        cell = "— " + foot(notes[-1]) if notes and s != "ours" else "—"
                else:
                    cell = fmt(v, row.unit)
                    if key in agg["scaled"]:
                        cell = "≈ " + cell + " " + foot(f"{NAMES[s]}, {row.label.split(' ')[0]}: {agg['scaled'][key]}")
                    if s == "ours" and not quick:
                        ok = target_ok(v, row)
                        if ok is not None:
                            cell += " ✓" if ok else " ✗"
                            if not ok:
                                missed.append({"row": row.label, "value": fmt(v, row.unit), "target": fmt_target(row)})
            cells.append((s, cell))
        line = [row.label.split(" ", 1)[0], row.label.split(" ", 1)[1] + (" ↑" if row.better == "higher" else " ↓"),
                fmt_target(row), row.capture]
        for s, cell in cells:
            line.append(cell)
            if s != "ours" and "ours" in systems:
                line.append(fmt_ratio(values.get("ours"), values.get(s)))
        # checks of the whole task per system
        marks = []
        for s in systems:
            agg = by_sys.get(s)
            if agg is None or not agg["checks"]:
                marks.append("–")
                continue
            bad = [c for c in agg["checks"] if not c["ok"]]
            marks.append("✓" if not bad else "✗ " + foot(f"{NAMES[s]}, workload {row.task}: check failed: "
                                                        + "; ".join(f"{c['name']}: {c['detail']}" for c in bad)[:400]))
        line.append("/".join(marks))
        lines.append("| " + " | ".join(line) + " |")
        table_rows.append({"row": row.label, "unit": row.unit, "target": fmt_target(row), "capture": row.capture,
                           "values": values, "cells": dict(cells)})
    # notes the adapters gave (how each system was driven, scaling)
    for tid in [t.id for t in TASKS if t.id in shown_tasks]:
        for s in systems:
            agg = results[tid].get(s)
            if agg:
                for n in agg["notes"]:
                    foot(n)
    checks_summary = {}
    for s in systems:
        total = failed = 0
        for tid, by_sys in results.items():
            agg = by_sys.get(s)
            if agg:
                total += len(agg["checks"])
                failed += sum(1 for c in agg["checks"] if not c["ok"])
        checks_summary[s] = {"total": total, "failed": failed}
    return lines, footnotes, checks_summary, missed, table_rows


def render(results, systems, unavailable, meta, quick) -> tuple[str, dict]:
    lines, footnotes, checks, missed, table_rows = build_table(results, systems, unavailable, quick)
    out = []
    out.append(f"Machine: {meta['machine'].get('cores')} cores, {meta['machine'].get('ram_gib')} GiB RAM, "
               f"{meta['machine'].get('cpu', '?')}; Python {meta['python']}. "
               + "; ".join(f"{NAMES[s]} {v}" for s, v in meta["versions"].items()) + ".")
    out.append(f"Command: `{meta['command']}` — {meta['mode']} mode, medians of {meta['reps']} repetition(s) "
               f"(workloads 9 and 10 once), {meta['duration_s'] / 60:.1f} min, finished {meta['date']}; load average "
               f"(1 min) {meta['load_avg_start'][0]} at the start, {meta['load_avg_end'][0]} at the end.")
    if quick:
        out.append("**Quick mode: sizes are reduced, so figures are not comparable with the targets (not evaluated).**")
    out.append("")
    out += lines
    out.append("")
    out.append("Ratios are ours/theirs: above 1 means ours is higher (better for ↑ rows, worse for ↓ rows). "
               "✓/✗ after our figure: target met or not. ≈: the system was measured at a smaller size and the "
               "figure scaled linearly (see the note). Env. capture (ours): whether our runs in that row capture "
               "their environment — on is the default a user gets; — means no run is started through the client "
               "(store-level writes, reads of stores populated directly, imports). Checks column: correctness "
               "checks of that workload for "
               + "/".join(NAMES[s] for s in systems) + ".")
    out.append("")
    out.append("Correctness checks: " + "; ".join(
        f"{NAMES[s]} not run ({'not installed' if s in unavailable else 'no checks'})" if not c["total"]
        else f"{NAMES[s]} {c['total'] - c['failed']}/{c['total']} passed" for s, c in checks.items()) + ".")
    if missed:
        out.append("")
        out.append("Targets missed (ours): " + "; ".join(f"{m['row'].split(' ')[0]} {m['value']} (target "
                                                        f"{m['target']})" for m in missed) + ".")
    if footnotes:
        out.append("")
        out.append("Notes:")
        out.append("")
        for i, f in enumerate(footnotes, 1):
            out.append(f"{i}. {f}")
    return "\n".join(out) + "\n", {"rows": table_rows, "missed": missed, "checks": checks, "footnotes": footnotes}


# ------------------------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 repetition: a smoke run (~2 min)")
    ap.add_argument("--only", default=None, help="comma list of systems: ours, mlflow, aim (default: all)")
    ap.add_argument("--workloads", default=None, help="comma list of workload numbers 1-13 (default: all)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per workload (default 3; --quick: 1)")
    ap.add_argument("--markdown", default=None, help="also write the table as markdown to this file")
    ap.add_argument("--json", default=str(BENCH / "results" / "latest.json"), help="where the results go")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (stores, server logs)")
    args = ap.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",")] if args.only else list(SYSTEMS)
    for s in args.only:
        if s not in SYSTEMS:
            ap.error(f"--only: unknown system {s!r} (ours, mlflow, aim)")
    args.only = [s for s in SYSTEMS if s in args.only]
    if args.workloads:
        try:
            args.workloads = {int(x) for x in args.workloads.split(",") if x.strip()}
        except ValueError:
            ap.error("--workloads takes numbers such as 1,2,5")
        if not args.workloads <= set(range(1, 14)):
            ap.error("--workloads: workloads are 1 to 13")
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    pythons, unavailable, versions = {}, {}, {}
    for s in args.only:
        py, why = ensure_env(s)
        if py is None:
            unavailable[s] = why
            log(f"· {NAMES[s]}: {why} — its column will say so")
            continue
        pythons[s] = py
        versions[s] = ours_version(py) if s == "ours" else package_version(py, s)
    log("· versions: " + ", ".join(f"{NAMES[s]} {v}" for s, v in versions.items()))
    load_start = os.getloadavg()
    if load_start[0] > 1.0:
        log(f"· warning: load average {load_start[0]:.1f} on {os.cpu_count()} cores — other work is running; "
            "figures will be noisy")
    work = Path(tempfile.mkdtemp(prefix="mltrack-bench-"))
    log(f"· work folder: {work}")
    try:
        results = run_all(args, work, pythons, unavailable)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    duration = time.perf_counter() - t_start
    py_ver = subprocess.run([str(ours_python()), "-c", "import platform; print(platform.python_version())"],
                            capture_output=True, text=True).stdout.strip()
    meta = {
        "command": " ".join([".venv/bin/python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)]),
        "mode": "quick" if args.quick else "full", "reps": args.reps, "machine": machine_info(), "python": py_ver,
        "versions": versions, "duration_s": duration, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "unavailable": unavailable, "work_folder": str(work) if args.keep else None,
        "load_avg_start": [round(x, 2) for x in load_start], "load_avg_end": [round(x, 2) for x in os.getloadavg()],
    }
    text, summary = render(results, args.only, unavailable, meta, args.quick)
    print(text)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "summary": summary, "results": results,
                               "config": {t.id: getattr(t, meta["mode"]) for t in TASKS}}, indent=1, default=str))
    log(f"· results: {out}")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(text)
        log(f"· markdown: {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
