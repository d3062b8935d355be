"""Running one job execution: a notebook through papermill, a script as a subprocess — each attempt a tracked run.

An execution claimed from the store (``core/job_executions.claim``) is run here, attempt after attempt (``retries``
more after the first, waiting ``retry_delay`` seconds, doubled after each), until one succeeds. Each attempt:

1. creates a run in the job's project (``source`` = ``job:<name>``, the job's params as its params, tags ``job``,
   ``trigger``, ``attempt``) and records it on the execution;
2. starts the process in a session of its own, in the file's folder, with ``MLTRACK_URI`` (the store, without
   its password: ``jobs/credentials.py``), ``MLTRACK_ARTIFACTS``, ``MLTRACK_RUN_ID``, ``MLTRACK_JOB`` and ``MLTRACK_PROJECT`` in its environment, so that
   whatever the job logs with ``mlt`` lands under that run (``client/fluent.py`` adopts it). A notebook runs as
   ``python -m jupyter_mltrack.jobs.notebook`` (papermill, parameters injected after the ``parameters`` cell); a
   script as ``python script.py --key=value …`` with the params also in ``MLTRACK_PARAMS`` (JSON);
3. streams stdout and stderr into the run's ``log`` artifact while it runs (a new version when it changed, at most
   every :data:`LOG_EVERY` seconds) and beats the run's and the execution's heartbeats;
4. ends the run: exit status 0 → ``finished``; another → ``failed``; a timeout or a signal → ``killed`` (the whole
   process group is terminated, then killed): never left ``running``. A notebook's executed copy, outputs included,
   is stored as the run's ``notebook`` artifact.

The execution then ends with its last attempt's status, which moves its trigger's downstream jobs on.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LOG_EVERY = 2.0  # seconds between two versions of a running job's log
BEAT_EVERY = 10.0  # seconds between heartbeats
TERM_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
MAX_LOG = 20 * 2**20  # bytes of a log kept (the first half and the newest half beyond it)


def new_run_id() -> str:
    from ..client.run import new_run_id as make

    return make()


def command(job: dict, out_path: str | None) -> list[str]:
    """The command line of a job's process."""
    params = json.loads(job["params"]) if isinstance(job["params"], str) else job["params"]
    if job["kind"] == "notebook":
        return [sys.executable, "-m", "jupyter_mltrack.jobs.notebook", job["path"], str(out_path),
                json.dumps(params)]
    return [sys.executable, job["path"], *(f"--{k}={v if isinstance(v, str) else json.dumps(v)}"
                                           for k, v in params.items())]


def job_env(store, job: dict, run_id: str, project: str, folder: str) -> dict[str, str]:
    """The environment of a job's process; ``folder`` is the attempt's private folder (a database password goes
    there, in a libpq password file, never into the environment)."""
    from .credentials import process_store_env

    env = dict(os.environ)
    env.update(process_store_env(store.location.url, folder))
    env.update(MLTRACK_RUN_ID=run_id, MLTRACK_JOB=job["name"],
               MLTRACK_PROJECT=project, PYTHONUNBUFFERED="1",
               MLTRACK_PARAMS=job["params"] if isinstance(job["params"], str) else json.dumps(job["params"]))
    if store.blobs.location:
        env["MLTRACK_ARTIFACTS"] = store.blobs.location
    env.pop("MLTRACK_API_KEY", None)
    return env


class Log:
    """A process's output, read on a thread of its own; kept whole up to :data:`MAX_LOG` bytes."""

    def __init__(self, stream) -> None:
        self.data = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()
        self.version = 0
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True, name="mltrack-job-log")
        self.thread.start()

    def _read(self, stream) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self.lock:
                self.data += chunk
                if len(self.data) > MAX_LOG:  # keep the start and the newest part
                    cut = len(self.data) - MAX_LOG
                    half = MAX_LOG // 2
                    del self.data[half:half + cut]
                    self.dropped += cut
                self.version += 1

    def snapshot(self) -> tuple[int, bytes]:
        with self.lock:
            text = bytes(self.data)
            if self.dropped:
                text = text[:MAX_LOG // 2] + f"\n[… {self.dropped} bytes left out …]\n".encode() + text[MAX_LOG // 2:]
            return self.version, text


def _store_file(store, run_id: str, name: str, type_: str, path: str, data: bytes, media_type: str) -> None:
    sha, size = store.blobs.put_bytes(data)
    store.write_batch({"artifacts": [{"run_id": run_id, "name": name, "type": type_, "files": [
        {"path": path, "sha256": sha, "size": size, "media_type": media_type}]}]})


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the process's whole session (a notebook's kernel too): SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_attempt(store, execution: dict, job: dict, project: str, attempt: int,
                stop: threading.Event | None = None) -> tuple[str, str]:
    """One attempt of an execution as a tracked run: (status, reason)."""
    run_id = new_run_id()
    params = json.loads(job["params"]) if isinstance(job["params"], str) else job["params"]
    name = f"{job['name']} #{execution['id']}" + (f" (attempt {attempt})" if attempt > 1 else "")
    store.write_batch({
        "runs": [{"id": run_id, "name": name, "project": project, "source": f"job:{job['name']}",
                  "user": job.get("user") or "", "start_time": time.time(), "status": "running",
                  "description": f"{job['kind']} {job['path']}"}],
        "params": [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()],
        "tags": [{"run_id": run_id, "key": "job", "value": job["name"]},
                 {"run_id": run_id, "key": "trigger", "value": execution["trigger_id"]},
                 {"run_id": run_id, "key": "attempt", "value": str(attempt)}]})
    store.execution_attempt(execution["id"], run_id, attempt)
    folder = tempfile.mkdtemp(prefix="mltrack-job-")
    out_path = os.path.join(folder, Path(job["path"]).name) if job["kind"] == "notebook" else None
    status, reason = "failed", ""
    try:
        proc = subprocess.Popen(command(job, out_path), cwd=str(Path(job["path"]).parent),
                                env=job_env(store, job, run_id, project, folder), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as e:
        reason = f"could not start the job's process: {e}"
        _store_file(store, run_id, "log", "log", "log.txt", reason.encode(), "text/plain; charset=utf-8")
        store.write_batch({"updates": [{"run_id": run_id, "status": "failed", "end_time": time.time(),
                                        "error": reason}]})
        return "failed", reason
    try:
        status, reason = _watch(store, execution, job, run_id, proc, stop)
    finally:
        if proc.poll() is None:
            _stop(proc)
        if out_path and os.path.exists(out_path):
            try:
                _store_file(store, run_id, "notebook", "notebook", Path(job["path"]).name,
                            Path(out_path).read_bytes(), "application/x-ipynb+json")
            except Exception as e:  # the run still ends
                reason = (reason + f"; the executed notebook could not be stored: {e}").lstrip("; ")
        shutil.rmtree(folder, ignore_errors=True)
        store.write_batch({"updates": [{"run_id": run_id, "status": status, "end_time": time.time(),
                                        **({"error": reason} if status != "finished" else {})}]})
    return status, reason


def _watch(store, execution: dict, job: dict, run_id: str, proc: subprocess.Popen,
           stop: threading.Event | None) -> tuple[str, str]:
    log = Log(proc.stdout)
    started = time.monotonic()
    stored_version, next_log, next_beat = -1, time.monotonic() + 0.5, time.monotonic() + BEAT_EVERY
    timeout = job.get("timeout")
    status = reason = None
    while True:
        try:
            code = proc.wait(0.2)
        except subprocess.TimeoutExpired:
            code = None
        now = time.monotonic()
        if code is None and timeout and now - started > timeout:
            _stop(proc)
            status, reason = "killed", f"timed out after {timeout:g} s: the process was terminated"
        elif code is None and stop is not None and stop.is_set():
            _stop(proc)
            status, reason = "killed", "the runner stopped (the server shut down): the process was terminated"
        if proc.poll() is not None:
            break
        if now >= next_log:
            version, text = log.snapshot()
            if version != stored_version:
                _store_file(store, run_id, "log", "log", "log.txt", text, "text/plain; charset=utf-8")
                stored_version = version
            next_log = now + LOG_EVERY
        if now >= next_beat:
            store.write_batch({"heartbeat": [run_id]})
            store.beat_executions([execution["id"]])
            next_beat = now + BEAT_EVERY
    log.thread.join(10)
    _, text = log.snapshot()
    _store_file(store, run_id, "log", "log", "log.txt", text, "text/plain; charset=utf-8")
    code = proc.returncode
    if status is None:
        if code == 0:
            status, reason = "finished", ""
        elif code < 0:
            status, reason = "killed", f"the process was killed by {signal.Signals(-code).name}"
        else:
            tail = text[-2000:].decode("utf-8", "replace").strip()
            status, reason = "failed", f"exit status {code}" + (f"; the log ends with:\n{tail}" if tail else "")
    return status, reason


def execute(store, claimed: dict, stop: threading.Event | None = None) -> str:
    """Run a claimed execution to its end, retrying with back-off; returns its final status."""
    execution, job = claimed["execution"], claimed["job"]
    project = store.get_project(job["project_id"])["name"]
    status, reason = "failed", ""
    try:
        for attempt in range(1, job["retries"] + 2):
            status, reason = run_attempt(store, execution, job, project, attempt, stop)
            if status == "finished" or attempt > job["retries"] or (stop is not None and stop.is_set()):
                break
            deadline = time.monotonic() + job["retry_delay"] * 2 ** (attempt - 1)
            while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
                store.beat_executions([execution["id"]])
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if job["retries"] and attempt > 1:
            reason = (f"after {attempt} attempts: " + reason) if status != "finished" else ""
    except BaseException as e:  # the execution must end, whatever happened here
        status, reason = "failed", f"the runner failed: {e!r}"
        raise
    finally:
        store.finish_execution(execution["id"], status, reason)
    return status


def execute_remote(store_uri: str, artifacts: str | None, claimed: dict) -> str:
    """:func:`execute` on a Dask worker: the worker opens the same store (the shared database and artifact
    location) and runs the execution in a subprocess there. ``store_uri`` holds no password: the worker connects
    with its own credentials (``jobs/credentials.py``)."""
    if artifacts:
        os.environ["MLTRACK_ARTIFACTS"] = artifacts
    from ..core.store import Store
    from .credentials import worker_url

    store = Store(worker_url(store_uri), migrate=False)
    try:
        return execute(store, claimed)
    finally:
        store.close()


def run_here(store, executions: list[dict[str, Any]], worker: str = "") -> dict[str, str]:
    """Run a trigger's executions in this process, one after another as their upstream jobs end (``mltrack jobs
    run`` on a store without a server); job name → final status."""
    import socket

    worker = worker or f"{socket.gethostname()}:{os.getpid()}:here"
    todo = {e["id"] for e in executions}
    out: dict[str, str] = {}
    while todo:
        claimed = next((c for eid in sorted(todo)
                        if (c := store.claim_execution(worker, 1_000_000, execution_id=eid)) is not None), None)
        if claimed is not None:
            out[claimed["execution"]["job"]] = execute(store, claimed)
            todo.discard(claimed["execution"]["id"])
            continue
        for name, e in _states(store, executions).items():  # skipped, or run by someone else
            if e["id"] in todo and e["status"] in ("finished", "failed", "killed", "skipped"):
                out[name] = e["status"]
                todo.discard(e["id"])
        if todo:
            time.sleep(0.2)
    return out


def _states(store, executions: list[dict]) -> dict[str, dict]:
    ids = {e["id"] for e in executions}
    out = {}
    for name in {e["job"] for e in executions}:
        for e in store.job_executions(name, limit=1000):
            if e["id"] in ids:
                out[name] = e
    return out
