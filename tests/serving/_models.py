"""Small registered scikit-learn models and service processes for the serving tests (real stores, real processes,
real HTTP on loopback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from .._server import die_with_parent, free_port
from .._subprocess import subprocess_env

#: v1 predicts 3·sqft + 2·rooms + 1, v2 predicts 10·sqft (both fitted on a DataFrame: columns sqft, rooms)
V1 = lambda sqft, rooms: 3 * sqft + 2 * rooms + 1  # noqa: E731
V2 = lambda sqft, rooms: 10 * sqft  # noqa: E731


def register_house(store_uri: str, project: str = "P", name: str = "house") -> None:
    """Register two versions of a LinearRegression ``name`` in ``project`` of the store at ``store_uri`` (a fresh
    Python process, so the test's own client is untouched); the alias ``champion`` names version 1."""
    code = f"""
import numpy as np, pandas as pd
from sklearn.linear_model import LinearRegression
import jupyter_mltrack as R
R.set_tracking_uri({store_uri!r})
X = pd.DataFrame({{"sqft": np.arange(30.0), "rooms": np.arange(30.0) % 5}})
for i, y in enumerate([3 * X.sqft + 2 * X.rooms + 1, 10 * X.sqft]):
    with R.start_run(f"train-{{i}}", project={project!r}, capture_environment=False) as run:
        R.log_model(LinearRegression().fit(X, y))
    R.register_model({name!r}, run)
R.set_alias({name + '@champion'!r}, 1)
R.flush()
"""
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env(), timeout=120)


def wait_health(url: str, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode}")
        try:
            r = requests.get(url + "/health", timeout=2)
            if r.status_code == 200:
                return r.json()
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /health within {timeout} s")


class Standalone:
    """``mltrack serve REF --port N --workers K`` in a process of its own (its process group killed at the end)."""

    def __init__(self, store_uri: str, ref: str, folder: Path, workers: int = 1, poll_interval: float = 2.0,
                 project: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(folder) / f"serve-{self.port}.log"
        cmd = [sys.executable, "-m", "jupyter_mltrack.cli", "--uri", store_uri, "serve", ref, "--port",
               str(self.port), "--workers", str(workers), "--poll-interval", str(poll_interval)]
        if project:
            cmd += ["--project", project]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=subprocess_env(),
                                         start_new_session=True, preexec_fn=die_with_parent)

    def start(self) -> "Standalone":
        try:
            wait_health(self.url, self.proc)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}\n{self.log()[-3000:]}") from None
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
