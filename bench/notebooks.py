#!/usr/bin/env python3
"""Tracked against untracked: the notebooks of tests/notebooks/ run by nbclient as written and with their
``train``-tagged cells under ``%%track_run`` (defaults on: environment capture and snapshots), alternately, each
in a fresh kernel, into one embedded store created beforehand (as a user's store exists before a notebook runs:
creating one — the schema's migrations — is a one-time cost of ~1 s left out here).

    .venv/bin/python bench/notebooks.py [--reps 5] [--json bench/results/notebooks.json]

Per notebook and variant: the sum of the cells' execution times (``execute_input`` → ``execute_reply`` as nbclient
records them: the kernel's start and shutdown are left out), the median over the repetitions, and the ratio. For
the tracked variant the kernel also reports the time our code took on the interpreter: the writer thread's busy
(wall) time, the CPU time of our threads (the writer; in embedded mode the store's write thread too) and the CPU
time spent in the tracked-cell hooks.

Two kinds of kernel (``--kernel both``, the default): ``server`` — kernels as JupyterLab starts them, told by a
running Jupyter server with the extension where it is (they write through it: the user's default path) — and
``embedded`` — nbclient alone, no server (the store opens in the kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "tests" / "notebooks"
#: the notebooks tests/test_transparency.py runs tracked and untracked (their training cells tagged ``train``)
TRANSPARENCY_NOTEBOOKS = ("model_validation.ipynb", "random_forest.ipynb")
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

#: appended to both variants: what the tracking cost in this kernel (nothing when it is not loaded)
_REPORT = """
import json, sys, time
# the CPU of every thread but this (the main) one, those that ended included: the kernel's own threads in both
# variants, ours too in the tracked one
_out = {"other_threads_cpu_s": time.process_time() - time.thread_time()}
if "jupyter_mltrack.client.tracking" in sys.modules:
    import jupyter_mltrack as _m
    from jupyter_mltrack.client.tracking import get_client as _gc
    from jupyter_mltrack.magics import loaded_cells as _lc
    _m.flush()
    _w = _gc().writer
    _c = _lc(get_ipython())
    import threading, time
    _main = threading.main_thread().ident
    _cpu = sum(time.clock_gettime(time.pthread_getcpuclockid(t.ident)) for t in threading.enumerate()
               if t.ident != _main and t.name.startswith("mltrack"))
    _out.update({"writer_busy_s": _w.stats["busy_seconds"], "hooks_s": _c.cost if _c else None,
                 "threads_cpu_s": _cpu, "backend": type(_gc().backend).__name__})
print("BENCH " + json.dumps(_out))
"""


def _cells_seconds(nb) -> float:
    total = 0.0
    for c in nb.cells:
        ex = (c.get("metadata") or {}).get("execution") or {}
        a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if a and b:
            total += (datetime.fromisoformat(b.replace("Z", "+00:00"))
                      - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
    return total


def run_once(name: str, tracked: bool, store: str, server=None) -> dict:
    import nbformat
    from nbclient import NotebookClient

    from test_transparency import _tracked_copy

    source = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb = _tracked_copy(source, name.split(".")[0]) if tracked else source
    nb.cells.append(nbformat.v4.new_code_cell(_REPORT))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLTRACK_URI"] = store
        os.environ["MLTRACK_HOME"] = str(Path(tmp) / "home")
        path = Path(tmp) / name
        nbformat.write(nb, path)
        os.environ["JPY_SESSION_NAME"] = str(path)
        for k in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN", "MLTRACK_SERVER_STORE"):
            os.environ.pop(k, None)
        if server is not None:  # what a Jupyter server running the extension tells the kernels it starts
            from jupyter_mltrack.core.location import resolve_uri, store_fingerprint

            os.environ.update(MLTRACK_SERVER_URL=server.url, MLTRACK_SERVER_TOKEN=server.token,
                              MLTRACK_SERVER_STORE=store_fingerprint(resolve_uri(store)))
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": tmp}}).execute()
        wall = time.perf_counter() - t0
    report = {}
    for o in nb.cells[-1].outputs:
        for line in (o.get("text") or "").splitlines():
            if line.startswith("BENCH "):
                report = json.loads(line[6:])
    cells = _cells_seconds(nb) - _cells_seconds(nbformat.from_dict({"cells": [nb.cells[-1]]}))
    return {"cells_s": cells, "wall_s": wall, **report}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", default=str(REPO / "bench" / "results" / "notebooks.json"))
    ap.add_argument("--kernel", choices=["server", "embedded", "both"], default="both",
                    help="server: kernels as JupyterLab starts them (writing through the Jupyter server, the "
                         "default path); embedded: kernels without a server (nbclient alone), the store in-process")
    args = ap.parse_args()
    os.environ["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    # the package's bytecode, as installing it leaves it (pip compiles a wheel's modules): a source tree run with
    # PYTHONDONTWRITEBYTECODE set would otherwise compile the client's modules in every kernel (~76 ms of the
    # first tracked cell, measured) — a cost of this checkout, not of a user's installation
    import compileall

    compileall.compile_dir(str(REPO / "jupyter_mltrack"), quiet=1)
    results = {}
    for mode in (("server", "embedded") if args.kernel == "both" else (args.kernel,)):
        results[mode] = measure(mode, args.reps)
    load = os.getloadavg()[0]
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"load": load, "results": results}, indent=1))
    print(f"load {load:.1f}; wrote {args.json}")
    return 0


def measure(mode: str, reps: int) -> dict:
    from contextlib import nullcontext

    from tests._server import JupyterServer

    from jupyter_mltrack.core.store import Store

    store_dir = tempfile.mkdtemp(prefix="mltrack-bench-")
    Store(store_dir).close()  # the schema, once
    results = {}
    folder = Path(tempfile.mkdtemp(prefix="mltrack-bench-server-"))
    with (JupyterServer(folder, store_dir) if mode == "server" else nullcontext()) as server:
        for name in TRANSPARENCY_NOTEBOOKS:
            results[name] = measure_notebook(name, mode, reps, store_dir, server)
    return results


def measure_notebook(name: str, mode: str, reps: int, store_dir: str, server) -> dict:
    runs = {False: [], True: []}
    for _ in range(reps):
        for tracked in (False, True):
            runs[tracked].append(run_once(name, tracked, store_dir, server))
    plain = statistics.median(r["cells_s"] for r in runs[False])
    tracked = statistics.median(r["cells_s"] for r in runs[True])
    n_tracked = sum("train" in c.metadata.get("tags", []) for c in
                    __import__("nbformat").read(NOTEBOOKS / name, as_version=4).cells)
    busy = statistics.median(r.get("writer_busy_s") or 0 for r in runs[True])
    hooks = statistics.median(r.get("hooks_s") or 0 for r in runs[True])
    cpu = statistics.median(r.get("threads_cpu_s") or 0 for r in runs[True])
    # our threads' CPU, those that ended (environment gatherers) included: other threads' CPU, tracked − untracked
    extra = statistics.median(r["other_threads_cpu_s"] for r in runs[True]) - \
        statistics.median(r["other_threads_cpu_s"] for r in runs[False])
    backends = sorted({r.get("backend") or "" for r in runs[True]})
    r = {"kernel": mode, "backend": backends, "untracked_s": plain, "tracked_s": tracked,
         "overhead_pct": (tracked / plain - 1) * 100, "tracked_cells": n_tracked,
         "writer_busy_ms_per_run": busy / n_tracked * 1000, "hooks_ms_per_run": hooks / n_tracked * 1000,
         "threads_cpu_ms_per_run": cpu / n_tracked * 1000, "all_threads_cpu_ms_per_run": extra / n_tracked * 1000,
         "reps": reps,
         "untracked_all_s": [r["cells_s"] for r in runs[False]],
         "tracked_all_s": [r["cells_s"] for r in runs[True]]}
    print(f"| {name} ({n_tracked} tracked cells) | {mode} ({', '.join(backends)}) | {plain:.2f} s | "
          f"{tracked:.2f} s | {r['overhead_pct']:+.1f} % | {r['writer_busy_ms_per_run']:.1f} ms | "
          f"{r['threads_cpu_ms_per_run']:.1f} ms | {r['all_threads_cpu_ms_per_run']:.1f} ms | "
          f"{r['hooks_ms_per_run']:.1f} ms |", flush=True)
    return r


if __name__ == "__main__":
    raise SystemExit(main())
