"""MLflow adapter: runs inside bench/.envs/mlflow (pip ``mlflow``).

Local store: a fresh SQLite database (``sqlite:///<temp>/mlflow.db`` — MLflow's database backend, the closest to
ours). Remote: ``mlflow server`` from the same venv on a free port with a temp SQLite backend, one worker.
The read workloads are populated through MLflow's own SQLAlchemy table definitions (bulk inserts of the rows its
``log_batch`` would write), because logging 10k runs or 1M points through its API takes many minutes; the checks
read everything back through MLflow's public API.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
import warnings
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

perf = C.perf
EXP = "bench"


def _quiet():
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _uri(db) -> str:
    return f"sqlite:///{Path(db).resolve()}"


def _client(db, workdir):
    import mlflow
    from mlflow import MlflowClient

    _quiet()
    uri = _uri(db)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(EXP)
    exp_id = exp.experiment_id if exp else client.create_experiment(EXP, artifact_location=str(workdir / "artifacts"))
    return client, exp_id


def _history(client, run_id, key):
    h = client.get_metric_history(run_id, key)
    steps = np.array([m.step for m in h], dtype=np.int64)
    vals = np.array([m.value for m in h], dtype=np.float64)
    order = np.argsort(steps, kind="stable")
    return steps[order], vals[order]


def _version(res):
    import mlflow

    res.info["mlflow_version"] = mlflow.__version__


# ------------------------------------------------------------------------------------------------------------------
# 1: per-call log_metric (synchronous: each call is one committed transaction)


def w1(res, p, workdir, args):
    import mlflow

    n, n_async = int(p["n"]), int(p.get("n_async", 0))
    client, exp_id = _client(workdir / "mlflow.db", workdir)
    _version(res)
    vals = C.series_values(n).tolist()
    rid = client.create_run(exp_id, run_name="w1").info.run_id
    log = client.log_metric
    t0 = perf()
    for i, v in enumerate(vals):
        log(rid, "loss", v, step=i)
    t = perf() - t0
    res.fig("rate", n / t)
    res.info.update(n=n, total_s=t)
    client.set_terminated(rid)
    steps, got = _history(client, rid, "loss")
    C.compare_series(res, "read back", steps, got, vals)
    res.note(f"MLflow: per-call MlflowClient.log_metric (synchronous, its default) on {n:,} points")
    if n_async:
        # MLflow's optional asynchronous logging: queued, batched in a background thread, then flushed
        vals_a = C.series_values(n_async, seed=5).tolist()
        with mlflow.start_run(experiment_id=exp_id, run_name="w1-async") as run:
            t0 = perf()
            for i, v in enumerate(vals_a):
                mlflow.log_metric("loss", v, step=i, synchronous=False)
            mlflow.flush_async_logging()
            t = perf() - t0
        res.fig("rate_async", n_async / t)
        steps, got = _history(client, run.info.run_id, "loss")
        C.compare_series(res, "read back (async)", steps, got, vals_a)


# ------------------------------------------------------------------------------------------------------------------
# 2: log_batch (at most 1,000 metrics per call — MLflow's limit)


def _log_batches(client, rid, vals, per=1000, key="loss"):
    from mlflow.entities import Metric

    n = len(vals)
    lv = vals.tolist()
    for b in range(0, n, per):
        now = int(time.time() * 1000)
        client.log_batch(rid, metrics=[Metric(key, lv[i], now, i) for i in range(b, min(b + per, n))])


def w2(res, p, workdir, args):
    n = int(p["n"])
    client, exp_id = _client(workdir / "mlflow.db", workdir)
    _version(res)
    vals = C.series_values(n)
    rid = client.create_run(exp_id, run_name="w2").info.run_id
    t0 = perf()
    _log_batches(client, rid, vals)
    t = perf() - t0
    res.fig("rate", n / t)
    res.info.update(n=n, total_s=t)
    steps, got = _history(client, rid, "loss")
    C.compare_series(res, "read back", steps, got, vals)
    res.note(f"MLflow: MlflowClient.log_batch, 1,000 metrics per call (its maximum), on {n:,} points")


# ------------------------------------------------------------------------------------------------------------------
# 3: over HTTP to `mlflow server`


def w3(res, p, workdir, args):
    from mlflow import MlflowClient

    _quiet()
    n, k = int(p["n"]), int(p["latency_requests"])
    port = C.free_port()
    db = workdir / "server.db"
    cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", _uri(db),
           "--default-artifact-root", str(workdir / "server-artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]
    proc = C.start_server(cmd, workdir / "mlflow-server.log", cwd=workdir)
    try:
        res.info["server_startup_s"] = C.wait_http(f"http://127.0.0.1:{port}/health", proc=proc, timeout=180)
        _version(res)
        client = MlflowClient(f"http://127.0.0.1:{port}")
        exp_id = client.create_experiment(EXP)
        rid = client.create_run(exp_id, run_name="w3").info.run_id
        vals = C.series_values(n)
        t0 = perf()
        _log_batches(client, rid, vals)
        t = perf() - t0
        res.fig("rate", n / t)
        warm = 10
        lat = []
        for i in range(warm + k):
            t1 = perf()
            client.log_metric(rid, "lat", i * 0.5, step=i)
            dt = perf() - t1
            if i >= warm:
                lat.append(dt)
        res.fig("latency_ms", C.percentile(lat, 50) * 1e3)
        res.info.update(n=n, latency_requests=k, latency_p95_ms=C.percentile(lat, 95) * 1e3,
                        latency_p99_ms=C.percentile(lat, 99) * 1e3)
        steps, got = _history(client, rid, "loss")
        C.compare_series(res, "read back over HTTP (batched)", steps, got, vals)
        steps, got = _history(client, rid, "lat")
        C.compare_series(res, "read back over HTTP (single-point)", steps, got, np.arange(warm + k) * 0.5)
        res.note(f"MLflow: `mlflow server --workers 1` (SQLite backend); batched = log_batch of 1,000 over HTTP on "
                 f"{n:,} points; latency = MlflowClient.log_metric of one point")
    finally:
        C.stop_process(proc)


# ------------------------------------------------------------------------------------------------------------------
# 4: many small runs


def _small_runs(client, exp_id, n, n_points=5):
    from mlflow.entities import Metric, Param

    rng = np.random.default_rng(3)
    vals = rng.random((n, n_points))
    ids = []
    for i in range(n):
        rid = client.create_run(exp_id, run_name=f"r{i:05d}").info.run_id
        now = int(time.time() * 1000)
        row = vals[i].tolist()
        client.log_batch(rid, metrics=[Metric("m", row[j], now, j) for j in range(n_points)],
                         params=[Param(k, str(v)) for k, v in C.small_run_params(i).items()])
        client.set_terminated(rid)
        ids.append(rid)
    return ids, vals


def _check_small_runs(res, client, exp_id, ids, vals):
    runs = client.search_runs([exp_id], max_results=50000)
    res.check_equal("runs stored", len(runs), len(ids))
    by_id = {r.info.run_id: r for r in runs}
    bad_p = bad_m = 0
    n_params = 0
    for i, rid in enumerate(ids):
        r = by_id.get(rid)
        if r is None:
            continue
        n_params += len(r.data.params)
        if r.data.params != {k: str(v) for k, v in C.small_run_params(i).items()}:
            bad_p += 1
        if r.data.metrics.get("m") != float(vals[i, -1]):
            bad_m += 1
    res.check_equal("params stored", n_params, len(ids) * 10)
    res.check("param values", bad_p == 0, f"{bad_p} runs with wrong params")
    res.check("last metric values", bad_m == 0, f"{bad_m} runs with a wrong last value")
    for rid in ids[:20]:  # points of a sample (a history call per run)
        if len(client.get_metric_history(rid, "m")) != vals.shape[1]:
            res.check("metric points (sample of 20 runs)", False, f"run {rid}")
            break
    else:
        res.check("metric points (sample of 20 runs)", True)


def w4(res, p, workdir, args):
    n = int(p["n"])
    client, exp_id = _client(workdir / "mlflow.db", workdir)
    _version(res)
    t0 = perf()
    ids, vals = _small_runs(client, exp_id, n)
    t = perf() - t0
    res.fig("seconds", t * 1000 / n)
    res.info.update(n=n, seconds_measured=t)
    if n != 1000:
        res.info["scaled"] = {"seconds": f"measured on {n:,} runs ({t:.2f} s), ×{1000 / n:g} linearly"}
    res.note(f"MLflow: per run create_run + one log_batch (10 params, 5 points) + set_terminated — its fastest "
             f"path — on {n:,} runs")
    _check_small_runs(res, client, exp_id, ids, vals)
    # its default path (row 4d): the fluent API as its docs show it, on a fresh database
    import mlflow

    client, exp_id = _client(workdir / "mlflow-fluent.db", workdir / "fluent")
    rng = np.random.default_rng(3)
    vals = rng.random((n, 5))
    ids = []
    t0 = perf()
    for i in range(n):
        with mlflow.start_run(run_name=f"r{i:05d}", experiment_id=exp_id) as run:
            mlflow.log_params(C.small_run_params(i))
            row = vals[i].tolist()
            for j in range(5):
                mlflow.log_metric("m", row[j], step=j)
        ids.append(run.info.run_id)
    t = perf() - t0
    res.fig("seconds_default", t * 1000 / n)
    res.info.update(seconds_default_measured=t)
    if n != 1000:
        res.info.setdefault("scaled", {})["seconds_default"] = (f"measured on {n:,} runs ({t:.2f} s), ×{1000 / n:g} "
                                                                "linearly")
    res.note(f"MLflow, 4d: its fluent API (`with mlflow.start_run()`, `log_params`, 5× `log_metric`; synchronous, its "
             f"default) on {n:,} runs")
    _check_small_runs(res, client, exp_id, ids, vals)


# ------------------------------------------------------------------------------------------------------------------
# populating through MLflow's own table definitions


def _bulk():
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag

    return SqlRun.__table__, SqlParam.__table__, SqlMetric.__table__, SqlLatestMetric.__table__, SqlTag.__table__


def _insert_runs(db, workdir, runs_spec):
    """runs_spec: list of (name, params dict, {metric: (steps, values)}) → run ids. One transaction."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    client, exp_id = _client(db, workdir)
    store = SqlAlchemyStore(_uri(db), str(workdir / "artifacts"))
    t_run, t_param, t_metric, t_latest, t_tag = _bulk()
    now = int(time.time() * 1000)
    runs, params, metrics, latest, tags, ids = [], [], [], [], [], []
    for name, prm, mets in runs_spec:
        rid = uuid.uuid4().hex
        ids.append(rid)
        runs.append(dict(run_uuid=rid, name=name, source_type="UNKNOWN", source_name="", entry_point_name="",
                         user_id="bench", status="FINISHED", start_time=now, end_time=now + 1000, deleted_time=None,
                         source_version="", lifecycle_stage="active",
                         artifact_uri=str(workdir / "artifacts" / rid / "artifacts"), experiment_id=int(exp_id)))
        tags.append(dict(key="mlflow.runName", value=name, run_uuid=rid))
        params += [dict(key=k, value=str(v), run_uuid=rid) for k, v in prm.items()]
        for key, (steps, vals) in mets.items():
            sl, vl = steps.tolist(), vals.tolist()
            metrics += [dict(key=key, value=v, timestamp=now, step=s, is_nan=False, run_uuid=rid)
                        for s, v in zip(sl, vl)]
            latest.append(dict(key=key, value=vl[-1], timestamp=now, step=sl[-1], is_nan=False, run_uuid=rid))
    with store.ManagedSessionMaker() as session:
        conn = session.connection()
        for table, rows in ((t_run, runs), (t_tag, tags), (t_param, params), (t_latest, latest)):
            if rows:
                conn.execute(table.insert(), rows)
        for b in range(0, len(metrics), 200_000):
            conn.execute(t_metric.insert(), metrics[b:b + 200_000])
    return exp_id, ids


def _populate_runs(res, p, store_dir, workdir):
    data = C.run_table_data(int(p["n"]))
    Path(store_dir).mkdir(parents=True, exist_ok=True)
    t0 = perf()
    z = np.zeros(1, dtype=np.int64)
    spec = [(r["name"], r["params"], {k: (z, np.array([v])) for k, v in r["metrics"].items()}) for r in data["runs"]]
    _insert_runs(Path(store_dir) / "mlflow.db", workdir, spec)
    res.info["populate_s"] = perf() - t0


def _open_copy(args, workdir):
    d = C.copy_store(args.store, workdir / "store")
    client, exp_id = _client(d / "mlflow.db", workdir)
    return d, client, exp_id


def w5(res, p, workdir, args):
    if args.phase == "populate":
        return _populate_runs(res, p, args.store, workdir)
    import mlflow

    _version(res)
    data = C.run_table_data(int(p["n"]))
    _d, client, exp_id = _open_copy(args, workdir)
    t, df, d = C.time_read(lambda: mlflow.search_runs(experiment_ids=[exp_id], max_results=100_000))
    res.fig("df_ms", t * 1e3)
    res.info["df"] = d
    _check_table(res, df, data)
    res.note("MLflow: mlflow.search_runs → DataFrame (params as strings, as MLflow stores them)")


def _check_table(res, df, data):
    runs = data["runs"]
    res.check_equal("search_runs: rows", len(df), len(runs))
    pcols = [c for c in df.columns if c.startswith("params.")]
    mcols = [c for c in df.columns if c.startswith("metrics.")]
    res.check_equal("search_runs: param/metric columns", (len(pcols), len(mcols)),
                    (len(runs[0]["params"]), len(runs[0]["metrics"])))
    want = {r["name"]: r for r in runs}
    names = df["tags.mlflow.runName"].tolist()
    cols = {c: df[c].tolist() for c in pcols + mcols}
    bad = 0
    for j, name in enumerate(names):
        r = want.get(name)
        if r is None or any(cols.get("params." + k, [None] * len(names))[j] != str(v) for k, v in r["params"].items()) \
                or any(cols.get("metrics." + k, [None] * len(names))[j] != v for k, v in r["metrics"].items()):
            bad += 1
    res.check("search_runs: values", bad == 0, f"{bad} rows differ from what was written")


FILTER = "metrics.acc > 0.5 and params.optimizer = 'adam'"


def w6(res, p, workdir, args):
    if args.phase == "populate":
        return _populate_runs(res, p, args.store, workdir)
    import mlflow

    _version(res)
    data = C.run_table_data(int(p["n"]))
    _d, client, exp_id = _open_copy(args, workdir)
    t, df, d = C.time_read(lambda: mlflow.search_runs(experiment_ids=[exp_id], filter_string=FILTER,
                                                      max_results=100_000))
    res.fig("ms", t * 1e3)
    res.info["search"] = d
    res.check_equal("filter result count", len(df), data["filter_expected"])
    wanted = {r["name"] for r in data["runs"] if r["params"]["optimizer"] == "adam" and r["metrics"]["acc"] > 0.5}
    res.check("filter result runs", set(df["tags.mlflow.runName"]) == wanted, "the runs found differ")


# ------------------------------------------------------------------------------------------------------------------
# 7: series reads


def w7(res, p, workdir, args):
    n_small, n_big, mp = int(p["n_small"]), int(p["n_big"]), int(p["max_points"])
    small, big = C.series_values(n_small, seed=11), C.series_values(n_big, seed=12)
    if args.phase == "populate":
        Path(args.store).mkdir(parents=True, exist_ok=True)
        t0 = perf()
        _insert_runs(Path(args.store) / "mlflow.db", workdir, [("w7", {}, {
            "s_small": (np.arange(n_small), small), "s_big": (np.arange(n_big), big)})])
        res.info["populate_s"] = perf() - t0
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    _version(res)
    d, client, exp_id = _open_copy(args, workdir)
    rid = client.search_runs([exp_id])[0].info.run_id
    store = SqlAlchemyStore(_uri(d / "mlflow.db"), str(workdir / "artifacts"))
    t, out, dd = C.time_read(lambda: _history(client, rid, "s_small"))
    res.fig("small_ms", t * 1e3)
    res.info["small"] = dd
    C.compare_series(res, f"{n_small}-point series", out[0], out[1], small)
    # MLflow's sampled read (store level; what its UI's chart endpoint calls): even sampling in SQL
    t, out, dd = C.time_read(lambda: store.get_metric_history_bulk_interval([rid], "s_big", mp, None, None))
    res.fig("big_down_ms", t * 1e3)
    res.info["big_down"] = dd
    steps = np.array([m.step for m in out], dtype=np.int64)
    vals = np.array([m.value for m in out], dtype=np.float64)
    res.check(f"sampled series: ≤ {mp} points", 0 < len(vals) <= mp, f"{len(vals)} points")
    res.check("sampled series: points are original points", bool(len(steps)) and np.array_equal(big[steps], vals),
              "a sampled point is not one of the series")
    res.info["big_down_global_extremes_kept"] = bool(len(vals)) and vals.max() == big.max() and vals.min() == big.min()
    t, out, dd = C.time_read(lambda: _history(client, rid, "s_big"))
    res.fig("big_full_ms", t * 1e3)
    res.info["big_full"] = dd
    C.compare_series(res, f"{n_big}-point series in full", out[0], out[1], big)
    res.note("MLflow: MlflowClient.get_metric_history has no downsampling (it returns every point); the "
             "downsampled row uses the store-level get_metric_history_bulk_interval (even sampling in SQL, what its "
             "UI's chart endpoint uses)")
    res.info.update(n_small=n_small, n_big=n_big, max_points=mp)


# ------------------------------------------------------------------------------------------------------------------
# 8: one metric of many runs


def w8(res, p, workdir, args):
    n_runs, n_points, mp = int(p["n_runs"]), int(p["n_points"]), int(p["max_points"])
    if args.phase == "populate":
        Path(args.store).mkdir(parents=True, exist_ok=True)
        t0 = perf()
        steps = np.arange(n_points)
        _insert_runs(Path(args.store) / "mlflow.db", workdir, [
            (f"ov{i:05d}", {}, {"loss": (steps, C.series_values(n_points, seed=1000 + i))}) for i in range(n_runs)])
        res.info["populate_s"] = perf() - t0
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    _version(res)
    d, client, exp_id = _open_copy(args, workdir)
    runs = client.search_runs([exp_id], max_results=50000)
    ids = [r.info.run_id for r in runs]
    names = {r.info.run_id: r.data.tags["mlflow.runName"] for r in runs}
    store = SqlAlchemyStore(_uri(d / "mlflow.db"), str(workdir / "artifacts"))
    t, out, dd = C.time_read(lambda: store.get_metric_history_bulk_interval(ids, "loss", mp, None, None))
    res.fig("many_ms", t * 1e3)
    res.info["many"] = dd
    by_run = {}
    for m in out:
        by_run.setdefault(m.run_id, []).append(m.value)
    res.check_equal("bulk_interval: series", len(by_run), n_runs)
    res.check("bulk_interval: each ≤ max points", all(0 < len(v) <= mp for v in by_run.values()), "")
    rid0 = ids[0]
    full = C.series_values(n_points, seed=1000 + int(names[rid0][2:]))
    res.check("bulk_interval: values are original points", set(by_run.get(rid0, [])) <= set(full.tolist()), "")
    t, out, dd = C.time_read(lambda: [client.get_metric_history(r, "loss") for r in ids])
    res.fig("loop_ms", t * 1e3)
    res.info["loop"] = dd
    res.check("get_metric_history loop: all points", all(len(h) == n_points for h in out), "")
    res.note("MLflow: overlay = store-level get_metric_history_bulk_interval over all run ids (sampled); the loop "
             "row = MlflowClient.get_metric_history per run (every point, no downsampling)")
    if n_runs != 1000:
        res.info["scaled"] = {k: f"measured on {n_runs:,} runs, ×{1000 / n_runs:g} linearly" for k in
                              ("many_ms", "loop_ms")}
        for k in ("many_ms", "loop_ms"):
            res.figures[k] *= 1000 / n_runs
    res.info.update(n_runs=n_runs, n_points=n_points, max_points=mp)


# ------------------------------------------------------------------------------------------------------------------
# 9: bytes on disk


def w9(res, p, workdir, args):
    n_points, n_runs = int(p["n_points"]), int(p["n_runs"])
    db = workdir / "points" / "mlflow.db"
    db.parent.mkdir(parents=True)
    client, exp_id = _client(db, workdir / "points")
    _version(res)
    rid = client.create_run(exp_id, run_name="w9").info.run_id
    C.sqlite_checkpoint(db)
    base = C.dir_size(db.parent)
    vals = C.series_values(n_points)
    _log_batches(client, rid, vals)
    C.sqlite_checkpoint(db)
    size = C.dir_size(db.parent)
    res.fig("bytes_per_point", (size - base) / n_points)
    res.info.update(points_store_bytes=size, points_empty_store_bytes=base, n_points=n_points)
    res.check_equal("points stored", len(client.get_metric_history(rid, "loss")), n_points)
    db = workdir / "runs" / "mlflow.db"
    db.parent.mkdir(parents=True)
    client, exp_id = _client(db, workdir / "runs")
    C.sqlite_checkpoint(db)
    base = C.dir_size(db.parent)
    ids, vals = _small_runs(client, exp_id, n_runs)
    C.sqlite_checkpoint(db)
    size = C.dir_size(db.parent)
    res.fig("bytes_per_run", (size - base) / n_runs)
    res.info.update(runs_store_bytes=size, runs_empty_store_bytes=base, n_runs=n_runs)
    _check_small_runs(res, client, exp_id, ids, vals)
    res.note(f"MLflow: size of its SQLite database (WAL checkpointed) minus the empty database; {n_points:,} points "
             f"logged with log_batch, {n_runs:,} runs as in workload 4")


# ------------------------------------------------------------------------------------------------------------------
# 10: import time, peak memory


def w10(res, p, workdir, args):
    env = dict(os.environ)
    C.import_and_memory(res, p, workdir, __file__, "mlflow", "start_run", env=env)
    res.note(f"MLflow: peak memory while logging {int(p['mem_n']):,} points with log_batch (1,000 per call) — "
             f"scaled down from 10M (it logs ~10k points/s)")


def w10mem(res, p, workdir, args):
    n = int(p["n"])
    client, exp_id = _client(workdir / "mlflow.db", workdir)
    rid = client.create_run(exp_id, run_name="w10").info.run_id
    res.info["rss_before_mb"] = C.max_rss_mb()
    t0 = perf()
    _log_batches(client, rid, np.arange(n) * 1e-3)
    res.info["seconds"] = perf() - t0
    res.fig("peak_mb", C.max_rss_mb())
    res.check_equal(f"{n} points stored", len(client.get_metric_history(rid, "loss")), n)


if __name__ == "__main__":
    C.main({"1": w1, "2": w2, "3": w3, "4": w4, "5": w5, "6": w6, "7": w7, "8": w8, "9": w9, "10": w10,
            "10mem": w10mem}, "mlflow")
