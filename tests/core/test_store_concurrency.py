"""Several real processes on one store (a SQLite file, a PostgreSQL database): no lost write, no 'database is
locked', whole batches only."""

from __future__ import annotations

import json
import math
import time

import pytest

from jupyter_mltrack.core import migrate
from jupyter_mltrack.core.series import CHUNK_POINTS
from jupyter_mltrack.core.store import Store

from ._helpers import sql

WRITER = """
    import json, os, sys, time
    store_dir, w, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    from jupyter_mltrack.core.store import Store
    s = Store(store_dir)
    open(f"{go}.ready-w{w}", "w").close()  # the barrier: ready, then wait for everyone
    parent = os.getppid()
    while not os.path.exists(go):
        if os.getppid() != parent:  # the test was killed: do not spin for ever
            sys.exit(3)
        time.sleep(0.001)
    start = time.time()
    for b in range(n):
        rid = f"w{w}b{b}"
        s.write_batch({
            "runs": [{"id": rid, "project": "P", "experiments": ["E", f"E{w}"], "campaigns": ["C"]}],
            "params": [{"run_id": rid, "key": "w", "value": w}, {"run_id": rid, "key": "b", "value": b},
                       {"run_id": "shared", "key": f"p{w}_{b}", "value": b}],
            "tags": [{"run_id": rid, "key": "t", "value": f"{w}-{b}"},
                     {"run_id": "shared", "key": f"w{w}", "value": str(b)}],
            "metrics": [
                {"run_id": rid, "name": "m", "values": [w, b, w * b]},
                {"run_id": "shared", "name": "s", "steps": list(range(w * 100_000 + b * 10, w * 100_000 + b * 10 + 10)),
                 "values": [float(w)] * 10},
                {"run_id": "shared", "name": f"own{w}", "steps": list(range(b * 10, b * 10 + 10)),
                 "values": [float(b)] * 10},
            ],
            "heartbeat": ["shared"],
        })
    print(json.dumps({"wrote": n, "start": start, "end": time.time()}))
"""

READER = """
    import json, os, sys, time
    store_dir, stop, ready = sys.argv[1], sys.argv[2], sys.argv[3]
    from jupyter_mltrack.core.store import Store
    s = Store(store_dir)
    checks, errors, seen, counts = 0, [], 0, []
    def check():
        global checks, seen
        runs, total = s.search_runs(project="P")
        if total != len(runs):
            errors.append(f"total {total} != {len(runs)}")
        for r in runs:
            if r["id"] == "shared":
                m = {x["key"]: x for x in r["metrics"]}
                n_params = len(r["params"])
                n_points = m["s"]["count"] if "s" in m else 0
                if n_points != 10 * n_params:  # each batch adds one param and ten points, together
                    errors.append(f"summary: {n_params} params but {n_points} points")
                continue
            w, b = int(r["id"][1]), int(r["id"].split("b")[1])
            if r["params"] != {"w": w, "b": b} or r["tags"] != {"t": f"{w}-{b}"}:
                errors.append(f"partial run {r['id']}: {r['params']} {r['tags']}")
            if [x["count"] for x in r["metrics"]] != [3] or r["experiments"] != sorted(["E", f"E{w}"]):
                errors.append(f"partial run {r['id']}: {r['metrics']} {r['experiments']}")
        seen = max(seen, len(runs))
        counts.append(len(runs))
        run = s.get_run("shared")
        m = {x["key"]: x for x in run["metrics"]}
        if "s" in m and m["s"]["count"] != 10 * len(run["params"]):
            errors.append("get_run: params and points disagree")
        if "s" in m:
            g = s.get_series("shared", "s")
            steps = g["points"].steps.tolist()
            if g["total_count"] % 10 or len(set(steps)) != len(steps) or steps != sorted(steps):
                errors.append(f"series: {g['total_count']} points")
        checks += 1
    check()
    open(ready, "w").close()  # reading already: the writers may start
    while not os.path.exists(stop):
        check()
    check()
    print(json.dumps({"checks": checks, "errors": errors[:20], "seen": seen, "counts": counts}))
"""


def _go(tmp_path):
    return tmp_path / "go"


def _start_together(go, names, procs, timeout=120):
    """The start barrier: wait until every process has said it is ready (``go.ready-<name>``), then let them go."""
    deadline = time.monotonic() + timeout
    while not all(go.with_name(f"{go.name}.ready-{n}").exists() for n in names):
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, [p.communicate() for p in dead]
        assert time.monotonic() < deadline, "the processes did not get ready"
        time.sleep(0.01)
    go.touch()


def _overlapped(spans) -> bool:
    """Every worker started before any finished: they all ran at the same time."""
    return max(s for s, _ in spans) < min(e for _, e in spans)


def _wait_all(procs, timeout=120):
    deadline = time.monotonic() + timeout
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
        outs.append((p.returncode, out, err))
    return outs


def test_concurrent_writer_processes_lose_nothing(store_uri, tmp_path, spawn_py):
    W, N = 4, 50
    s = Store(store_uri)
    s.write_batch({"runs": [{"id": "shared", "project": "P"}]})
    go = _go(tmp_path)
    procs = [spawn_py(WRITER, store_uri, w, N, go) for w in range(W)]
    _start_together(go, [f"w{w}" for w in range(W)], procs)
    spans = []
    for rc, out, err in _wait_all(procs):
        assert rc == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err, err
        done = json.loads(out)
        assert done["wrote"] == N
        spans.append((done["start"], done["end"]))
    assert _overlapped(spans), spans

    try:
        # every run, param, tag and point is there, exactly once
        assert sql(s, "SELECT count(*) FROM runs")[0][0] == 1 + W * N
        runs, total = s.search_runs(project="P", experiment="E", campaign="C")
        assert total == W * N
        for r in runs:
            w, b = int(r["id"][1]), int(r["id"].split("b")[1])
            assert r["params"] == {"w": w, "b": b} and r["tags"] == {"t": f"{w}-{b}"}
            assert [(m["key"], m["count"], m["last"]) for m in r["metrics"]] == [("m", 3, float(w * b))]
        assert {e["name"]: e["run_count"] for e in s.list_experiments("P")} == {
            "E": W * N, **{f"E{w}": N for w in range(W)}}
        shared = s.get_run("shared")
        assert shared["params"] == {f"p{w}_{b}": b for w in range(W) for b in range(N)}
        assert shared["tags"] == {f"w{w}": str(N - 1) for w in range(W)}  # each worker's last upsert wins
        series = {m["key"]: m for m in shared["metrics"]}
        assert series["s"]["count"] == W * N * 10
        steps = s.get_series("shared", "s")["points"].steps.tolist()
        assert steps == sorted(w * 100_000 + i for w in range(W) for i in range(N * 10))
        for w in range(W):
            p = s.get_series("shared", f"own{w}")["points"]
            assert p.steps.tolist() == list(range(N * 10))
            assert p.values.tolist() == [float(i // 10) for i in range(N * 10)]
            assert series[f"own{w}"]["last"] == float(N - 1) and series[f"own{w}"]["count"] == N * 10
        # concurrent appends topped up one chunk instead of making one per batch
        chunks = sql(s, "SELECT s.name, count(*), sum(c.count), max(s.chunks) FROM metric_chunks c JOIN metric_series s "
                        "ON s.id = c.series_id WHERE s.run_id = 'shared' GROUP BY s.name")
        for name, n_chunks, n_points, recorded in chunks:
            assert n_chunks == recorded == math.ceil(n_points / CHUNK_POINTS), name
        # the denormalised summary agrees with the normalised tables
        listed = next(r for r in s.search_runs(filter="id = 'shared'")[0])
        assert listed["params"] == shared["params"] and listed["tags"] == shared["tags"]
        assert {m["key"]: m["count"] for m in listed["metrics"]} == {k: v["count"] for k, v in series.items()}
    finally:
        s.close()


def test_readers_during_writes_see_whole_batches(store_uri, tmp_path, spawn_py):
    W, N = 2, 40
    s = Store(store_uri)
    s.write_batch({"runs": [{"id": "shared", "project": "P"}]})
    go, stop = _go(tmp_path), tmp_path / "stop"
    reader = spawn_py(READER, store_uri, stop, f"{go}.ready-reader")
    writers = [spawn_py(WRITER, store_uri, w, N, go) for w in range(W)]
    spans = []
    try:
        _start_together(go, ["reader"] + [f"w{w}" for w in range(W)], [reader] + writers)
        for rc, out, err in _wait_all(writers):
            assert rc == 0 and "locked" not in err.lower(), err
            spans.append((json.loads(out)["start"], json.loads(out)["end"]))
    finally:
        stop.touch()
    (rc, out, err), = _wait_all([reader])
    assert rc == 0, err
    result = json.loads(out)
    assert result["errors"] == []
    assert _overlapped(spans), spans
    # the reader looked while the batches were arriving: it saw the store part-way, whole batches each time
    assert result["counts"][0] == 1 and any(1 < c < 1 + W * N for c in result["counts"]), result["counts"]
    assert result["checks"] == len(result["counts"])
    assert result["seen"] == 1 + W * N  # its last look saw everything
    s.close()


OPENER = """
    import json, os, sys, time
    w, go, dirs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    from jupyter_mltrack.core.store import Store
    open(f"{go}.ready-o{w}", "w").close()
    parent = os.getppid()
    while not os.path.exists(go):
        if os.getppid() != parent:  # the test was killed: do not spin for ever
            sys.exit(3)
        time.sleep(0.001)
    start = time.time()
    for d in dirs:
        s = Store(d)
        s.write_batch({"runs": [{"id": f"p{w}", "project": "Race"}], "params": [{"run_id": f"p{w}", "key": "w", "value": w}]})
        s.close()
    print(json.dumps({"start": start, "end": time.time()}))
"""


def test_processes_creating_a_new_store_at_the_same_moment(tmp_path, spawn_py):
    P, D = 4, 3
    dirs = [tmp_path / f"new{i}" for i in range(D)]  # do not exist yet
    go = _go(tmp_path)
    procs = [spawn_py(OPENER, w, go, *dirs) for w in range(P)]
    _start_together(go, [f"o{w}" for w in range(P)], procs)
    spans = []
    for rc, out, err in _wait_all(procs):
        assert rc == 0, err
        spans.append(tuple(json.loads(out).values()))
    assert _overlapped(spans), spans
    for d in dirs:
        s = Store(d, migrate=False)
        try:
            assert migrate.current_revision(s.engine) == migrate.HEAD
            assert sql(s, "SELECT count(*) FROM alembic_version")[0][0] == 1
            runs, total = s.search_runs()
            assert total == P and {r["params"]["w"] for r in runs} == set(range(P))
            assert [p["name"] for p in s.list_projects()] == ["Race"]
            assert sql(s, "PRAGMA journal_mode") == [("wal",)]
        finally:
            s.close()



def test_an_open_that_sqlite_refuses_for_a_moment_is_tried_again(tmp_path):
    """SQLite's "unable to open database file" while the folder exists (seen when processes create one store at
    the same moment) is tried again within about a second: here the file's place is taken by a folder for 0.1 s."""
    import shutil
    import threading

    folder = tmp_path / "store"
    (folder / "mltrack.db").mkdir(parents=True)
    timer = threading.Timer(0.1, shutil.rmtree, [folder / "mltrack.db"])
    timer.start()
    try:
        s = Store(folder)
        s.write_batch({"runs": [{"id": "r", "project": "P"}]})
        assert s.get_run("r")["project"] == "P"
        s.close()
    finally:
        timer.join()
    (tmp_path / "stuck" / "mltrack.db").mkdir(parents=True)  # for good: the error, after the tries
    t0 = time.monotonic()
    with pytest.raises(Exception, match="unable to open database file"):
        Store(tmp_path / "stuck")
    assert time.monotonic() - t0 < 5


def test_processes_migrating_a_new_postgresql_database_at_the_same_moment(pg_url, tmp_path, spawn_py):
    """The PostgreSQL form of the race above: processes opening one empty database at once create its schema once
    (the upgrade runs under an advisory lock) and every write lands."""
    P = 4
    go = _go(tmp_path)
    procs = [spawn_py(OPENER, w, go, pg_url) for w in range(P)]
    _start_together(go, [f"o{w}" for w in range(P)], procs)
    spans = []
    for rc, out, err in _wait_all(procs):
        assert rc == 0, err
        spans.append(tuple(json.loads(out).values()))
    assert _overlapped(spans), spans
    s = Store(pg_url, migrate=False)
    try:
        assert migrate.current_revision(s.engine) == migrate.HEAD
        assert sql(s, "SELECT count(*) FROM alembic_version")[0][0] == 1
        runs, total = s.search_runs()
        assert total == P and {r["params"]["w"] for r in runs} == set(range(P))
        assert [p["name"] for p in s.list_projects()] == ["Race"]
    finally:
        s.close()

THREADED_READS = """
    import sys, threading, time
    import numpy as np
    from jupyter_mltrack.core.store import Store
    s = Store(sys.argv[1])
    n = 5 * 8192 + 100
    s.write_batch({"runs": [{"id": "r"}], "metrics": [{"run_id": "r", "name": "m", "values": np.arange(n, dtype=float)}]})
    errors = []
    deadline = time.monotonic() + 1.5

    def read():
        while time.monotonic() < deadline and not errors:
            try:
                p = s.get_series("r", "m")["points"]
                if len(p) < n or p.values[n - 1] != n - 1:
                    errors.append("wrong points")
            except Exception as e:
                errors.append(repr(e))

    def write():
        i = n
        while time.monotonic() < deadline and not errors:
            s.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": [i], "values": [float(i)]}]})
            i += 1

    threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(errors[0] if errors else "ok")
"""


def test_threads_reading_series_while_another_writes(store_uri, run_py):
    r = run_py(THREADED_READS, store_uri, check=False)  # in a subprocess: the failure can be a segmentation fault
    assert (r.returncode, r.stdout.strip()) == (0, "ok"), r.stdout + r.stderr


def test_threads_sharing_one_store(store):
    """The Store is documented thread-safe: many threads writing through one instance lose nothing."""
    import threading

    store.write_batch({"runs": [{"id": "shared"}]})
    errors = []

    def work(t):
        try:
            for b in range(20):
                store.write_batch({"runs": [{"id": f"t{t}b{b}"}],
                                   "metrics": [{"run_id": "shared", "name": "m", "steps": [t * 1000 + b], "values": [1.0]}],
                                   "params": [{"run_id": f"t{t}b{b}", "key": "k", "value": b}]})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.search_runs()[1] == 1 + 6 * 20
    assert store.get_series("shared", "m")["total_count"] == 6 * 20
