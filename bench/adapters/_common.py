"""Shared by the three adapters (each runs in its own virtual environment, so: stdlib + numpy only).

An adapter is a script: ``python adapters/<system>.py --workload N --params-json '{...}' --workdir DIR
[--phase populate|measure|all] [--store DIR]``. It prints exactly one line starting with ``BENCH_RESULT `` followed
by JSON: ``{"figures": {key: number}, "checks": [{"name", "ok", "detail"}], "notes": [str], "info": {...}}``.

The data every system writes comes from the generators below, seeded, so that every system stores the same values
and the checks know the ground truth.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

import numpy as np

perf = time.perf_counter


# ------------------------------------------------------------------------------------------------------------------
# result collection


class Result:
    def __init__(self):
        self.figures: dict[str, float | None] = {}
        self.checks: list[dict] = []
        self.notes: list[str] = []
        self.info: dict = {}

    def fig(self, key: str, value) -> None:
        self.figures[key] = None if value is None else float(value)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append({"name": name, "ok": bool(ok), "detail": str(detail)})
        return bool(ok)

    def check_equal(self, name: str, got, want) -> bool:
        return self.check(name, got == want, f"got {got!r}, want {want!r}")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def as_dict(self) -> dict:
        return {"figures": self.figures, "checks": self.checks, "notes": self.notes, "info": self.info}


def main(workloads: dict, system: str) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--params-json", default="{}")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--phase", default="all", choices=["all", "populate", "measure"])
    ap.add_argument("--store", default=None, help="a populated store (read workloads): populate writes it, "
                                                   "measure reads a fresh copy of it")
    args = ap.parse_args()
    params = json.loads(args.params_json)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # anything a library drops in the current folder lands in the temp folder
    res = Result()
    res.info["system"] = system
    res.info["python"] = sys.version.split()[0]
    try:
        fn = workloads[args.workload]
        fn(res, params, workdir, args)
    except Exception:  # the driver shows the failure in the table
        res.info["error"] = traceback.format_exc(limit=8)
        res.check("ran without error", False, traceback.format_exc(limit=1).strip().splitlines()[-1])
    res.info["max_rss_mb"] = max_rss_mb()
    sys.stdout.flush()
    print("BENCH_RESULT " + json.dumps(res.as_dict(), default=_json_default), flush=True)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ------------------------------------------------------------------------------------------------------------------
# measuring


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, *args, **kw):
    t = perf()
    out = fn(*args, **kw)
    return perf() - t, out


def time_read(fn, repeats: int = 5, budget: float = 3.0, slow: float = 1.0):
    """Time a read: one warm-up call (imports, caches), then the median of up to ``repeats`` calls within
    ``budget`` seconds. A first call slower than ``slow`` seconds counts as the measurement itself (no warm-up is
    affordable). Returns (seconds, last result, details)."""
    t0, out = timed(fn)
    if t0 >= slow:
        return t0, out, {"first_s": t0, "times_s": [t0], "warmup": False}
    times = []
    start = perf()
    while len(times) < repeats and (not times or perf() - start < budget):
        t, out = timed(fn)
        times.append(t)
    return statistics.median(times), out, {"first_s": t0, "times_s": times, "warmup": True}


def percentile(values, p: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), p))


# ------------------------------------------------------------------------------------------------------------------
# data


def series_values(n: int, seed: int = 1) -> np.ndarray:
    """A plausible training curve: a decaying trend plus noise (full-entropy float64 mantissas, so compression
    gets no free lunch)."""
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=np.float64)
    return 1.0 / (1.0 + 1e-3 * x) + 0.01 * rng.standard_normal(n)


def checksum(values) -> str:
    a = np.ascontiguousarray(np.asarray(values, dtype="<f8"))
    return hashlib.sha256(a.tobytes()).hexdigest()[:16]


def compare_series(res: Result, label: str, got_steps, got_values, want_values, want_steps=None) -> bool:
    """Count, step order and bit-exact values (sha256 of the float64 bytes) of a series read back."""
    got_values = np.asarray(got_values, dtype=np.float64)
    want_values = np.asarray(want_values, dtype=np.float64)
    if want_steps is None:
        want_steps = np.arange(len(want_values))
    ok_n = res.check(f"{label}: point count", len(got_values) == len(want_values),
                     f"read {len(got_values)}, wrote {len(want_values)}")
    if not ok_n:
        return False
    same = bool(np.array_equal(np.asarray(got_steps, dtype=np.int64), want_steps))
    ok_s = res.check(f"{label}: steps", same, "equal" if same else "steps read back differ from the steps written")
    cg, cw = checksum(got_values), checksum(want_values)
    ok_v = res.check(f"{label}: values checksum", cg == cw,
                     f"sha256 {cg} vs {cw}; max abs diff {float(np.nanmax(np.abs(got_values - want_values))):.3g}")
    return ok_s and ok_v


OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")


def run_table_data(n_runs: int, n_params: int = 20, n_metrics: int = 10, seed: int = 7) -> dict:
    """Params and (one-point) metrics of ``n_runs`` runs. Param 0 is ``optimizer``, metric 0 is ``acc``; the
    others are ``p01``.. (ints, floats and strings) and ``m01``.. (floats)."""
    rng = np.random.default_rng(seed)
    opt = rng.integers(0, len(OPTIMIZERS), n_runs)
    acc = rng.random(n_runs)
    other = rng.random((n_runs, max(n_metrics - 1, 0)))
    pnum = rng.integers(0, 1000, (n_runs, max(n_params - 1, 0)))
    runs = []
    for i in range(n_runs):
        params = {"optimizer": OPTIMIZERS[int(opt[i])]}
        for k in range(1, n_params):
            v = int(pnum[i, k - 1])
            params[f"p{k:02d}"] = v if k % 3 == 0 else (v / 7.0 if k % 3 == 1 else f"s{v}")
        metrics = {"acc": float(acc[i])}
        for k in range(1, n_metrics):
            metrics[f"m{k:02d}"] = float(other[i, k - 1])
        runs.append({"name": f"run{i:05d}", "params": params, "metrics": metrics})
    expected = int(np.sum((acc > 0.5) & (opt == 0)))
    return {"runs": runs, "filter_expected": expected}


def small_run_params(i: int, n: int = 10) -> dict:
    return {f"q{k}": (i * 10 + k if k % 2 == 0 else f"v{i}_{k}") for k in range(n)}


# ------------------------------------------------------------------------------------------------------------------
# files, stores, processes


def dir_size(path) -> int:
    """Apparent size of every file under ``path`` (or of the file)."""
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


def sqlite_checkpoint(db_path) -> None:
    """Fold a WAL file back into the database so that its size is the data's, not the log's."""
    if not Path(db_path).exists():
        return
    con = sqlite3.connect(str(db_path), timeout=60)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def copy_store(src, dst) -> Path:
    dst = Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    return dst


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url: str, timeout: float = 90.0, headers: dict | None = None, proc=None) -> float:
    """Poll ``url`` until it answers 200; returns the seconds waited."""
    t0 = perf()
    last = None
    while perf() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering {url}")
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return perf() - t0
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s ({last})")


def stop_process(proc, timeout: float = 15.0) -> None:
    """End a server this adapter started (its own process group) — never anything else."""
    if proc is None or proc.poll() is not None:
        return
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def start_server(cmd: list[str], log_path, env=None, cwd=None):
    log = open(log_path, "wb")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)


def run_child(script: str, workload: str, params: dict, workdir, timeout: float = 900, env=None) -> dict:
    """Run an adapter workload in a fresh interpreter (e.g. to measure its peak memory alone) and return its
    result dict."""
    cmd = [sys.executable, script, "--workload", workload, "--params-json", json.dumps(params),
           "--workdir", str(workdir)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    raise RuntimeError(f"child {workload} failed (exit {p.returncode}): {p.stderr[-2000:]}")


def import_and_memory(res, p, workdir, script: str, module: str, api: str, env=None) -> None:
    """Workload 10, the same for every system: ``import module`` and ``import module; module.api`` in fresh
    interpreters, then the peak memory of a child process running the adapter's ``10mem`` workload."""
    t, times = import_time(f"import {module}", n=int(p["import_n"]), env=env)
    res.fig("import_ms", t * 1e3)
    res.info["import_s"] = times
    t, times = import_time(f"import {module}\n{module}.{api}", n=int(p["import_n"]), env=env)
    res.fig("import_api_ms", t * 1e3)
    res.info["import_api_s"] = times
    child = run_child(script, "10mem", {"n": int(p["mem_n"])}, workdir / "mem")
    res.checks += child["checks"]
    res.info["mem_child"] = child["info"]
    res.fig("peak_mb", child["figures"].get("peak_mb"))


def import_time(module_stmt: str, n: int = 5, env=None) -> tuple[float, list[float]]:
    """Median seconds of ``module_stmt`` (e.g. ``import mlflow``) in ``n`` fresh interpreters, timed inside the
    interpreter (interpreter start-up excluded). Bytecode caching is on, as for a user whose packages pip compiled at
    install: one unrecorded warm-up run writes the ``.pyc`` files a machine-wide ``PYTHONDONTWRITEBYTECODE`` would
    otherwise make every run compile again (an editable install is never compiled by pip)."""
    code = ("import time as _t\n_t0 = _t.perf_counter()\n" + module_stmt +
            "\nprint('IMPORT_S', _t.perf_counter() - _t0)\n")
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times = []
    for i in range(n + 1):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
        line = [x for x in p.stdout.splitlines() if x.startswith("IMPORT_S ")]
        if not line:
            raise RuntimeError(f"{module_stmt!r} failed: {p.stderr[-1500:]}")
        if i:
            times.append(float(line[-1].split()[1]))
    return statistics.median(times), times

