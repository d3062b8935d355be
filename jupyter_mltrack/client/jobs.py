"""Jobs from Python and the ``mltrack jobs`` command: define, list, run, pause, resume, delete, read logs.

On a database store (a SQLite file, PostgreSQL) these act on the store directly; through a server
(``http(s)://…``) they call its REST routes as the caller (docs/rest-api.md, "Jobs"). A job defined here runs where
a scheduler runs — the Jupyter server extension — or, with :func:`run_job` ``(…, here=True)``, in this process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, urlencode

from .tracking import get_client


def _local():
    backend = get_client().backend
    return backend.store if backend.kind == "local" else None


def _rest(method: str, path: str, **kw):
    return get_client().backend.call(method, path, **kw)


def _job_path(name: str, tail: str = "") -> str:
    return f"jobs/{quote(name, safe='')}" + (f"/{tail}" if tail else "")


def create_job(name: str, *, notebook: str | os.PathLike | None = None, script: str | os.PathLike | None = None,
               params: Mapping[str, Any] | None = None, schedule: str = "", timezone: str = "UTC",
               after: Iterable[str] = (), project: str | None = None, timeout: float | None = None,
               retries: int = 0, retry_delay: float = 10.0, max_concurrent: int = 1, paused: bool = False) -> dict:
    """Define a job — or redefine the job of that name — that runs a notebook (with papermill: ``params`` must be
    names its ``parameters``-tagged cell declares) or a script (params as ``--key=value`` and ``MLTRACK_PARAMS``),
    now (:func:`run_job`), on a cron ``schedule`` read in ``timezone``, and/or ``after`` other jobs succeeded.
    Each execution is a tracked run in ``project``; ``timeout`` in seconds ends it ``killed``; ``retries`` more
    attempts wait ``retry_delay`` seconds, doubled each time. Everything is checked now: a mistake raises
    :class:`~jupyter_mltrack.InvalidInput` naming the field."""
    spec: dict[str, Any] = {"name": name, "params": dict(params or {}), "schedule": schedule or "",
                            "timezone": timezone, "after": list(after), "timeout": timeout, "retries": retries,
                            "retry_delay": retry_delay, "max_concurrent": max_concurrent, "paused": paused}
    if project is not None:
        spec["project"] = project
    for kind, path in (("notebook", notebook), ("script", script)):
        if path is not None:
            p = Path(os.fspath(path)).expanduser()
            spec[kind] = str(p if p.is_absolute() else Path.cwd() / p)
    store = _local()
    if store is not None:
        return store.create_job(spec)
    return _rest("POST", "jobs", json=spec)


def list_jobs(project: str | None = None) -> list[dict]:
    """The jobs (with ``next_run`` and the ``last`` execution), of one project or of all."""
    store = _local()
    if store is not None:
        return store.list_jobs(project)
    return _rest("GET", "jobs" + (f"?{urlencode({'project': project})}" if project else ""))["jobs"]


def get_job(name: str) -> dict:
    store = _local()
    return store.get_job(name) if store is not None else _rest("GET", _job_path(name))


def run_job(name: str, here: bool = False) -> list[dict]:
    """Trigger the job now (and the jobs after it): their executions, queued for the server's scheduler. With
    ``here=True`` (a database store only) they run in this process and this returns once they ended."""
    store = _local()
    if store is None:
        if here:
            raise ValueError("here=True runs jobs in this process: it needs a database store, not a server")
        return _rest("POST", _job_path(name, "run"))["executions"]
    executions = store.run_job(name)
    if here:
        from ..jobs.runner import run_here

        run_here(store, executions)
        ids = {e["id"] for e in executions}
        executions = [e for n in {e["job"] for e in executions} for e in store.job_executions(n) if e["id"] in ids]
    return executions


def pause_job(name: str) -> dict:
    store = _local()
    return store.pause_job(name, True) if store is not None else _rest("POST", _job_path(name, "pause"))


def resume_job(name: str) -> dict:
    store = _local()
    return store.pause_job(name, False) if store is not None else _rest("POST", _job_path(name, "resume"))


def delete_job(name: str) -> None:
    store = _local()
    if store is not None:
        store.delete_job(name)
    else:
        _rest("DELETE", _job_path(name))


def job_executions(name: str, limit: int = 50) -> list[dict]:
    store = _local()
    if store is not None:
        return store.job_executions(name, limit)
    return _rest("GET", _job_path(name, "executions") + f"?limit={int(limit)}")["executions"]


def job_log(name: str) -> str:
    """The log (stdout and stderr) of the job's newest execution that has a run, so far."""
    store = _local()
    if store is not None:
        return store.job_log(name)[1].decode("utf-8", "replace")
    return _rest("GET", _job_path(name, "log"))["log"]


def jobs_frame(project: str | None = None):
    """The jobs as a DataFrame (``%mltrack jobs``): name, project, kind, schedule, timezone, next run, last status,
    when it ended, after, paused — times as UTC timestamps."""
    import pandas as pd

    rows = []
    for j in list_jobs(project):
        last = j["last"] or {}
        rows.append({"name": j["name"], "project": j["project"], "kind": j["kind"], "schedule": j["schedule"],
                     "timezone": j["timezone"], "next_run": j["next_run"], "last_status": last.get("status"),
                     "last_ended": last.get("ended_at"), "after": ", ".join(j["after"]), "paused": j["paused"]})
    df = pd.DataFrame(rows, columns=["name", "project", "kind", "schedule", "timezone", "next_run", "last_status",
                                     "last_ended", "after", "paused"])
    for c in ("next_run", "last_ended"):
        df[c] = pd.to_datetime(df[c], unit="s", utc=True)
    return df
