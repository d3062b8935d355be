"""Aim adapter: runs inside bench/.envs/aim (pip ``aim``).

Local repository in a temp folder (``Run(repo=<temp>)``; RocksDB containers plus a SQLite index), system
metrics and terminal capture switched off so that only the tracking is measured. Aim has no bulk logging call and
no public lower-level store API, so everything is written through ``Run.track``; reads use ``Repo``/``Run``.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("AIM_UI_TELEMETRY_ENABLED", "0")
os.environ.setdefault("DO_NOT_TRACK", "true")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

perf = C.perf
EXP = "bench"


def _run(repo, name):
    from aim import Run

    logging.getLogger("aim").setLevel(logging.ERROR)
    r = Run(repo=str(repo), experiment=EXP, system_tracking_interval=None, log_system_params=False,
            capture_terminal_logs=False)
    r.name = name
    return r


def _repo(path):
    from aim import Repo

    return Repo(str(path))


def index_repo(path) -> float:
    """Fold every run into the repository's index — what `aim up`'s indexing thread does in the background. Aim's
    readers (Repo.query_runs, get_run, query_metrics) see only indexed runs. Returns the seconds it took."""
    from aim.sdk.index_manager import RepoIndexManager

    t0 = perf()
    repo = _repo(path)
    mng = RepoIndexManager.get_index_manager(repo)
    chunks = Path(repo.path) / "meta" / "chunks"
    for h in sorted(os.listdir(chunks)):
        mng.index(h)
    return perf() - t0


def _series(repo, run_hash, name, sample=None):
    from aim.storage.context import Context

    m = repo.get_run(run_hash).get_metric(name, Context({}))
    data = m.data if sample is None else m.data.sample(sample)
    steps, cols = data.view("val").numpy()
    return np.asarray(steps, dtype=np.int64), np.asarray(cols[0], dtype=np.float64)


def _version(res):
    from importlib.metadata import version

    res.info["aim_version"] = version("aim")


# ------------------------------------------------------------------------------------------------------------------
# 1: per-call track until closed


def w1(res, p, workdir, args):
    n = int(p["n"])
    _version(res)
    repo = workdir / "repo"
    vals = C.series_values(n).tolist()
    run = _run(repo, "w1")
    track = run.track
    t0 = perf()
    for i, v in enumerate(vals):
        track(v, name="loss", step=i)
    run.close()  # finalizes and flushes the run
    t = perf() - t0
    res.fig("rate", n / t)
    res.info.update(n=n, total_s=t, index_s=index_repo(repo))
    steps, got = _series(_repo(repo), run.hash, "loss")
    C.compare_series(res, "read back", steps, got, vals)
    res.note(f"Aim: Run.track per point then Run.close(), on {n:,} points")
    res.note("Aim: runs become visible to its readers only once indexed (normally by `aim up` in the background); "
             "the benchmark indexes them before reading, untimed")


def w2(res, p, workdir, args):
    _version(res)
    res.note("Aim: no batch logging API (Run.track takes one value, or one value per name, per call): see workload 1")


def w3(res, p, workdir, args):
    _version(res)
    res.note("Aim: n/a — its remote tracking server (`aim server`, clients use `Run(repo='aim://host:port')`) is "
             "optional in the issue and was not benchmarked")


# ------------------------------------------------------------------------------------------------------------------
# 4: many small runs


def _small_runs(repo, n, n_points=5):
    rng = np.random.default_rng(3)
    vals = rng.random((n, n_points))
    hashes = []
    for i in range(n):
        run = _run(repo, f"r{i:05d}")
        run["hparams"] = C.small_run_params(i)
        row = vals[i].tolist()
        for j in range(n_points):
            run.track(row[j], name="m", step=j)
        run.close()
        hashes.append(run.hash)
    return hashes, vals


def _check_small_runs(res, repo_path, hashes, vals, ignore=()):
    repo = _repo(repo_path)
    got = {}
    for rc in repo.query_runs("", report_mode=0).iter_runs():
        r = rc.run
        if r.name in ignore:
            continue
        info = {x["name"]: x for x in r.collect_sequence_info("metric")["metric"]}
        got[r.hash] = (r.get("hparams") or {}, info.get("m"))
    res.check_equal("runs stored", len(got), len(hashes))
    bad_p = bad_m = 0
    n_params = 0
    for i, h in enumerate(hashes):
        prm, m = got.get(h, ({}, None))
        n_params += len(prm)
        if dict(prm) != C.small_run_params(i):
            bad_p += 1
        if m is None or m["values"]["last"] != float(vals[i, -1]) or m["values"]["last_step"] != vals.shape[1] - 1:
            bad_m += 1
    res.check_equal("params stored", n_params, len(hashes) * 10)
    res.check("param values", bad_p == 0, f"{bad_p} runs with wrong params")
    res.check("metric last values and steps", bad_m == 0, f"{bad_m} runs with a wrong series")


def w4(res, p, workdir, args):
    n = int(p["n"])
    _version(res)
    repo = workdir / "repo"
    _run(repo, "init").close()  # the repository exists before timing (as the other systems' stores do)
    t0 = perf()
    hashes, vals = _small_runs(repo, n)
    t = perf() - t0
    res.fig("seconds", t * 1000 / n)
    res.info.update(n=n, seconds_measured=t)
    if n != 1000:
        res.info["scaled"] = {"seconds": f"measured on {n:,} runs ({t:.2f} s), ×{1000 / n:g} linearly"}
    res.note(f"Aim: per run Run() + run['hparams'] = dict + 5× track + close, on {n:,} runs")
    res.info["index_s"] = index_repo(repo)
    _check_small_runs(res, repo, hashes, vals, ignore=("init",))


# ------------------------------------------------------------------------------------------------------------------
# 5, 6: the run table and a filtered search


def _populate_runs(res, p, store):
    n = int(p["n"])
    data = C.run_table_data(n)
    t0 = perf()
    for r in data["runs"]:
        run = _run(store, r["name"])
        run["hparams"] = r["params"]
        for k, v in r["metrics"].items():
            run.track(v, name=k, step=0)
        run.close()
    res.info["populate_s"] = perf() - t0
    res.info["index_s"] = index_repo(store)


def _table(repo):
    """Aim's run query → one row per run: props, hparams, last value of every metric → DataFrame."""
    import pandas as pd

    rows = []
    for rc in repo.query_runs("", report_mode=0).iter_runs():
        run = rc.run
        row = {"hash": run.hash, "name": run.name, "experiment": run.experiment, "creation_time": run.creation_time,
               "end_time": run.end_time}
        for k, v in (run.get("hparams") or {}).items():
            row["params." + k] = v
        for info in run.collect_sequence_info("metric")["metric"]:
            row["metrics." + info["name"]] = info["values"]["last"]
        rows.append(row)
    return pd.DataFrame(rows)


def w5(res, p, workdir, args):
    if args.phase == "populate":
        return _populate_runs(res, p, args.store)
    _version(res)
    n = int(p["n"])
    data = C.run_table_data(n)
    repo = _repo(C.copy_store(args.store, workdir / "store"))
    t, df, d = C.time_read(lambda: _table(repo))
    res.fig("df_ms", t * 1e3)
    res.info["df"] = d
    runs = data["runs"]
    res.check_equal("run table: rows", len(df), len(runs))
    want = {r["name"]: r for r in runs}
    pcols = [c for c in df.columns if c.startswith("params.")]
    mcols = [c for c in df.columns if c.startswith("metrics.")]
    res.check_equal("run table: param/metric columns", (len(pcols), len(mcols)),
                    (len(runs[0]["params"]), len(runs[0]["metrics"])))
    cols = {c: df[c].tolist() for c in pcols + mcols}
    bad = 0
    for j, name in enumerate(df["name"].tolist()):
        r = want.get(name)
        if r is None or any(cols.get("params." + k, [None] * len(df))[j] != v for k, v in r["params"].items()) \
                or any(cols.get("metrics." + k, [None] * len(df))[j] != v for k, v in r["metrics"].items()):
            bad += 1
    res.check("run table: values", bad == 0, f"{bad} rows differ from what was written")
    _scale(res, n, int(p.get("nominal", n)), ["df_ms"], "runs")
    res.note("Aim: Repo.query_runs('') and, per run, its hparams and collect_sequence_info (last values) → "
             "DataFrame")


def _scale(res, n, nominal, keys, what):
    if n == nominal:
        return
    res.info.setdefault("scaled", {})
    for k in keys:
        if res.figures.get(k) is not None:
            res.info["scaled"][k] = f"measured on {n:,} {what} ({res.figures[k]:.0f} ms), ×{nominal / n:g} linearly"
            res.figures[k] *= nominal / n


QUERY = "run.hparams.optimizer == 'adam' and run.metrics['acc'].last > 0.5"


def w6(res, p, workdir, args):
    if args.phase == "populate":
        return _populate_runs(res, p, args.store)
    _version(res)
    n = int(p["n"])
    data = C.run_table_data(n)
    repo = _repo(C.copy_store(args.store, workdir / "store"))

    def search():
        return [rc.run.name for rc in repo.query_runs(QUERY, report_mode=0).iter_runs()]

    t, names, d = C.time_read(search)
    res.fig("ms", t * 1e3)
    res.info["search"] = d
    res.check_equal("filter result count", len(names), data["filter_expected"])
    wanted = {r["name"] for r in data["runs"] if r["params"]["optimizer"] == "adam" and r["metrics"]["acc"] > 0.5}
    res.check("filter result runs", set(names) == wanted, "the runs found differ")
    _scale(res, n, int(p.get("nominal", n)), ["ms"], "runs")
    res.note(f"Aim: Repo.query_runs(\"{QUERY}\")")


# ------------------------------------------------------------------------------------------------------------------
# 7: series reads


def w7(res, p, workdir, args):
    n_small, n_big, mp = int(p["n_small"]), int(p["n_big"]), int(p["max_points"])
    nominal_big = int(p.get("nominal_big", n_big))
    small, big = C.series_values(n_small, seed=11), C.series_values(n_big, seed=12)
    if args.phase == "populate":
        t0 = perf()
        run = _run(args.store, "w7")
        for name, vals in (("s_small", small), ("s_big", big)):
            for i, v in enumerate(vals.tolist()):
                run.track(v, name=name, step=i)
        run.close()
        res.info["populate_s"] = perf() - t0
        res.info["index_s"] = index_repo(args.store)
        return
    _version(res)
    repo = _repo(C.copy_store(args.store, workdir / "store"))
    h = next(iter(repo.query_runs("", report_mode=0).iter_runs())).run.hash
    t, out, d = C.time_read(lambda: _series(repo, h, "s_small"))
    res.fig("small_ms", t * 1e3)
    res.info["small"] = d
    C.compare_series(res, f"{n_small}-point series", out[0], out[1], small)
    t, out, d = C.time_read(lambda: _series(repo, h, "s_big", sample=mp))
    res.fig("big_down_ms", t * 1e3)
    res.info["big_down"] = d
    steps, vals = out
    res.check(f"sampled series: ≤ {mp} points", 0 < len(vals) <= mp, f"{len(vals)} points")
    res.check("sampled series: points are original points", bool(len(steps)) and np.array_equal(big[steps], vals),
              "a sampled point is not one of the series")
    res.info["big_down_global_extremes_kept"] = bool(len(vals)) and vals.max() == big.max() and vals.min() == big.min()
    t, out, d = C.time_read(lambda: _series(repo, h, "s_big"))
    res.fig("big_full_ms", t * 1e3)
    res.info["big_full"] = d
    C.compare_series(res, f"{n_big}-point series in full", out[0], out[1], big)
    if n_big != nominal_big:
        # reading in full scales with the points; Aim's sample(k) reads k of them, whatever the length
        _scale(res, n_big, nominal_big, ["big_full_ms"], "points")
        res.note(f"Aim: the long series has {n_big:,} points instead of {nominal_big:,} (track logs ~7k points/s); "
                 "the full read is scaled linearly, the sampled read is not scaled")
    res.note("Aim: Metric.data.numpy() for full reads; Metric.data.sample(k) for the chart (its query API's "
             "sampling: the first k stored points in hash order, plus the last)")
    res.info.update(n_small=n_small, n_big=n_big, max_points=mp)


# ------------------------------------------------------------------------------------------------------------------
# 8: one metric of many runs


def w8(res, p, workdir, args):
    n_runs, n_points, mp = int(p["n_runs"]), int(p["n_points"]), int(p["max_points"])
    nominal = int(p.get("nominal_runs", n_runs))
    if args.phase == "populate":
        t0 = perf()
        for i in range(n_runs):
            run = _run(args.store, f"ov{i:05d}")
            for j, v in enumerate(C.series_values(n_points, seed=1000 + i).tolist()):
                run.track(v, name="loss", step=j)
            run.close()
        res.info["populate_s"] = perf() - t0
        res.info["index_s"] = index_repo(args.store)
        return
    _version(res)
    repo = _repo(C.copy_store(args.store, workdir / "store"))

    def overlay():
        out = []
        for m in repo.query_metrics("metric.name == 'loss'", report_mode=0):
            steps, cols = m.data.sample(mp).view("val").numpy()
            out.append((m.run.name, cols[0]))
        return out

    t, out, d = C.time_read(overlay)
    res.fig("many_ms", t * 1e3)
    res.info["many"] = d
    res.check_equal("query_metrics: series", len(out), n_runs)
    res.check("query_metrics: each ≤ max points", all(0 < len(v) <= mp for _, v in out), "")
    if out:
        name, vals = out[0]
        full = C.series_values(n_points, seed=1000 + int(name[2:]))
        res.check("query_metrics: values are original points", set(np.asarray(vals).tolist()) <= set(full.tolist()), "")
    _scale(res, n_runs, nominal, ["many_ms"], "runs")
    res.note("Aim: Repo.query_metrics(\"metric.name == 'loss'\") and Metric.data.sample(k) per run")
    res.info.update(n_runs=n_runs, n_points=n_points, max_points=mp)


# ------------------------------------------------------------------------------------------------------------------
# 9: bytes on disk


def w9(res, p, workdir, args):
    n_points, n_runs = int(p["n_points"]), int(p["n_runs"])
    _version(res)
    # points: a run with one point (baseline) vs the same with n points, each in its own repository
    ref, repo = workdir / "ref", workdir / "points"
    run = _run(ref, "w9")
    run.track(1.0, name="loss", step=0)
    run.close()
    base = C.dir_size(ref)
    run = _run(repo, "w9")
    for i, v in enumerate(C.series_values(n_points).tolist()):
        run.track(v, name="loss", step=i)
    run.close()
    size = C.dir_size(repo)
    res.fig("bytes_per_point", (size - base) / (n_points - 1))
    res.info.update(points_store_bytes=size, points_baseline_bytes=base, n_points=n_points)
    index_repo(repo)
    steps, vals = _series(_repo(repo), run.hash, "loss")
    res.check_equal("points stored", len(vals), n_points)
    # runs: one empty-ish run (baseline) vs n runs as in workload 4
    ref, repo = workdir / "ref-runs", workdir / "runs"
    _small_runs(ref, 1)
    base = C.dir_size(ref)
    hashes, vals = _small_runs(repo, n_runs)
    size = C.dir_size(repo)
    res.fig("bytes_per_run", (size - base) / (n_runs - 1))
    res.info.update(runs_store_bytes=size, runs_baseline_bytes=base, n_runs=n_runs)
    index_repo(repo)
    _check_small_runs(res, repo, hashes, vals)
    res.note(f"Aim: size of the repository folder (.aim: RocksDB + SQLite) minus a 1-point / 1-run repository; "
             f"{n_points:,} points, {n_runs:,} runs")


# ------------------------------------------------------------------------------------------------------------------
# 10: import time, peak memory


def w10(res, p, workdir, args):
    _version(res)
    C.import_and_memory(res, p, workdir, __file__, "aim", "Run")
    res.note(f"Aim: peak memory while tracking {int(p['mem_n']):,} points — scaled down from 10M "
             f"(track logs ~7k points/s)")


def w10mem(res, p, workdir, args):
    n = int(p["n"])
    run = _run(workdir / "repo", "w10")
    res.info["rss_before_mb"] = C.max_rss_mb()
    t0 = perf()
    for i in range(n):
        run.track(i * 1e-3, name="loss", step=i)
    run.close()
    res.info["seconds"] = perf() - t0
    res.fig("peak_mb", C.max_rss_mb())
    index_repo(workdir / "repo")
    steps, vals = _series(_repo(workdir / "repo"), run.hash, "loss")
    res.check_equal(f"{n} points stored", len(vals), n)


if __name__ == "__main__":
    C.main({"1": w1, "2": w2, "3": w3, "4": w4, "5": w5, "6": w6, "7": w7, "8": w8, "9": w9, "10": w10,
            "10mem": w10mem}, "aim")
