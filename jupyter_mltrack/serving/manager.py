"""The process manager: runs each deployment as a process of its own — ``python -m jupyter_mltrack.serving`` (uvicorn
serving :func:`.app.app_from_env`) on a free loopback port — and keeps its row in the store
(``core/deployments.py``) telling the truth: running with pid and port, stopped, or failed with the tail of its log.

- **start**: pick a free port, start the process in a session of its own (so it outlives the server that started
  it, and a stop can signal its whole process group), record it running, wait until ``GET /health`` answers with
  the deployment's name (the model is loaded by then); a process that exits first, or does not answer within
  ``start_timeout``, is recorded failed with the end of its log (``<home>/deployments/<name>.log``).
- **stop**: SIGTERM to the process group (uvicorn finishes the requests in flight), SIGKILL after
  ``stop_timeout``; recorded stopped.
- **adopt** (a server starting): each deployment recorded running whose process is alive and answers ``/health``
  with its name is kept (its pid and port stay); the others are recorded stopped.
- reading a running deployment looks at its process: one that died is recorded failed (with its log's tail); the
  version ``/health`` reports is recorded when an alias moved it.

The service process opens the store itself (``MLTRACK_URI`` and ``MLTRACK_ARTIFACTS`` in its environment, never in
the spec stored in the row; a database server's password in a private libpq password file, as for a job). Every
method blocks (process starts, HTTP to loopback, store writes): the server calls them on a worker thread. Nothing here imports Jupyter or tornado.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from ..core import access as A
from ..core.deployments import Deployment, DeploymentRows
from ..core.errors import InvalidInput
from ..core.users import Actor
from .spec import SPEC_ENV, ServiceSpec

#: Seconds a new service has to answer ``/health`` (it imports its stack and loads its model first).
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
LOG_TAIL = 4000  # characters of a failed service's log kept as its error
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def health(host: str, port: int, timeout: float = 2.0) -> dict | None:
    """The service's ``GET /health`` answer, or None when nothing answers it."""
    try:
        with _opener.open(f"http://{host}:{port}/health", timeout=timeout) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    """Whether the process ``pid`` runs (a child of this process that exited is reaped here: no zombie passes for
    alive)."""
    if not pid:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not a child of this process (adopted): ask the kernel
        pass
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _served(h: dict | None) -> tuple[str | None, int | None]:
    models = (h or {}).get("models") or []
    return (models[0]["model"], models[0]["version"]) if len(models) == 1 else (None, None)


class ProcessManager:
    """Deployments of ``store`` run as processes of this machine (see the module's docstring)."""

    def __init__(self, store: Any, host: str = "127.0.0.1", start_timeout: float = START_TIMEOUT,
                 stop_timeout: float = STOP_TIMEOUT, log_dir: str | os.PathLike | None = None):
        from ..core.db import default_home

        self.store = store
        self.rows = DeploymentRows(store)
        self.host = host
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.log_dir = Path(log_dir) if log_dir is not None else default_home() / "deployments"
        self.procs: dict[str, subprocess.Popen] = {}  # the processes this manager started (reaped by poll())
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    # -- the API ----------------------------------------------------------------------------------------------------

    def deploy(self, spec: ServiceSpec, actor: Actor | None = None, user: str = "") -> Deployment:
        """Record ``spec`` as a new deployment (contributor of its project needed; a taken name is refused) and
        start it."""
        spec = spec.validate()
        if spec.uri is not None:
            raise InvalidInput("uri: a deployment reads the store of the server that runs it; leave uri out")
        if spec.kind == "ab_test" and spec.run_id is None:
            from ..client.run import new_run_id

            # a run of its own per test: kept through stops and restarts (it is in the row's spec), new when a test
            # is deleted and created again under the same name (its models, weights or strategy may differ)
            spec.run_id = new_run_id()
        for ref in spec.models:  # a reference that names nothing is refused here (404), before any process starts
            self.store.resolve_model(ref, spec.project, actor)
        self.rows.create(spec.name, spec.project, spec.kind, spec.to_dict(), actor, user)
        return self.start(spec.name, actor)

    def get(self, name: str, actor: Actor | None = None) -> Deployment:
        return self._look(self.rows.get(name, actor))

    def list(self, project: str | None = None, actor: Actor | None = None) -> list[Deployment]:
        return [self._look(d) for d in self.rows.list(project, actor)]

    def start(self, name: str, actor: Actor | None = None) -> Deployment:
        d = self.rows.get(name, actor, A.CONTRIBUTOR, "starting a deployment")
        with self._lock(name):
            d = self._look(self.rows.get(name))
            if d["status"] == "running":
                return d
            return self._spawn(d)

    def stop(self, name: str, actor: Actor | None = None) -> Deployment:
        self.rows.get(name, actor, A.CONTRIBUTOR, "stopping a deployment")
        with self._lock(name):
            return self._stop(self.rows.get(name))

    def restart(self, name: str, actor: Actor | None = None) -> Deployment:
        self.rows.get(name, actor, A.CONTRIBUTOR, "restarting a deployment")
        with self._lock(name):
            self._stop(self.rows.get(name))
            return self._spawn(self.rows.get(name))

    def delete(self, name: str, actor: Actor | None = None) -> None:
        """Stop the deployment if it runs, then forget it."""
        self.rows.get(name, actor, A.CONTRIBUTOR, "deleting a deployment")
        with self._lock(name):
            self._stop(self.rows.get(name))
            self.rows.delete(name, actor)

    def adopt(self) -> tuple[list[str], list[str]]:
        """At a server's start: keep the deployments recorded running whose process is alive and answers
        ``/health`` with its name; record the others stopped. Answers (adopted, stopped) names."""
        adopted, stopped = [], []
        for d in self.rows.running():
            h = health(d["host"] or self.host, d["port"]) if d["port"] and pid_alive(d["pid"]) else None
            if h is not None and h.get("name") == d["name"]:
                adopted.append(d["name"])
                model, version = _served(h)
                if version is not None and version != d["version"]:
                    self.rows.set_state(d["name"], model=model, version=version)
            else:
                stopped.append(d["name"])
                self.rows.set_state(d["name"], status="stopped", pid=None, port=None, stopped_at=time.time(),
                                    error="its process was not running when the server started")
        return adopted, stopped

    def url(self, d: Deployment) -> str | None:
        return f"http://{d['host'] or self.host}:{d['port']}" if d["status"] == "running" and d["port"] else None

    # -- processes --------------------------------------------------------------------------------------------------

    def _alive(self, d: Deployment) -> bool:
        proc = self.procs.get(d["name"])
        if proc is not None and proc.pid == d["pid"]:
            return proc.poll() is None
        return pid_alive(d["pid"])

    def _look(self, d: Deployment) -> Deployment:
        """``d`` as its process is now: a running deployment whose process died is recorded failed; the version
        a running service reports is recorded when it moved."""
        if d["status"] != "running":
            return d
        if not self._alive(d):
            proc = self.procs.pop(d["name"], None)
            code = proc.returncode if proc is not None else None
            return self.rows.set_state(d["name"], status="failed", pid=None, port=None, stopped_at=time.time(),
                                       error=f"the service process exited{f' with code {code}' if code else ''}"
                                             + self._tail(d["name"]))
        h = health(d["host"] or self.host, d["port"], timeout=1.0) if d["port"] else None
        model, version = _served(h)
        if version is not None and (version != d["version"] or model != d["model"]):
            return self.rows.set_state(d["name"], model=model, version=version)
        return d

    def _log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _tail(self, name: str) -> str:
        try:
            with open(self._log_path(name), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - LOG_TAIL))
                text = f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return f"; the end of its log ({self._log_path(name)}):\n{text}" if text else ""

    def _env(self, name: str, spec_json: str) -> dict[str, str]:
        """The service's environment: the store as ``MLTRACK_URI`` — a database server's without its password,
        which a private libpq password file beside the log holds (``jobs/credentials.py``, as for a job)."""
        from ..jobs.credentials import process_store_env

        env = dict(os.environ)
        loc = self.store.location
        if loc.path:
            env["MLTRACK_URI"] = loc.path
        else:
            folder = self.log_dir / f"{name}.credentials"
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            env.update(process_store_env(str(loc.url), folder))
        if self.store.blobs.location:
            env["MLTRACK_ARTIFACTS"] = self.store.blobs.location
        env[SPEC_ENV] = spec_json
        return env

    def _spawn(self, d: Deployment) -> Deployment:
        name = d["name"]
        spec = ServiceSpec.from_dict(d["spec"])
        port = free_port(self.host)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self._log_path(name), "ab") as log:
            log.write(f"--- starting {name} on {self.host}:{port} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_mltrack.serving", "--host", self.host, "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self._env(name, spec.to_json()),
                start_new_session=True, close_fds=True)
        self.procs[name] = proc
        now = time.time()
        self.rows.set_state(name, status="running", pid=proc.pid, port=port, host=self.host, error="",
                            started_at=now, stopped_at=None, model=None, version=None)
        deadline = now + self.start_timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                self.procs.pop(name, None)
                return self.rows.set_state(name, status="failed", pid=None, port=None, stopped_at=time.time(),
                                           error=f"the service process exited with code {proc.returncode} before "
                                                 "answering" + self._tail(name))
            h = health(self.host, port, timeout=1.0)
            if h is not None and h.get("name") == name:
                model, version = _served(h)
                return self.rows.set_state(name, model=model, version=version)
            time.sleep(0.2)
        self._kill(proc.pid, proc)
        self.procs.pop(name, None)
        return self.rows.set_state(name, status="failed", pid=None, port=None, stopped_at=time.time(),
                                   error=f"the service did not answer /health within {self.start_timeout:g} s"
                                         + self._tail(name))

    def _stop(self, d: Deployment) -> Deployment:
        if d["status"] == "running" and d["pid"]:
            proc = self.procs.pop(d["name"], None)
            self._kill(d["pid"], proc if proc is not None and proc.pid == d["pid"] else None)
        if d["status"] == "stopped":
            return d
        return self.rows.set_state(d["name"], status="stopped", pid=None, port=None, stopped_at=time.time(),
                                   error=d["error"] if d["status"] == "failed" else "")

    def _kill(self, pid: int, proc: subprocess.Popen | None) -> None:
        """SIGTERM the process group ``pid`` leads (a service is started in a session of its own), SIGKILL after
        ``stop_timeout``. An adopted process whose group is not its own gets the signals alone."""
        def send(sig: int) -> None:
            try:
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

        if not pid_alive(pid) and proc is None:
            return
        send(signal.SIGTERM)
        deadline = time.time() + self.stop_timeout
        while time.time() < deadline:
            if (proc.poll() is not None) if proc is not None else not pid_alive(pid):
                return
            time.sleep(0.05)
        send(signal.SIGKILL)
        if proc is not None:
            proc.wait(5)
