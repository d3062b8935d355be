"""A real ``jupyter server`` in a subprocess, serving the extension over a given store (for tests that need a
server they can stop, kill and restart, or a client in another process)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from ._subprocess import subprocess_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """In the child before exec (Linux): be killed when the test process dies, however it dies — a test run killed
    by a timeout must not leave servers behind."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the fixtures' own teardown stops the server
        pass


class JupyterServer:
    """``jupyter server`` on 127.0.0.1:``port`` with the store ``store_uri``; a token, no browser.

    ``start()`` waits until the API answers; ``stop(sig)`` sends ``sig`` (SIGTERM: a clean shutdown) and waits for
    the process to exit; the same object can be started again on the same port."""

    def __init__(self, folder: Path, store_uri: str, port: int | None = None, token: str | None = None,
                 args: tuple[str, ...] = (), env: dict | None = None):
        self.folder = Path(folder)
        self.store_uri = store_uri
        self.port = port or free_port()
        self.token = token or secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.folder / f"server-{self.port}.log"
        self.starts = 0
        self.args = tuple(args)  # more command-line options, e.g. team mode's
        self.env = dict(env or {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api(self) -> str:
        return self.url + "mltrack/api/"

    @property
    def client_uri(self) -> str:
        """The ``MLTRACK_URI`` a client uses to track through this server."""
        return f"{self.url}?token={self.token}"

    @property
    def headers(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def start(self, timeout: float = 60.0) -> "JupyterServer":
        home = self.folder / "home"
        for d in ("config", "data", "runtime"):
            (home / d).mkdir(parents=True, exist_ok=True)
        env = subprocess_env(
            MLTRACK_URI=self.store_uri, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"), **self.env,
        )
        cmd = [sys.executable, "-m", "jupyter_server", f"--port={self.port}", "--ip=127.0.0.1",
               "--ServerApp.port_retries=0", "--ServerApp.open_browser=False", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.folder}", "--ServerApp.jpserver_extensions={'jupyter_mltrack': True}"]
        cmd += self.args
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"\n--- start {self.starts}\n")
        log.flush()
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                                     preexec_fn=die_with_parent)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if requests.get(self.api + "status", headers=self.headers, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"jupyter server did not answer within {timeout} s:\n{self.log()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self) -> "JupyterServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop(signal.SIGTERM, timeout=30)
