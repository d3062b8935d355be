"""Benchmark rows of A/B tests (issue #13), on a fresh SQLite store in a temporary folder holding two versions of a
small sklearn model (LinearRegression and Ridge on 3 features: the same predict cost), each service a real
``python -m jupyter_mltrack.serving`` process (uvicorn, one worker) on loopback, requests sent one at a time over
one keep-alive connection:

AB1  the split of 10,000 weighted requests (weights 0.7 / 0.3), on the router itself (``Router.choose``, five
     routers, each with its own per-process random generator, no seed) — the largest distance of a model's share
     from its weight, in percentage points (target ≤ 2).
AB1ʰ the same 10,000 requests through HTTP to an A/B service (the ``ref`` each answer names).
AB2  A/B routing overhead: predict p50 through an A/B service of the two versions (weighted 0.5 / 0.5, its run
     recorded every 5 s as by default) minus predict p50 of the same model served alone (kind ``model``), the two
     measured in alternating blocks of 200 requests (target ≤ 0.2 ms).
AB2ʳ the router's own part of it, in process: ``choose`` + ``record`` per request (and ``feedback`` per reward).

    python bench/ab.py [--quick] [--out bench/results/ab.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jupyter_mltrack.serving.ab import Router  # noqa: E402
from jupyter_mltrack.serving.spec import ServiceSpec  # noqa: E402

from run import machine_info  # noqa: E402

WEIGHTS = {"house@champion": 0.7, "house@challenger": 0.3}
TRAIN = """
import sys
import numpy as np
from sklearn.linear_model import LinearRegression, Ridge
import jupyter_mltrack as mlt

mlt.set_tracking_uri(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
y = X @ np.array([1.0, 2.0, -1.0]) + rng.normal(scale=0.1, size=200)
for name, model in (("linear", LinearRegression()), ("ridge", Ridge(alpha=1.0))):
    with mlt.start_run(name, project="Bench") as run:  # defaults on (setup: the models to test)
        mlt.log_model(model.fit(X, y))
    v = mlt.register_model("house", run)
    mlt.set_alias("house@" + ("champion" if name == "linear" else "challenger"), v["version"])
mlt.flush()
"""
BODY = json.dumps({"inputs": [[0.1, 0.2, 0.3]]}).encode()


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    return e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, store: Path, spec: dict):
        self.port = free_port()
        e = env()
        e["MLTRACK_SERVICE_SPEC"] = json.dumps({**spec, "uri": str(store), "poll_interval": 0})
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyter_mltrack.serving", "--port", str(self.port)],
                                     env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request("GET", "/health")
                if self.conn.getresponse().read():
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the service did not start")
            time.sleep(0.1)

    def predict(self) -> dict:
        try:
            self.conn.request("POST", "/predict", BODY, {"Content-Type": "application/json"})
            r = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # uvicorn closes a connection idle for 5 s (while the other service started): connect again
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.conn.request("POST", "/predict", BODY, {"Content-Type": "application/json"})
            r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(data)
        return json.loads(data)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)


def train(folder: Path) -> Path:
    store = folder / "store"
    store.mkdir()
    (folder / "train.py").write_text(TRAIN)
    subprocess.run([sys.executable, str(folder / "train.py"), str(store)], check=True, env=env(), timeout=300)
    return store


def deviation(counts: Counter, n: int) -> float:
    return max(abs(counts[ref] / n - w) for ref, w in WEIGHTS.items()) * 100


def split_on_router(n: int) -> dict:
    out = []
    for _ in range(5):
        spec = ServiceSpec(name="bench-ab", project="Bench", kind="ab_test", models=dict(WEIGHTS),
                           strategy="weighted", options={"record": False}).validate()
        r = Router(spec, {})
        c = Counter(r.choose()[0] for _ in range(n))
        out.append({"shares": {k: c[k] / n for k in WEIGHTS}, "deviation_pp": deviation(c, n)})
    return {"n": n, "routers": out, "max_deviation_pp": max(o["deviation_pp"] for o in out)}


def router_cost(n: int) -> dict:
    spec = ServiceSpec(name="bench-ab", project="Bench", kind="ab_test", models=dict(WEIGHTS), strategy="weighted",
                       options={"record": False}).validate()
    r = Router(spec, {})
    t0 = time.perf_counter()
    ids = []
    for _ in range(n):
        ref, rid = r.choose()
        r.record(ref, 0.0005, True)
        ids.append(rid)
    t1 = time.perf_counter()
    for rid in ids:
        r.feedback({"request_id": rid, "reward": 1.0})
    t2 = time.perf_counter()
    return {"n": n, "choose_record_us": (t1 - t0) / n * 1e6, "feedback_us": (t2 - t1) / n * 1e6}


def split_over_http(store: Path, n: int) -> dict:
    svc = Service(store, {"name": "bench-split", "project": "Bench", "kind": "ab_test", "models": WEIGHTS,
                          "strategy": "weighted"})
    try:
        c = Counter(svc.predict()["ref"] for _ in range(n))
    finally:
        svc.stop()
    return {"n": n, "shares": {k: c[k] / n for k in WEIGHTS}, "deviation_pp": deviation(c, n)}


def overhead(store: Path, n: int, block: int = 200) -> dict:
    alone = Service(store, {"name": "bench-alone", "project": "Bench", "kind": "model",
                            "models": {"house@champion": 1.0}})
    ab = Service(store, {"name": "bench-ab", "project": "Bench", "kind": "ab_test",
                         "models": {"house@champion": 0.5, "house@challenger": 0.5}, "strategy": "weighted"})
    times: dict[str, list[float]] = {"alone": [], "ab": []}
    try:
        for svc in (alone, ab):  # warm-up
            for _ in range(200):
                svc.predict()
        for _ in range(max(1, n // block)):
            for name, svc in (("alone", alone), ("ab", ab)):
                for _ in range(block):
                    t0 = time.perf_counter()
                    svc.predict()
                    times[name].append(time.perf_counter() - t0)
    finally:
        alone.stop()
        ab.stop()
    p50 = {k: statistics.median(v) * 1000 for k, v in times.items()}
    return {"n": len(times["ab"]), "alone_p50_ms": p50["alone"], "ab_p50_ms": p50["ab"],
            "overhead_ms": p50["ab"] - p50["alone"],
            "alone_p99_ms": sorted(times["alone"])[int(0.99 * (len(times["alone"]) - 1))] * 1000,
            "ab_p99_ms": sorted(times["ab"])[int(0.99 * (len(times["ab"]) - 1))] * 1000}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ab.json"))
    args = ap.parse_args()
    n_split = 2000 if args.quick else 10_000
    n_lat = 1000 if args.quick else 4000
    with tempfile.TemporaryDirectory(prefix="mltrack-bench-ab-") as tmp:
        store = train(Path(tmp))
        res = {"machine": machine_info(), "AB1": split_on_router(n_split), "AB1h": split_over_http(store, n_split),
               "AB2": overhead(store, n_lat), "AB2r": router_cost(100_000 if not args.quick else 10_000)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    ok = lambda b: "✓" if b else "✗"  # noqa: E731
    a1, a1h, a2, a2r = res["AB1"], res["AB1h"], res["AB2"], res["AB2r"]
    print("| # | figure | target | ours |\n|---|---|---|---|")
    print(f"| AB1 | split of {a1['n']:,} weighted requests (0.7/0.3) on the router, worst of 5 routers: largest "
          f"distance from a weight | ≤ 2 pp | {a1['max_deviation_pp']:.2f} pp {ok(a1['max_deviation_pp'] <= 2)} |")
    print(f"| AB1ʰ | the same through HTTP: champion {a1h['shares']['house@champion']:.4f}, challenger "
          f"{a1h['shares']['house@challenger']:.4f} | ≤ 2 pp | {a1h['deviation_pp']:.2f} pp "
          f"{ok(a1h['deviation_pp'] <= 2)} |")
    print(f"| AB2 | A/B routing overhead: predict p50 through an A/B service ({a2['ab_p50_ms']:.3f} ms) − the same "
          f"model alone ({a2['alone_p50_ms']:.3f} ms), {a2['n']:,} requests each | ≤ 0.2 ms | "
          f"{a2['overhead_ms']:.3f} ms {ok(a2['overhead_ms'] <= 0.2)} |")
    print(f"| AB2ʳ | the router in process: choose + record, per request; feedback per reward | | "
          f"{a2r['choose_record_us']:.1f} µs; {a2r['feedback_us']:.1f} µs |")
    print(f"\nload average: {os.getloadavg()[0]:.2f}; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
