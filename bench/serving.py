"""Benchmark rows of model serving (issue #13): predict latency and throughput of our standalone service
(``mltrack serve``, uvicorn) beside MLflow's ``mlflow models serve`` of the same scikit-learn model, in the same run,
on a fresh SQLite store in a temporary folder, loopback only:

SV1  predict p50 / p99 latency, one request at a time over one keep-alive connection, one row per request
     (target: p50 ≤ 2 ms).
SV2  requests per second with C connections in flight (default 16), one row per request, the service under
     ``--workers 2`` (target ≥ 2,000 on a 2-core machine — the load generator shares those cores).
SV3  the service's own cost per request, in process (decode the body, build the array, predict, encode): where the
     time of SV1 goes.
SV4  SV1 and SV2 through a Jupyter server's front door (``POST {base}mltrack/serve/{name}/predict`` with a token:
     authentication, the deployment's look-up, the proxy to the service deployed by ``POST deployments``).

The model is a LinearRegression on 3 named features (a DataFrame), the one file both servers load. MLflow gets the
same rows as ``dataframe_split``. ``load`` is the reusable harness: it sends N requests to a URL at concurrency C and
returns each request's latency (bench/ab.py-style rows can use it too).

    python bench/serving.py [--quick] [--concurrency 16] [--out bench/results/serving.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import ensure_env, machine_info  # noqa: E402

TRAIN = """
import sys
import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
import jupyter_mltrack as mlt

mlt.set_tracking_uri(sys.argv[1])
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["f0", "f1", "f2"])
y = X.to_numpy() @ np.array([1.0, 2.0, -1.0]) + rng.normal(scale=0.1, size=200)
model = LinearRegression().fit(X, y)
with mlt.start_run("bench", project="Bench") as run:  # defaults on (setup: the model to serve)
    mlt.log_model(model)
v = mlt.register_model("house", run)
mlt.set_alias("house@champion", v["version"])
mlt.flush()
joblib.dump(model, sys.argv[2])
"""
MLFLOW_SAVE = """
import sys, joblib, mlflow.sklearn
mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2])
"""
OURS_BODY = json.dumps({"inputs": [{"f0": 0.1, "f1": 0.2, "f2": 0.3}]}).encode()
MLFLOW_BODY = json.dumps({"dataframe_split": {"columns": ["f0", "f1", "f2"], "data": [[0.1, 0.2, 0.3]]}}).encode()


# -- the harness ----------------------------------------------------------------------------------------------------

async def _connection(host: str, port: int, request: bytes, count: int, latencies: list[float],
                      errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != 200 and len(errors) < 10:
                errors.append(f"HTTP {status}")
    finally:
        writer.close()


def load(url: str, body: bytes, concurrency: int, n: int, headers: dict | None = None) -> dict:
    """POST ``body`` to ``url`` ``n`` times over ``concurrency`` keep-alive connections (each sending its share one
    request after another); answers ``{"latencies": [s…], "seconds": wall, "errors": [...]}``. Loopback use only."""
    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = (f"POST {u.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body
    latencies: list[float] = []
    errors: list[str] = []
    shares = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(_connection(host, port, request, k, latencies, errors) for k in shares if k))
        return time.perf_counter() - t0

    try:
        import uvloop

        seconds = uvloop.run(main())
    except ImportError:
        seconds = asyncio.run(main())
    return {"latencies": latencies, "seconds": seconds, "errors": errors}


def summary(result: dict) -> dict:
    lat = sorted(result["latencies"])
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return {"n": len(lat), "p50_ms": round(q[49] * 1e3, 3), "p99_ms": round(q[98] * 1e3, 3),
            "rps": round(len(lat) / result["seconds"], 1), "errors": result["errors"][:3]}


# -- the services -----------------------------------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, body: bytes, timeout: float = 300.0) -> None:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with opener.open(req, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "ab") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def in_process_cost(store: Path, n: int) -> dict:
    """SV3: decode + build the array + predict + encode, per request, without HTTP (the service's own code)."""
    import msgspec

    from jupyter_mltrack.client.backend import open_backend
    from jupyter_mltrack.serving.app import load as load_model
    from jupyter_mltrack.serving.inputs import parse_inputs, predictions_list

    loaded = load_model(open_backend(str(store)), "house@champion", "Bench")
    import warnings

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    dec, enc = msgspec.json.Decoder().decode, msgspec.json.Encoder().encode
    parts = {"decode+array": 0.0, "predict": 0.0, "encode": 0.0}
    for _ in range(n):
        t0 = time.perf_counter()
        x, _ = parse_inputs(dec(OURS_BODY)["inputs"], loaded.info, 100)
        t1 = time.perf_counter()
        pred = loaded.model.predict(x)
        t2 = time.perf_counter()
        enc({"predictions": predictions_list(pred), "model": "house", "version": 1})
        t3 = time.perf_counter()
        parts["decode+array"] += t1 - t0
        parts["predict"] += t2 - t1
        parts["encode"] += t3 - t2
    return {k: round(v / n * 1e6, 1) for k, v in parts.items()} | {"unit": "µs per request"}


def measure(name: str, url: str, body: bytes, n_latency: int, n_rps: int, concurrency: int) -> dict:
    load(url, body, 4, 400)  # warm-up: every worker loaded and its caches hot
    lat = summary(load(url, body, 1, n_latency))
    rps = summary(load(url, body, concurrency, n_rps))
    print(f"  {name}: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms (c=1, {lat['n']} requests); "
          f"{rps['rps']} req/s (c={concurrency}, {rps['n']} requests; p50 {rps['p50_ms']} ms)", flush=True)
    return {"latency": lat, "throughput": rps}


def through_server(store: Path, folder: Path, env: dict, n_latency: int, n_rps: int, concurrency: int) -> dict:
    """SV4: a Jupyter server with the extension on the store deploys the model (one worker, as the process manager
    starts it) and the requests go through its front door."""
    import urllib.request

    port, token = free_port(), "benchtoken"
    home = folder / "jupyter"
    for d in ("config", "data", "runtime"):
        (home / d).mkdir(parents=True, exist_ok=True)
    jenv = dict(env, MLTRACK_URI=str(store), HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
                JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    cmd = [sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1", "--ServerApp.port_retries=0",
           "--ServerApp.open_browser=False", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
           "--ServerApp.jpserver_extensions={'jupyter_mltrack': True}", "--MLTrackApp.jobs_scheduler=False"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    server = start(cmd, folder / "jupyter.log", jenv)
    base = f"http://127.0.0.1:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with opener.open(urllib.request.Request(base + "mltrack/api/status", headers=headers), timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the Jupyter server did not start") from None
                time.sleep(0.5)
        body = json.dumps({"name": "house-api", "project": "Bench", "model": "house@champion"}).encode()
        req = urllib.request.Request(base + "mltrack/api/deployments", data=body, headers=headers)
        with opener.open(req, timeout=300) as r:
            d = json.loads(r.read())
        if d["status"] != "running":
            raise RuntimeError(f"the deployment failed: {d['error'][-500:]}")
        try:
            url = base + "mltrack/serve/house-api/predict"
            load(url, OURS_BODY, 4, 200, {"Authorization": f"token {token}"})
            lat = summary(load(url, OURS_BODY, 1, n_latency, {"Authorization": f"token {token}"}))
            rps = summary(load(url, OURS_BODY, concurrency, n_rps, {"Authorization": f"token {token}"}))
            print(f"  through the Jupyter server: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms (c=1); "
                  f"{rps['rps']} req/s (c={concurrency}; p50 {rps['p50_ms']} ms)", flush=True)
            return {"latency": lat, "throughput": rps, "service_workers": 1}
        finally:
            req = urllib.request.Request(base + "mltrack/api/deployments/house-api", headers=headers,
                                         method="DELETE")
            opener.open(req, timeout=120).close()
    finally:
        stop(server)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-mlflow", action="store_true")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "serving.json"))
    a = p.parse_args()
    n_latency, n_rps = (500, 2_000) if a.quick else (3_000, 20_000)
    results: dict = {"machine": machine_info(), "workers": a.workers, "concurrency": a.concurrency,
                     "command": "python bench/serving.py" + (" --quick" if a.quick else ""), "at": time.time(),
                     "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="mltrack-bench-serving-") as tmp:
        folder = Path(tmp)
        store, joblib_file = folder / "store", folder / "model.joblib"
        env = dict(os.environ, MLTRACK_HOME=str(folder / "home"), PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-c", TRAIN, str(store), str(joblib_file)], check=True, env=env)
        results["in_process"] = in_process_cost(store, 2_000)
        print(f"  in process: {results['in_process']}", flush=True)

        port = free_port()
        ours = start([sys.executable, "-m", "jupyter_mltrack.cli", "--uri", str(store), "serve", "house@champion",
                      "--port", str(port), "--workers", str(a.workers)], folder / "ours.log", env)
        try:
            url = f"http://127.0.0.1:{port}/predict"
            wait_up(url, ours, OURS_BODY)
            results["ours"] = measure("jupyter_mltrack", url, OURS_BODY, n_latency, n_rps, a.concurrency)
        finally:
            stop(ours)

        results["through_server"] = through_server(store, folder, env, n_latency // 3, n_rps // 4, a.concurrency)

        py, why = (None, "left out (--no-mlflow)") if a.no_mlflow else ensure_env("mlflow")
        if py is not None and subprocess.run([str(py), "-c", "import sklearn"], capture_output=True).returncode:
            subprocess.run([str(py), "-m", "pip", "install", "-q", "scikit-learn"], check=False)
        if py is None:
            results["mlflow"] = {"unavailable": why}
            print(f"  MLflow: {why}")
        else:
            model_dir = folder / "mlflow-model"
            subprocess.run([str(py), "-c", MLFLOW_SAVE, str(joblib_file), str(model_dir)], check=True)
            port = free_port()
            mlflow_env = dict(os.environ, MLFLOW_TRACKING_URI=f"file://{folder / 'mlruns'}",
                              PATH=f"{py.parent}{os.pathsep}{os.environ.get('PATH', '')}")  # it execs uvicorn
            mlf = start([str(py.parent / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                         "-h", "127.0.0.1", "-p", str(port), "-w", str(a.workers)], folder / "mlflow.log", mlflow_env)
            try:
                url = f"http://127.0.0.1:{port}/invocations"
                try:
                    wait_up(url, mlf, MLFLOW_BODY)
                except RuntimeError as e:
                    tail = (folder / "mlflow.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{e}\n{tail}") from None
                results["mlflow"] = measure("MLflow", url, MLFLOW_BODY, n_latency, n_rps, a.concurrency)
                results["mlflow"]["version"] = subprocess.run(
                    [str(py), "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True,
                    text=True).stdout.strip()
            finally:
                stop(mlf)
    results["load_average_after"] = os.getloadavg()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
