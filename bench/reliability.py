#!/usr/bin/env python3
"""Reliability figures of jupyter_mltrack, each from a real scenario (docs/benchmarks.md, "Reliability").

    .venv/bin/python bench/reliability.py                 # every scenario at full size (~6 min on 2 cores)
    .venv/bin/python bench/reliability.py --quick         # smaller sizes (~2 min)
    .venv/bin/python bench/reliability.py --only busy,kills

Scenarios (each on a fresh store in a temporary folder, real processes, a real `jupyter server`):

- writers:  W processes log P stepped points each into one embedded SQLite store at once → stored, doubled, missing.
- busy:     a kernel logs through the server (`MLTRACK_URI=http://…`) while another process holds the SQLite write
            lock for longer than the client's read timeout → every batch in that window is resent.
- restart:  the same, and the server is stopped with SIGTERM while its write thread waits on the lock, then started
            again; the client retries until it is back.
- kills:    K processes are killed with SIGKILL while logging 3 MB artifacts; then `mltrack gc` (grace 0) reclaims
            what they left, and every artifact of a run that finished still reads back.
- bad_inputs: the suite's hand-made bad requests → cases answered with a 4xx naming the field.
- fuzz:     schemathesis against the served OpenAPI document, every check on → cases, responses ≥ 500, failures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests._server import JupyterServer  # noqa: E402  (a real jupyter server in a subprocess)
from tests._subprocess import hold_write_lock, subprocess_env, write_script  # noqa: E402

PY = sys.executable

LOGGER = """
import json, os, time
import jupyter_mltrack as mlt
from jupyter_mltrack.client.tracking import get_client
n, pace = int(os.environ["POINTS"]), float(os.environ.get("PACE", "0"))
run = mlt.start_run(name=os.environ.get("NAME", "r"))
print("RUN", run.id, flush=True)
for i in range(n):
    run.log_metric("loss", float(i), step=i)
    if pace and i % 1000 == 999:
        time.sleep(pace)
run.end()
mlt.flush(timeout=900)
print("STATS", json.dumps(get_client().writer.stats), flush=True)
"""


ARTIFACTS = """
import os, time
import jupyter_mltrack as mlt
run = mlt.start_run(name="artifacts")  # the default path: the run captures its environment
i = 0
while True:  # killed from outside
    run.log_text(os.urandom(1_500_000).hex(), name=f"blob{i}", path=f"b{i}.txt")
    i += 1
    if i == 2:
        print("LOGGING", flush=True)
"""


def _points(db: str, run_id: str) -> tuple[int, int]:
    from jupyter_mltrack.core.store import Store

    s = Store(db)
    try:
        steps = s.get_series(run_id, "loss")["points"].steps.tolist()
        return len(steps), len(set(steps))
    finally:
        s.close()


def _logger(folder: Path, uri: str, points: int, pace: float, timeout: str | None = None, name: str = "r"):
    env = subprocess_env(MLTRACK_URI=uri, POINTS=str(points), PACE=str(pace), NAME=name,
                         MLTRACK_HOME=str(folder / f"home-{name}"))
    if timeout:
        env["MLTRACK_HTTP_TIMEOUT"] = timeout
    return subprocess.Popen([PY, str(write_script(folder, LOGGER))], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _done(p: subprocess.Popen) -> tuple[str, dict]:
    out, err = p.communicate(timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(err[-2000:])
    return out.split("RUN", 1)[1].split()[0], json.loads(out.split("STATS", 1)[1])


def writers(folder: Path, quick: bool) -> dict:
    w, n = (4, 20_000) if quick else (8, 50_000)
    db = str(folder / "store" / "mltrack.db")
    t = time.perf_counter()
    procs = [_logger(folder, db, n, 0.0, name=f"w{i}") for i in range(w)]
    results = [_done(p) for p in procs]
    secs = time.perf_counter() - t
    stored = [_points(db, rid) for rid, _ in results]
    total = sum(s for s, _ in stored)
    doubled = sum(s - d for s, d in stored)
    return {"scenario": f"{w} processes × {n:,} points, one embedded store", "expected": w * n, "stored": total,
            "doubled": doubled, "missing": w * n - (total - doubled), "seconds": round(secs, 1)}


def _remote(folder: Path, quick: bool, restart: bool) -> dict:
    n, lock_s, timeout = (50_000, 8, "2") if quick else (200_000, 40, None)  # full: the client's default 30 s
    pace = 0.25 if quick else 0.4
    db = str(folder / "store" / "mltrack.db")
    server = JupyterServer(folder, db).start()
    try:
        client = _logger(folder, server.client_uri, n, pace, timeout)
        time.sleep(3)
        locker = hold_write_lock(folder, db, lock_s)
        if restart:
            time.sleep(lock_s / 2)
            server.stop(signal.SIGTERM)
        locker.wait(lock_s + 120)
        if restart:
            server.start()
        run_id, stats = _done(client)
    finally:
        server.stop()
    stored, distinct = _points(db, run_id)
    what = "; the server stopped (SIGTERM) while its write waited, then restarted" if restart else ""
    return {"scenario": f"{n:,} points through the server, the store write-locked for {lock_s} s{what}",
            "expected": n, "stored": stored, "doubled": stored - distinct, "missing": n - distinct,
            "resent": stats["retries"], "answered as duplicates": stats["duplicates"]}


def busy(folder: Path, quick: bool) -> dict:
    return _remote(folder, quick, restart=False)


def restart(folder: Path, quick: bool) -> dict:
    return _remote(folder, quick, restart=True)


def kills(folder: Path, quick: bool) -> dict:
    k = 3 if quick else 6
    store = folder / "store"
    env = subprocess_env(MLTRACK_URI=str(store), MLTRACK_HOME=str(folder / "home"))
    script = write_script(folder, ARTIFACTS)
    procs = [subprocess.Popen([PY, str(script)], env=env, stdout=subprocess.PIPE, text=True) for _ in range(k)]
    for p in procs:
        p.stdout.readline()  # logging
    time.sleep(1.5)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
    env_ok = subprocess_env(MLTRACK_URI=str(store), MLTRACK_HOME=str(folder / "home"), POINTS="10", NAME="ok")
    ok = subprocess.run([PY, "-c", "import jupyter_mltrack as mlt\nwith mlt.start_run(name='ok') as r:\n"
                         "    r.log_text('kept', name='keep', path='keep.txt')\nmlt.flush()\nprint(r.id)"],
                        env=env_ok, capture_output=True, text=True, check=True)
    before = sum(f.stat().st_size for f in (store / "artifacts").rglob("*") if f.is_file())
    gc = subprocess.run([PY, "-m", "jupyter_mltrack.cli", "--uri", str(store), "gc", "--grace-hours", "0"],
                        env=env_ok, capture_output=True, text=True, check=True)
    after = sum(f.stat().st_size for f in (store / "artifacts").rglob("*") if f.is_file())
    from jupyter_mltrack.core.store import Store

    s = Store(store)
    try:
        readable = all(s.read_artifact_file(a["id"], f["path"]) is not None
                       for r in s.search_runs()[0] for a in s.get_run(r["id"])["artifacts"] for f in a["files"])
    finally:
        s.close()
    return {"scenario": f"{k} processes killed (SIGKILL) while logging 3 MB artifacts, then `mltrack gc`",
            "artifact bytes before": before, "after": after, "reclaimed": before - after,
            "gc said": gc.stdout.strip().splitlines()[0] if gc.stdout.strip() else "",
            "every committed artifact readable": readable, "finished run": ok.stdout.strip()}


def fuzz(folder: Path, quick: bool) -> dict:
    """The suite's fuzz test (tests/server/test_fuzz.py: a real server, seeded, schemathesis' CLI with every check)
    with a longer time budget; it fails on any schemathesis finding and on any 5xx or traceback in the server log."""
    seconds = 30 if quick else 240
    env = {**os.environ, "MLTRACK_FUZZ_SECONDS": str(seconds), "MLTRACK_FUZZ_SEED": "20261203"}
    r = subprocess.run([PY, "-m", "pytest", str(REPO / "tests" / "server" / "test_fuzz.py"), "-k", "finds_nothing",
                        "-s", "-q", "-p", "no:cacheprovider", "--basetemp", str(folder / "pytest")],
                       capture_output=True, text=True, cwd=REPO, env=env)
    out = r.stdout + r.stderr
    line = re.search(r"schemathesis: exit (\d+) after (\d+) s, (\S+) generated cases", out)
    return {"scenario": f"schemathesis for {seconds} s, every check, against the served OpenAPI document",
            "test cases": int(line.group(3)) if line and line.group(3).isdigit() else None,
            "schemathesis exit": int(line.group(1)) if line else None,
            "findings": 0 if r.returncode == 0 else "see `pytest tests/server/test_fuzz.py`",
            "responses ≥ 500 in the server log": 0 if r.returncode == 0 else "see the test's output"}


def bad_inputs(folder: Path, quick: bool) -> dict:
    """The suite's hand-made bad requests (tests/server/test_bad_input.py): each a JSON 4xx naming the field, the
    good data written before read back unchanged."""
    r = subprocess.run([PY, "-m", "pytest", str(REPO / "tests" / "server" / "test_bad_input.py"), "-q",
                        "-p", "no:cacheprovider", "--basetemp", str(folder / "pytest")],
                       capture_output=True, text=True, cwd=REPO)
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|error)", r.stdout))
    return {"scenario": "hand-made bad requests (every one the issue listed, and the fuzzer's findings)",
            "cases": counts.get("passed", 0) + counts.get("failed", 0), "answered as specified": counts.get("passed", 0),
            "not": counts.get("failed", 0) + counts.get("error", 0)}


SCENARIOS = {"writers": writers, "busy": busy, "restart": restart, "kills": kills, "bad_inputs": bad_inputs,
             "fuzz": fuzz}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--json", default=str(REPO / "bench" / "results" / "reliability.json"))
    args = ap.parse_args()
    out = []
    for name in args.only.split(","):
        folder = Path(tempfile.mkdtemp(prefix=f"mltrack-rel-{name}-"))
        try:
            t = time.perf_counter()
            res = SCENARIOS[name](folder, args.quick)
            res["wall seconds"] = round(time.perf_counter() - t, 1)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        out.append({"name": name, **res})
        print(f"| {name} | " + " | ".join(f"{k}: {v:,}" if isinstance(v, int) and not isinstance(v, bool)
                                          else f"{k}: {v}" for k, v in res.items()) + " |", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"quick": args.quick, "when": time.strftime("%Y-%m-%d %H:%M"),
                                           "results": out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
