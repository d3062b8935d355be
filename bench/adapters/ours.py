"""jupyter_mltrack adapter: runs inside the project's own venv (PYTHONPATH = the repository root).

Embedded mode: ``mlt.set_tracking_uri(<temp folder>)`` (one SQLite file), the public client API for logging,
``Store`` for the direct paths the issue names. Remote mode: a real ``jupyter server`` subprocess with the
extension on a temp store, token auth.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

perf = C.perf
PROJECT = "bench"


def _mlt(store_dir):
    import jupyter_mltrack as mlt

    mlt.set_tracking_uri(str(store_dir))
    return mlt


def _store(path):
    from jupyter_mltrack import Store

    return Store(str(path))


def _db(store_dir) -> Path:
    return Path(store_dir) / "mltrack.db"


# ------------------------------------------------------------------------------------------------------------------
# a real Jupyter server with the extension


class Server:
    def __init__(self, store_dir, workdir):
        self.store_dir = Path(store_dir)
        self.workdir = Path(workdir)
        self.token = secrets.token_hex(16)
        self.port = C.free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.proc = None

    def __enter__(self):
        root = self.workdir / "server-root"
        root.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={self.port}",
               "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               '--ServerApp.jpserver_extensions={"jupyter_mltrack": True}', f"--ServerApp.root_dir={root}",
               f"--MLTrackApp.store_uri={self.store_dir}"]
        env = dict(os.environ)
        env["JUPYTER_CONFIG_DIR"] = str(self.workdir / "jupyter-config")  # no user config leaks in
        self.proc = C.start_server(cmd, self.workdir / f"jupyter-server-{self.port}.log", env=env, cwd=root)
        self.startup_s = C.wait_http(self.base + "mltrack/api/status",
                                     headers={"Authorization": f"token {self.token}"}, proc=self.proc)
        import requests

        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"
        return self

    def get(self, path: str, **kw):
        r = self.session.get(self.base + "mltrack/api/" + path, timeout=300, **kw)
        r.raise_for_status()
        return r

    def __exit__(self, *exc):
        C.stop_process(self.proc)


# ------------------------------------------------------------------------------------------------------------------
# 1: per-call log_metric until flushed


def _capture_kw(capture: bool) -> dict:
    """``start_run`` keywords: the default path (environment capture on) or capture switched off."""
    return {} if capture else {"capture_environment": False}


#: row 1's loop as a notebook cell holds it: module-level code, whose names are globals (dict lookups, not locals)
_CELL_LOOP = compile("for i, v in enumerate(vals):\n    run.log_metric('loss', v, step=i)\n", "<cell>", "exec")


def w1(res, p, workdir, args):
    """Per-call log_metric: the default path (the run captures its environment) → ``rate``, then the same with
    environment capture off → ``rate_off``, then the default path's loop written as a notebook cell writes it →
    ``rate_cell``, each in a store of its own."""
    n = int(p["n"])
    vals = C.series_values(n).tolist()
    for capture, suffix in ((True, ""), (False, "_off"), (True, "_cell")):
        store_dir = workdir / f"store{suffix}"
        mlt = _mlt(store_dir)
        run = mlt.start_run("w1", project=PROJECT, **_capture_kw(capture))
        mlt.flush()  # the run exists before timing (as the other systems' runs do)
        log = run.log_metric
        t0 = perf()
        if suffix == "_cell":
            exec(_CELL_LOOP, {"vals": vals, "run": run})
        else:
            for i, v in enumerate(vals):
                log("loss", v, step=i)
        t_log = perf() - t0
        mlt.flush()
        t = perf() - t0
        res.fig("rate" + suffix, n / t)
        res.info.update({"n": n, f"log_s{suffix}": t_log, f"flush_s{suffix}": t - t_log, f"total_s{suffix}": t})
        run.end()
        mlt.flush()
        s = _store(store_dir).get_series(run.id, "loss")
        C.compare_series(res, f"read back{suffix}", s["points"].steps, s["points"].values, vals)


# ------------------------------------------------------------------------------------------------------------------
# 2: batch logging


def w2(res, p, workdir, args):
    n, chunk = int(p["n"]), int(p["chunk"])
    vals = C.series_values(n)
    steps = np.arange(n, dtype=np.int64)
    # (a) the client's bulk call, then flush: the default path (capture on) → rate, capture off → rate_off
    for capture, suffix in ((True, ""), (False, "_off")):
        mlt = _mlt(workdir / f"store-a{suffix}")
        run = mlt.start_run("w2", project=PROJECT, **_capture_kw(capture))
        mlt.flush()
        t0 = perf()
        for i in range(0, n, chunk):
            run.log_metric_series("loss", vals[i:i + chunk], steps=steps[i:i + chunk])
        mlt.flush()
        t = perf() - t0
        res.fig("rate" + suffix, n / t)
        run.end()
        mlt.flush()
        s = _store(workdir / f"store-a{suffix}").get_series(run.id, "loss")
        C.compare_series(res, f"log_metric_series read back{suffix}", s["points"].steps, s["points"].values, vals)
    # (b) Store.write_batch directly (what the writer thread and the REST endpoint call)
    store = _store(workdir / "store-b")
    rid = "w2direct"
    store.write_batch({"runs": [{"id": rid, "name": "w2b", "project": PROJECT}]})
    ts = np.full(n, time.time())
    t0 = perf()
    for i in range(0, n, chunk):
        store.write_batch({"metrics": [{"run_id": rid, "name": "loss", "steps": steps[i:i + chunk],
                                        "timestamps": ts[i:i + chunk], "values": vals[i:i + chunk]}]})
    t = perf() - t0
    res.fig("rate_store", n / t)
    s = store.get_series(rid, "loss")
    C.compare_series(res, "write_batch read back", s["points"].steps, s["points"].values, vals)
    res.info.update(n=n, chunk=chunk)


# ------------------------------------------------------------------------------------------------------------------
# 3: logging over HTTP


def w3(res, p, workdir, args):
    n, chunk, k = int(p["n"]), int(p["chunk"]), int(p["latency_requests"])
    vals = C.series_values(n)
    store_dir = workdir / "server-store"
    with Server(store_dir, workdir) as srv:
        res.info["server_startup_s"] = srv.startup_s
        import jupyter_mltrack as mlt

        mlt.set_tracking_uri(f"{srv.base}?token={srv.token}")
        # the default path (capture on) → rate, capture off → rate_off; the latency run is the default-path one
        off = mlt.start_run("w3-off", project=PROJECT, capture_environment=False)
        mlt.flush()
        t0 = perf()
        for i in range(0, n, chunk):
            off.log_metric_series("loss", vals[i:i + chunk])
        mlt.flush()
        res.fig("rate_off", n / (perf() - t0))
        off.end()
        run = mlt.start_run("w3", project=PROJECT)
        mlt.flush()
        t0 = perf()
        for i in range(0, n, chunk):
            run.log_metric_series("loss", vals[i:i + chunk])
        mlt.flush()
        t = perf() - t0
        res.fig("rate", n / t)
        # p50 latency of a one-point batch, a plain POST as any client would send it
        import requests

        s = requests.Session()
        s.headers.update({"Authorization": f"token {srv.token}", "Content-Type": "application/json"})
        url = srv.base + "mltrack/api/batch"
        warm = 20
        lat = []
        for i in range(warm + k):
            # bytes, as MLflow's client sends its JSON (requests' json=): a str body goes out in a second packet
            body = json.dumps({"metrics": [{"run_id": run.id, "name": "lat", "steps": [i], "values": [i * 0.5]}]}).encode()
            t1 = perf()
            r = s.post(url, data=body)
            dt = perf() - t1
            r.raise_for_status()
            if i >= warm:
                lat.append(dt)
        res.fig("latency_ms", C.percentile(lat, 50) * 1e3)
        res.info.update(n=n, chunk=chunk, latency_requests=k, latency_p95_ms=C.percentile(lat, 95) * 1e3,
                        latency_p99_ms=C.percentile(lat, 99) * 1e3)
        run.end()
        mlt.flush()
        st = _store(store_dir)
        got = st.get_series(run.id, "loss")
        C.compare_series(res, "read back (batched)", got["points"].steps, got["points"].values, vals)
        got = st.get_series(off.id, "loss")
        C.compare_series(res, "read back (batched, capture off)", got["points"].steps, got["points"].values, vals)
        got = st.get_series(run.id, "lat")
        C.compare_series(res, "read back (single-point posts)", got["points"].steps, got["points"].values,
                         np.arange(warm + k) * 0.5)


# ------------------------------------------------------------------------------------------------------------------
# 4: many small runs


def _small_runs(mlt, n, n_points=5, capture_environment=False):
    rng = np.random.default_rng(3)
    vals = rng.random((n, n_points))
    ids = []
    for i in range(n):
        run = mlt.start_run(f"r{i:05d}", project=PROJECT, params=C.small_run_params(i),
                            capture_environment=capture_environment)
        lm = run.log_metric
        row = vals[i].tolist()
        for j in range(n_points):
            lm("m", row[j], step=j)
        run.end()
        ids.append(run.id)
    mlt.flush()
    return ids, vals


def _check_small_runs(res, store, ids, vals, n_params=10):
    runs, total = store.search_runs(project=PROJECT)
    res.check_equal("runs stored", total, len(ids))
    by_id = {r["id"]: r for r in runs}
    bad_params = bad_metrics = bad_status = 0
    n_params_seen = 0
    for i, rid in enumerate(ids):
        r = by_id.get(rid)
        if r is None:
            continue
        n_params_seen += len(r["params"])
        if r["params"] != C.small_run_params(i, n_params):
            bad_params += 1
        m = {x["key"]: x for x in r["metrics"]}.get("m")
        if m is None or m["count"] != vals.shape[1] or m["last"] != float(vals[i, -1]):
            bad_metrics += 1
        if r["status"] != "finished":
            bad_status += 1
    res.check_equal("params stored", n_params_seen, len(ids) * n_params)
    res.check("param values", bad_params == 0, f"{bad_params} runs with wrong params")
    res.check("metric points and last values", bad_metrics == 0, f"{bad_metrics} runs with a wrong series")
    res.check("runs finished", bad_status == 0, f"{bad_status} runs not 'finished'")


def w4(res, p, workdir, args):
    n = int(p["n"])
    mlt = _mlt(workdir / "store")
    t0 = perf()
    ids, vals = _small_runs(mlt, n)
    t = perf() - t0
    res.fig("seconds", t * 1000 / n)
    res.info.update(n=n, seconds_measured=t)
    _check_small_runs(res, _store(workdir / "store"), ids, vals)
    # the same with the defaults on: every top-level run captures its environment (gathered on the writer thread)
    mlt = _mlt(workdir / "store_env")
    t0 = perf()
    ids, vals = _small_runs(mlt, n, capture_environment=True)
    t = perf() - t0
    res.fig("seconds_env", t * 1000 / n)
    res.info.update(seconds_env_measured=t)
    _check_small_runs(res, _store(workdir / "store_env"), ids, vals)


# ------------------------------------------------------------------------------------------------------------------
# 5, 6: the run table and a filtered search (populated with Store.write_batch in big batches)


def populate_runs(res, p, store_dir):
    data = C.run_table_data(int(p["n"]))
    store = _store(store_dir)
    t0 = perf()
    now = time.time()
    per = 1000
    runs = data["runs"]
    for b in range(0, len(runs), per):
        batch = {"runs": [], "params": [], "metrics": [], "updates": []}
        for i in range(b, min(b + per, len(runs))):
            r = runs[i]
            rid = f"r{i:011d}"  # 12 characters, as the client's run ids
            batch["runs"].append({"id": rid, "name": r["name"], "project": PROJECT, "start_time": now + i * 1e-3})
            batch["params"] += [{"run_id": rid, "key": k, "value": v} for k, v in r["params"].items()]
            batch["metrics"] += [{"run_id": rid, "name": k, "steps": [0], "values": [v]}
                                 for k, v in r["metrics"].items()]
            batch["updates"].append({"run_id": rid, "status": "finished", "end_time": now + i * 1e-3 + 1})
        store.write_batch(batch)
    res.info["populate_s"] = perf() - t0
    store.close()


def _check_table(res, df, data, label):
    """Every run's 20 params and 10 last metric values in the DataFrame equal what was written."""
    runs = data["runs"]
    res.check_equal(f"{label}: rows", len(df), len(runs))
    want = {r["name"]: r for r in runs}
    pcols = [c for c in df.columns if c.startswith("params.")]
    mcols = [c for c in df.columns if c.startswith("metrics.")]
    res.check_equal(f"{label}: param/metric columns", (len(pcols), len(mcols)),
                    (len(runs[0]["params"]), len(runs[0]["metrics"])))
    bad = 0
    names = df["name"].tolist()
    pvals = {c: df[c].tolist() for c in pcols}
    mvals = {c: df[c].tolist() for c in mcols}
    missing = [None] * len(names)  # once: a default built per value made this check quadratic in the runs
    for j, name in enumerate(names):
        r = want.get(name)
        if r is None:
            bad += 1
            continue
        if any(pvals.get("params." + k, missing)[j] != v for k, v in r["params"].items()) or any(
                mvals.get("metrics." + k, missing)[j] != v for k, v in r["metrics"].items()):
            bad += 1
    res.check(f"{label}: values", bad == 0, f"{bad} rows differ from what was written")


def w5(res, p, workdir, args):
    if args.phase == "populate":
        return populate_runs(res, p, args.store)
    store_dir = C.copy_store(args.store, workdir / "store")
    data = C.run_table_data(int(p["n"]))
    mlt = _mlt(store_dir)
    t, df, d = C.time_read(lambda: mlt.search_runs())
    res.fig("df_ms", t * 1e3)
    res.info["df"] = d
    _check_table(res, df, data, "search_runs")
    with Server(store_dir, workdir) as srv:
        # the run table over REST: the list's table view (params and last metric values, as the DataFrame)
        t, r, d = C.time_read(lambda: srv.get("runs?limit=10000&view=table"))
        res.fig("rest_ms", t * 1e3)
        res.info["rest"] = d
        res.info["rest_bytes"] = len(r.content)
        _check_table(res, _rest_table_frame(r.json()["runs"]), data, "REST table view")
        # the full list (every metric's summary: last, last_step, last_time, min, max, count)
        t, r, d = C.time_read(lambda: srv.get("runs?limit=10000"))
        res.fig("rest_full_ms", t * 1e3)
        res.info["rest_full"] = d
        res.info["rest_full_bytes"] = len(r.content)
        body = r.json()
        res.check_equal("REST full list: runs", len(body["runs"]), len(data["runs"]))
        res.check_equal("REST full list: metric summaries of the first run", len(body["runs"][0]["metrics"]),
                        len(data["runs"][0]["metrics"]))


def _rest_table_frame(runs):
    import pandas as pd

    return pd.DataFrame([{"name": r["name"], **{"params." + k: v for k, v in r["params"].items()},
                          **{"metrics." + k: v for k, v in r["metrics"].items()}} for r in runs])


FILTER = "metrics.acc > 0.5 and params.optimizer = 'adam'"


def w6(res, p, workdir, args):
    if args.phase == "populate":
        return populate_runs(res, p, args.store)
    store_dir = C.copy_store(args.store, workdir / "store")
    data = C.run_table_data(int(p["n"]))
    mlt = _mlt(store_dir)
    t, df, d = C.time_read(lambda: mlt.search_runs(filter=FILTER))
    res.fig("ms", t * 1e3)
    res.info["search"] = d
    want = data["filter_expected"]
    res.check_equal("filter result count", len(df), want)
    wanted_names = {r["name"] for r in data["runs"] if r["params"]["optimizer"] == "adam" and r["metrics"]["acc"] > 0.5}
    res.check("filter result runs", set(df["name"]) == wanted_names, "same runs" if set(df["name"]) == wanted_names else "the runs found differ from the runs expected")
    from urllib.parse import quote

    with Server(store_dir, workdir) as srv:
        t, r, d = C.time_read(lambda: srv.get("runs?limit=10000&view=table&filter=" + quote(FILTER)))
        res.fig("rest_ms", t * 1e3)
        res.info["rest"] = d
        res.check_equal("REST filter count", r.json()["total"], want)


# ------------------------------------------------------------------------------------------------------------------
# 7: series reads


RID7 = "w7series"


def w7(res, p, workdir, args):
    n_small, n_big, mp = int(p["n_small"]), int(p["n_big"]), int(p["max_points"])
    small, big = C.series_values(n_small, seed=11), C.series_values(n_big, seed=12)
    if args.phase == "populate":
        store = _store(args.store)
        t0 = perf()
        store.write_batch({"runs": [{"id": RID7, "name": "w7", "project": PROJECT}]})
        for name, vals in (("s_small", small), ("s_big", big)):
            for i in range(0, len(vals), 1_000_000):
                part = vals[i:i + 1_000_000]
                store.write_batch({"metrics": [{"run_id": RID7, "name": name, "values": part,
                                                "steps": np.arange(i, i + len(part), dtype=np.int64)}]})
        res.info["populate_s"] = perf() - t0
        return
    store_dir = C.copy_store(args.store, workdir / "store")
    store = _store(store_dir)
    t, s, d = C.time_read(lambda: store.get_series(RID7, "s_small"))
    res.fig("small_ms", t * 1e3)
    res.info["small"] = d
    C.compare_series(res, f"{n_small}-point series", s["points"].steps, s["points"].values, small)
    t, s, d = C.time_read(lambda: store.get_series(RID7, "s_big", max_points=mp))
    res.fig("big_down_ms", t * 1e3)
    res.info["big_down"] = d
    _check_downsampled(res, s["points"].steps, s["points"].values, big, mp, "downsampled series")
    t, s, d = C.time_read(lambda: store.get_series(RID7, "s_big"))
    res.fig("big_full_ms", t * 1e3)
    res.info["big_full"] = d
    C.compare_series(res, f"{n_big}-point series in full", s["points"].steps, s["points"].values, big)
    with Server(store_dir, workdir) as srv:
        t, r, d = C.time_read(lambda: srv.get(f"runs/{RID7}/metrics?name=s_small"))
        res.fig("small_rest_ms", t * 1e3)
        res.info["small_rest"] = d
        body = r.json()
        C.compare_series(res, "REST full series", body["steps"], body["values"], small)
        # the binary form, as the HTTP client (remote mode, the widgets) reads it: msgpack with raw arrays → numpy
        from jupyter_mltrack.client.backend import HttpBackend

        http = HttpBackend(f"{srv.base}?token={srv.token}")
        t, s, d = C.time_read(lambda: http.get_series(RID7, "s_small"))
        res.fig("small_rest_bin_ms", t * 1e3)
        res.info["small_rest_bin"] = d
        C.compare_series(res, "REST full series, binary", s["points"].steps, s["points"].values, small)
        t, r, d = C.time_read(lambda: srv.get(f"runs/{RID7}/metrics?name=s_big&max_points={mp}"))
        res.fig("big_down_rest_ms", t * 1e3)
        res.info["big_down_rest"] = d
        body = r.json()
        _check_downsampled(res, body["steps"], body["values"], big, mp, "REST downsampled series")
    res.info.update(n_small=n_small, n_big=n_big, max_points=mp)


def _check_downsampled(res, steps, values, full, mp, label):
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    res.check(f"{label}: ≤ {mp} points", 0 < len(values) <= mp, f"{len(values)} points")
    ok = len(steps) and steps.min() >= 0 and steps.max() < len(full) and np.array_equal(full[steps], values)
    res.check(f"{label}: points are original points", bool(ok), "a downsampled point is not one of the series")
    # recorded, not checked: MinMaxLTTB keeps spikes but not necessarily the global extremes of a noisy series
    res.info[f"{label}: global extremes kept"] = bool(len(values)) and bool(values.max() == full.max()
                                                                          and values.min() == full.min())


# ------------------------------------------------------------------------------------------------------------------
# 8: one metric of many runs (overlay)


def w8(res, p, workdir, args):
    n_runs, n_points, mp = int(p["n_runs"]), int(p["n_points"]), int(p["max_points"])
    ids = [f"ov{i:05d}" for i in range(n_runs)]
    if args.phase == "populate":
        store = _store(args.store)
        t0 = perf()
        for b in range(0, n_runs, 100):
            part = ids[b:b + 100]
            store.write_batch({
                "runs": [{"id": rid, "name": rid, "project": PROJECT} for rid in part],
                "metrics": [{"run_id": rid, "name": "loss", "values": C.series_values(n_points, seed=1000 + b + j)}
                            for j, rid in enumerate(part)],
            })
        res.info["populate_s"] = perf() - t0
        return
    store_dir = C.copy_store(args.store, workdir / "store")
    store = _store(store_dir)
    t, out, d = C.time_read(lambda: store.get_series_many(ids, "loss", max_points=mp))
    res.fig("many_ms", t * 1e3)
    res.info["many"] = d
    _check_overlay(res, "get_series_many", [(s["run_id"], s["points"].values, s["total_count"]) for s in out],
                   ids, n_points, mp)
    t, out, d = C.time_read(lambda: [store.get_series(r, "loss", max_points=mp) for r in ids])
    res.fig("loop_ms", t * 1e3)
    res.info["loop"] = d
    _check_overlay(res, f"{n_runs}× get_series", [(s["run_id"], s["points"].values, s["total_count"]) for s in out],
                   ids, n_points, mp)
    with Server(store_dir, workdir) as srv:
        q = f"metrics?name=loss&max_points={mp}&runs=" + ",".join(ids)
        t, r, d = C.time_read(lambda: srv.get(q))
        res.fig("rest_ms", t * 1e3)
        res.info["rest"] = d
        res.info["rest_bytes"] = len(r.content)
        _check_overlay(res, "REST metrics", [(s["run_id"], s["values"], s["total_count"]) for s in r.json()["series"]],
                       ids, n_points, mp)
    nominal = int(p.get("nominal_runs", n_runs))
    if nominal != n_runs:  # (quick mode only)
        res.info["scaled"] = {}
        for k in ("many_ms", "loop_ms", "rest_ms"):
            res.info["scaled"][k] = f"measured on {n_runs:,} runs ({res.figures[k]:.0f} ms), ×{nominal / n_runs:g} linearly"
            res.figures[k] *= nominal / n_runs
    res.info.update(n_runs=n_runs, n_points=n_points, max_points=mp)


def _check_overlay(res, label, got, ids, n_points, mp):
    res.check_equal(f"{label}: series", len(got), len(ids))
    bad = sum(1 for rid, vals, total in got if not (0 < len(vals) <= mp and total == n_points))
    res.check(f"{label}: each ≤ {mp} points of {n_points}", bad == 0, f"{bad} series wrong")
    if got:
        rid, vals, _ = got[0]
        full = C.series_values(n_points, seed=1000 + ids.index(rid))
        res.check(f"{label}: values are original points", set(np.asarray(vals, dtype=float).tolist())
                  <= set(full.tolist()), "values not in the series written")


# ------------------------------------------------------------------------------------------------------------------
# 9: bytes on disk


def w9(res, p, workdir, args):
    """Bytes on disk: the default path (capture on: the environment artifact is part of what a run stores) → the
    plain figures, capture off → ``…_off``."""
    n_points, n_runs = int(p["n_points"]), int(p["n_runs"])
    vals = C.series_values(n_points).tolist()
    for capture, suffix in ((True, ""), (False, "_off")):
        # points: the procedure of workload 1
        d = workdir / f"store-points{suffix}"
        mlt = _mlt(d)
        mlt.flush()
        C.sqlite_checkpoint(_db(d))
        base = C.dir_size(d)
        run = mlt.start_run("w9", project=PROJECT, **_capture_kw(capture))
        for i, v in enumerate(vals):
            run.log_metric("loss", v, step=i)
        run.end()
        mlt.flush()
        C.sqlite_checkpoint(_db(d))
        size = C.dir_size(d)
        res.fig("bytes_per_point" + suffix, (size - base) / n_points)
        res.info.update({f"points_store_bytes{suffix}": size, f"points_empty_store_bytes{suffix}": base,
                         "n_points": n_points})
        s = _store(d).get_series(run.id, "loss")
        res.check_equal(f"points stored{suffix}", len(s["points"]), n_points)
        # runs: the procedure of workload 4
        d = workdir / f"store-runs{suffix}"
        mlt = _mlt(d)
        mlt.flush()
        C.sqlite_checkpoint(_db(d))
        base = C.dir_size(d)
        ids, rvals = _small_runs(mlt, n_runs, capture_environment=capture)
        C.sqlite_checkpoint(_db(d))
        size = C.dir_size(d)
        res.fig("bytes_per_run" + suffix, (size - base) / n_runs)
        res.info.update({f"runs_store_bytes{suffix}": size, f"runs_empty_store_bytes{suffix}": base,
                         "n_runs": n_runs})
        _check_small_runs(res, _store(d), ids, rvals)


# ------------------------------------------------------------------------------------------------------------------
# 10: import time, peak memory


def w10(res, p, workdir, args):
    C.import_and_memory(res, p, workdir, __file__, "jupyter_mltrack", "start_run")
    # the same child with environment capture off: row 10b's capture-off twin
    child = C.run_child(__file__, "10mem", {"n": int(p["mem_n"]), "capture": 0}, workdir / "mem-off")
    res.checks += child["checks"]
    res.info["mem_child_off"] = child["info"]
    res.fig("peak_mb_off", child["figures"].get("peak_mb"))


def w10mem(res, p, workdir, args):
    """Child: log ``n`` points with per-call log_metric, flush, report the peak RSS of this process (the run on the
    default path, capturing its environment, unless ``capture`` is 0)."""
    n = int(p["n"])
    mlt = _mlt(workdir / "store")
    run = mlt.start_run("w10", project=PROJECT, **_capture_kw(bool(int(p.get("capture", 1)))))
    mlt.flush()
    res.info["rss_before_mb"] = C.max_rss_mb()
    log = run.log_metric
    t0 = perf()
    for i in range(n):
        log("loss", i * 1e-3, step=i)
    run.end()
    mlt.flush()
    res.info["seconds"] = perf() - t0
    res.fig("peak_mb", C.max_rss_mb())
    s = _store(workdir / "store").get_series(run.id, "loss")
    res.check_equal(f"{n} points stored", len(s["points"]), n)


if __name__ == "__main__":
    from ours_default import w11, w12, w13

    C.main({"1": w1, "2": w2, "3": w3, "4": w4, "5": w5, "6": w6, "7": w7, "8": w8, "9": w9, "10": w10,
            "10mem": w10mem, "11": w11, "12": w12, "13": w13}, "ours")
