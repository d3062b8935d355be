"""What the A/B tests share: a store holding two registered versions of a small sklearn model (``house@champion``,
``house@challenger``) and a real service process (``python -m jupyter_mltrack.serving``) over it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from .._server import die_with_parent, free_port
from .._subprocess import subprocess_env

TRAIN = """
import sys
import numpy as np
from sklearn.linear_model import LinearRegression, Ridge
import jupyter_mltrack as mlt

mlt.set_tracking_uri(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
y = X @ np.array([1.0, 2.0, -1.0]) + rng.normal(scale=0.1, size=200)
for name, model in (("linear", LinearRegression()), ("ridge", Ridge(alpha=50.0))):
    with mlt.start_run(name, project="Houses", capture_environment=False) as run:
        mlt.log_model(model.fit(X, y))
    v = mlt.register_model("house", run)
    mlt.set_alias("house@" + ("champion" if name == "linear" else "challenger"), v["version"])
mlt.flush()
"""


def make_store(folder: Path) -> Path:
    """A store with ``house`` version 1 (alias champion) and 2 (alias challenger) in the project "Houses"."""
    store = folder / "store"
    store.mkdir(parents=True, exist_ok=True)
    script = folder / "train.py"
    script.write_text(TRAIN)
    subprocess.run([sys.executable, str(script), str(store)], check=True, env=subprocess_env(), timeout=120,
                   capture_output=True)
    return store


class Service:
    """An A/B test served by a real uvicorn process on a free loopback port (stopped with SIGTERM: a clean
    shutdown, which ends the test's run)."""

    def __init__(self, store: Path, name: str, strategy: str, models: dict[str, float], options: dict | None = None,
                 workers: int = 1, run_id: str | None = None, kind: str = "ab_test", uri: str | None = None,
                 env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        spec = {"name": name, "project": "Houses", "kind": kind, "models": models, "strategy": strategy,
                "options": {"record_interval": 1, **(options or {})}, "uri": uri or str(store), "run_id": run_id,
                "poll_interval": 0}
        if kind == "model":
            spec.pop("strategy")
            spec["options"] = {}
        self.log = tempfile.TemporaryFile()  # the service's output (a pipe nobody reads could fill and block it)
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyter_mltrack.serving", "--port", str(self.port),
                                      "--workers", str(workers)],
                                     env=subprocess_env(MLTRACK_SERVICE_SPEC=json.dumps(spec), **(env or {})),
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=die_with_parent)
        self.http = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get(self.url + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.stop()
                raise AssertionError(f"the service did not start:\n{out}")
            time.sleep(0.1)

    def predict(self, key: str | None = None, rows=None) -> dict:
        body = {"inputs": rows or [[0.1, 0.2, 0.3]]}
        headers = {"X-MLTrack-Key": key} if key is not None else {}
        r = self.http.post(self.url + "/predict", json=body, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def feedback(self, body) -> requests.Response:
        return self.http.post(self.url + "/feedback", data=json.dumps(body), timeout=10)

    def info(self) -> dict:
        return self.http.get(self.url + "/info", timeout=10).json()

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def __enter__(self) -> "Service":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
