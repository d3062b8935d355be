"""Workloads of ours on the default path (environment capture and notebook snapshots on, as a user gets them):
11 ``%%track_run`` on a trivial cell in a real kernel (nbclient); 12 a ``RunTable`` opened right after a sweep.
Imported by ``ours.py``; the figures say in their label that environment capture is on.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import _common as C

perf = C.perf
PROJECT = "bench"

#: The kernel side of workload 11: per-cell durations measured in the kernel (IPython's pre/post_run_cell events)
#: and the writer's own time (``Writer.stats['busy_seconds']``), so the figures exclude messaging and nbclient.
_SETUP = """
import json, time
import jupyter_mltrack as mlt
from jupyter_mltrack.client.tracking import get_client
mlt.set_tracking_uri({store!r})
%load_ext jupyter_mltrack
_bench_t = []
_ip = get_ipython()
_ip.events.register("pre_run_cell", lambda *a: _bench_t.append(("pre", time.perf_counter())))
_ip.events.register("post_run_cell", lambda *a: _bench_t.append(("post", time.perf_counter())))
with mlt.start_run("warm-up", project={project!r}):
    pass
mlt.flush()
"""
_START = """
_w = get_client().writer
_w.interval = 0.02  # each tracked cell's background work in a pass of its own, as cells run by hand get
mlt.flush()
_busy0, _passes0 = _w.stats["busy_seconds"], _w.passes
_bench_t.clear()
"""
_TRACKED = "%%track_run --project {project} --name c{i}\nx = {i}\n"
_PLAIN = "x = {i}\n"
_PAUSE = "time.sleep(0.15)\n"  # the writer's pass for the tracked cell runs here, not during the next cells
_END = """
_durs = []
_pre = None
for kind, t in _bench_t:
    if kind == "pre":
        _pre = t
    elif _pre is not None:
        _durs.append(t - _pre)
        _pre = None
_busy_cells = _w.stats["busy_seconds"] - _busy0
_t0 = time.perf_counter()
mlt.flush()
_flush = time.perf_counter() - _t0
print("BENCH_KERNEL " + json.dumps({"durations": _durs, "busy_s": _w.stats["busy_seconds"] - _busy0,
                                    "busy_during_cells_s": _busy_cells, "final_flush_s": _flush,
                                    "passes": _w.passes - _passes0}))
"""


def w11(res, p, workdir, args):
    """``%%track_run`` on a trivial cell: n tracked cells interleaved with the same cell untracked, in one kernel
    driven by nbclient (the notebook file named by MLTRACK_NOTEBOOK, so the saved-file snapshot is taken too)."""
    import nbformat
    from nbclient import NotebookClient

    n = int(p["n"])
    store = str(workdir / "store")
    nb = nbformat.v4.new_notebook()
    cells = [_SETUP.format(store=store, project=PROJECT), _START]
    for i in range(n):
        cells += [_PLAIN.format(i=i), _TRACKED.format(project=PROJECT, i=i), _PAUSE]
    cells.append(_END)
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path = workdir / "track_run.ipynb"
    nbformat.write(nb, path)
    os.environ["MLTRACK_NOTEBOOK"] = str(path)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    t0 = perf()
    client.execute()
    wall = perf() - t0
    out = None
    for o in nb.cells[-1].outputs:
        for line in (o.get("text") or "").splitlines():
            if line.startswith("BENCH_KERNEL "):
                out = json.loads(line[len("BENCH_KERNEL "):])
    if out is None:
        res.check("kernel reported", False, json.dumps([c.get("outputs") for c in nb.cells[-2:]])[:300])
        return
    d = out["durations"]  # plain, tracked, pause, plain, … (the _END cell's own pre event has no post yet)
    plain, tracked = d[0:3 * n:3], d[1:3 * n:3]
    added = [t - q for q, t in zip(plain, tracked)]
    res.fig("cell_added_ms", statistics.median(added) * 1000)
    res.fig("background_ms", out["busy_s"] / n * 1000)
    res.info.update(n=n, wall_s=wall, plain_cell_ms=statistics.median(plain) * 1000,
                    tracked_cell_ms=statistics.median(tracked) * 1000, final_flush_s=out["final_flush_s"],
                    busy_during_cells_s=out["busy_during_cells_s"], writer_passes=out["passes"],
                    added_ms_p90=sorted(added)[int(0.9 * (len(added) - 1))] * 1000)
    from jupyter_mltrack import Store

    s = Store(store)
    runs, total = s.search_runs(project=PROJECT, limit=10_000)
    tracked_runs = [r for r in runs if r["name"].startswith("c")]
    res.check_equal("tracked runs stored", len(tracked_runs), n)
    bad = 0
    for r in tracked_runs:
        full = s.get_run(r["id"])
        names = {a["name"] for a in full["artifacts"]}
        nbart = [a for a in full["artifacts"] if a["name"] == "notebook"]
        files = {f["path"] for f in nbart[-1]["files"]} if nbart else set()
        if r["status"] != "finished" or not {"environment", "notebook"} <= names or \
                not {"history.ipynb", "cell.py", "track_run.ipynb"} <= files:
            bad += 1
    res.check("every tracked run finished with its environment and notebook snapshot", bad == 0, f"{bad} runs")


def w12(res, p, workdir, args):
    """A RunTable opened right after a sweep of n runs × (10 params, 5 points), defaults on: the time from the
    sweep's last ``end()`` to the widget built, which includes the flush it waits for."""
    import numpy as np

    import jupyter_mltrack as mlt

    n = int(p["n"])
    mlt.set_tracking_uri(str(workdir / "store"))
    rng = np.random.default_rng(3)
    vals = rng.random((n, 5))
    t0 = perf()
    for i in range(n):
        run = mlt.start_run(f"r{i:05d}", project=PROJECT, params=C.small_run_params(i))
        lm = run.log_metric
        row = vals[i].tolist()
        for j in range(5):
            lm("m", row[j], step=j)
        run.end()
    t_sweep = perf() - t0
    from jupyter_mltrack.widgets.run_table import RunTable

    t1 = perf()
    table = RunTable(project=PROJECT)
    t_table = perf() - t1
    res.fig("table_s", t_table)
    res.info.update(n=n, sweep_loop_s=t_sweep, table_s=t_table, total_s=t_sweep + t_table)
    res.check_equal("runs in the table", table.total, n)


FILTER = "metrics.acc > 0.5 and params.optimizer = 'adam'"


def w13(res, p, workdir, args):
    """Scale: a store of n runs × (20 params, 10 metrics) (populated as workloads 5 and 6 are): the REST table
    view's first page sorted by a metric, a filtered search (Python and REST), the whole DataFrame, bytes per run."""
    from urllib.parse import quote

    from ours import Server, _check_table, _mlt, populate_runs

    n = int(p["n"])
    if args.phase == "populate":
        return populate_runs(res, p, args.store)
    store_dir = C.copy_store(args.store, workdir / "store")
    C.sqlite_checkpoint(store_dir / "mltrack.db")
    from jupyter_mltrack import Store

    Store(str(workdir / "empty")).close()  # what an empty store weighs, subtracted
    C.sqlite_checkpoint(workdir / "empty" / "mltrack.db")
    res.fig("bytes_per_run", (C.dir_size(store_dir) - C.dir_size(workdir / "empty")) / n)
    data = C.run_table_data(n)
    runs = data["runs"]
    mlt = _mlt(store_dir)
    t, df, d = C.time_read(lambda: mlt.search_runs(), repeats=3)
    res.fig("df_ms", t * 1e3)
    res.info["df"] = d
    _check_table(res, df, data, "search_runs")
    del df
    t, found, d = C.time_read(lambda: mlt.search_runs(filter=FILTER), repeats=3)
    res.fig("search_ms", t * 1e3)
    res.info["search"] = d
    want = {r["name"] for r in runs if r["params"]["optimizer"] == "adam" and r["metrics"]["acc"] > 0.5}
    res.check("filter result runs", set(found["name"]) == want, f"{len(found)} found, {len(want)} expected")
    top = [r["name"] for r in sorted(runs, key=lambda r: -r["metrics"]["acc"])[:100]]
    with Server(store_dir, workdir) as srv:
        t, r, d = C.time_read(lambda: srv.get("runs?view=table&limit=100&order_by=" + quote("metrics.acc DESC")))
        res.fig("page_ms", t * 1e3)
        res.info["page"] = d
        body = r.json()
        res.check("first page: the 100 runs with the highest acc, in order", [x["name"] for x in body["runs"]] == top,
                  "order differs")
        res.check_equal("first page: total", body["total"], n)
        t, r, d = C.time_read(lambda: srv.get("runs?view=table&limit=100&filter=" + quote(FILTER)))
        res.fig("search_rest_ms", t * 1e3)
        res.info["search_rest"] = d
        res.check_equal("REST filter: total", r.json()["total"], len(want))
    res.info.update(n=n)
