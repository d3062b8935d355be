"""Jobs: a notebook or a script run as tracked runs — now, on a cron schedule, after other jobs.

A job's definition lives in the store (``jobs``, ``job_upstreams``): its name (unique in the store), its project,
the notebook or script (an absolute path), params, a cron ``schedule`` read in an explicit ``timezone``, the jobs it
runs ``after`` (a DAG: cycles are refused), ``timeout``, ``retries`` (with doubling back-off from ``retry_delay``),
``max_concurrent`` and ``paused``. Everything is checked when the job is defined (``check_job``), each mistake a
:class:`InvalidInput` naming the field: an invalid cron expression, a missing notebook or script, an unknown
upstream job, a parameter the notebook does not declare in its ``parameters``-tagged cell.

Writes run inside a write transaction (the store's write thread, ``Database.write``), reads in a read transaction.
In team mode a job belongs to its project: viewers see it, contributors define, run, pause and delete it.
What happens when a job is triggered is ``core/job_executions.py``'s.
"""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, TypedDict

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from . import access as A
from . import schema as S
from .errors import Conflict, InvalidInput
from .projects import DEFAULT_PROJECT, ProjectIds, ensure_project
from .users import Actor
from .validation import (MAX_JOB_CONCURRENCY, MAX_JOB_RETRIES, MAX_JOB_TIMEOUT, MAX_RETRY_DELAY, check_cron,
                         check_int, check_job_name, check_job_params, check_key, check_number, check_timezone)

#: The fields of a job definition (``create_job``'s keyword arguments, the body of ``POST jobs``).
JOB_FIELDS = ("name", "notebook", "script", "params", "schedule", "timezone", "after", "project", "timeout",
              "retries", "retry_delay", "max_concurrent", "paused")


class JobSpec(TypedDict, total=False):
    name: str  # required
    notebook: str  # one of notebook, script
    script: str
    params: dict
    schedule: str  # cron, five fields; '' or absent: run only when triggered
    timezone: str  # the schedule's time zone (default UTC)
    after: list[str]  # upstream jobs
    project: str
    timeout: float | None  # seconds
    retries: int
    retry_delay: float
    max_concurrent: int
    paused: bool


class CheckedJob(TypedDict):
    name: str
    kind: str
    path: str
    params: dict
    schedule: str
    timezone: str
    after: list[str]
    project: str
    timeout: float | None
    retries: int
    retry_delay: float
    max_concurrent: int
    paused: bool


# -- checks ----------------------------------------------------------------------------------------------------------


def notebook_parameters(path: Path) -> frozenset[str]:
    """The names assigned at the top level of a notebook's ``parameters``-tagged cell (papermill's convention);
    empty when it has none. Raises :class:`InvalidInput` when the file is not a notebook."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidInput(f"notebook: {path} is not a readable notebook (.ipynb JSON): {e}") from None
    names: set[str] = set()
    for cell in cells:
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") != "code" or "parameters" not in tags:
            continue
        src = cell.get("source") or ""
        src = "".join(src) if isinstance(src, list) else src
        try:
            tree = ast.parse(src)
        except SyntaxError as e:
            raise InvalidInput(f"notebook: the 'parameters' cell of {path} is not valid Python: {e}") from None
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
    return frozenset(names)


def _path(field: str, value: Any, base: str | os.PathLike | None) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise InvalidInput(f"{field} must be a path to a file, not {value!r:.60}")
    p = Path(os.fspath(value)).expanduser()
    if not p.is_absolute():
        p = Path(base or os.getcwd()) / p
    p = p.resolve()
    if not p.is_file():
        raise InvalidInput(f"{field}: no file {p}")
    return p


def check_job(spec: Mapping[str, Any], base: str | os.PathLike | None = None) -> CheckedJob:
    """Check a job definition (see :data:`JOB_FIELDS`) and return it complete; a relative path is read from
    ``base`` (default: the current folder). Each problem is an :class:`InvalidInput` naming the field."""
    if not isinstance(spec, Mapping):
        raise InvalidInput("a job is an object with the fields " + ", ".join(JOB_FIELDS))
    unknown = sorted(set(spec) - set(JOB_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown job field {unknown[0]!r}; the fields are {', '.join(JOB_FIELDS)}")
    name = check_job_name("name", spec.get("name"))
    given = [k for k in ("notebook", "script") if spec.get(k) not in (None, "")]
    if len(given) != 1:
        raise InvalidInput("a job runs either a notebook or a script: give exactly one of notebook=…, script=…")
    kind = given[0]
    path = _path(kind, spec[kind], base)
    declared = None
    if kind == "notebook":
        if path.suffix != ".ipynb":
            raise InvalidInput(f"notebook: {path} is not an .ipynb file")
        declared = notebook_parameters(path)
    params = check_job_params("params", spec.get("params"), declared, str(path))
    after = spec.get("after") or []
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, (list, tuple)):
        raise InvalidInput(f"after must be a list of job names, not {after!r:.60}")
    after = sorted({check_job_name("after: job", a) for a in after})
    if name in after:
        raise InvalidInput(f"after: job {name!r} cannot run after itself")
    timeout = check_number("timeout", spec.get("timeout"), 0.001, MAX_JOB_TIMEOUT, nullable=True)
    paused = spec.get("paused", False)
    if not isinstance(paused, bool):
        raise InvalidInput(f"paused must be true or false, not {paused!r:.40}")
    return CheckedJob(
        name=name, kind=kind, path=str(path), params=params,
        schedule=check_cron("schedule", spec.get("schedule")),
        timezone=check_timezone("timezone", spec.get("timezone") or "UTC"),
        after=after, project=check_key("project", spec.get("project") or DEFAULT_PROJECT),
        timeout=timeout, retries=check_int("retries", spec.get("retries", 0), 0, MAX_JOB_RETRIES),
        retry_delay=check_number("retry_delay", spec.get("retry_delay", 10.0), 0, MAX_RETRY_DELAY),  # type: ignore
        max_concurrent=check_int("max_concurrent", spec.get("max_concurrent", 1), 1, MAX_JOB_CONCURRENCY),
        paused=paused)


# -- writes (inside a write transaction) -----------------------------------------------------------------------------


def _job_row(conn: Connection, name: str) -> dict:
    return A.named_row(conn, S.jobs, "job", name)


def find_job(conn: Connection, actor: Actor | None, name: str, need: str, what: str) -> dict:
    """The job ``name``'s row, once ``actor`` is found to have ``need`` in its project."""
    return A.find_named(conn, actor, S.jobs, "job", check_job_name("job", name), need, what)


def upstream_graph(conn: Connection) -> dict[int, set[int]]:
    """Job id → the ids of its upstream jobs."""
    g: dict[int, set[int]] = {}
    for jid, up in conn.execute(select(S.job_upstreams.c.job_id, S.job_upstreams.c.upstream_id)):
        g.setdefault(jid, set()).add(up)
    return g


def _cycle(graph: dict[int, set[int]], start: int) -> list[int] | None:
    """A path start → … → start following upstream edges, or None."""
    stack: list[tuple[int, list[int]]] = [(u, [start, u]) for u in sorted(graph.get(start, ()))]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node == start:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((u, path + [u]) for u in sorted(graph.get(node, ())))
    return None


def define_job(conn: Connection, ids: ProjectIds, job: CheckedJob, actor: Actor | None, user: str = "") -> dict:
    """Create the job, or replace the definition of the job of that name (its executions stay). Contributor of the
    project needed (a new project is the actor's to own); the upstream jobs must exist in the same project and the
    jobs must stay a DAG."""
    now = time.time()
    existing = conn.execute(select(S.jobs).where(S.jobs.c.name == job["name"])).first()
    if existing is not None:
        A.require(conn, actor, existing.project_id, A.CONTRIBUTOR, "redefining a job")
    pexists = conn.execute(select(S.projects.c.id).where(S.projects.c.name == job["project"])).scalar()
    if pexists is not None:
        A.require(conn, actor, pexists, A.CONTRIBUTOR, "defining a job")
    pid = ensure_project(conn, ids, job["project"])
    if pexists is None:
        A.make_owner(conn, actor, [job["project"]])
    ups: list[int] = []
    for name in job["after"]:
        row = conn.execute(select(S.jobs.c.id, S.jobs.c.project_id).where(S.jobs.c.name == name)).first()
        if row is None:
            raise InvalidInput(f"after: no job named {name!r} (define the upstream jobs first)")
        if row.project_id != pid:
            raise InvalidInput(f"after: job {name!r} is in another project than {job['project']!r}")
        ups.append(row.id)
    values = dict(project_id=pid, kind=job["kind"], path=job["path"], params=json.dumps(job["params"], sort_keys=True),
                  schedule=job["schedule"], timezone=job["timezone"], timeout=job["timeout"],
                  retries=job["retries"], retry_delay=job["retry_delay"], max_concurrent=job["max_concurrent"],
                  paused=job["paused"], updated_at=now)
    if existing is None:
        jid = conn.execute(S.jobs.insert().values(name=job["name"], user=user or (actor.name if actor else ""),
                                                  created_at=now, last_tick=None, **values)).inserted_primary_key[0]
    else:
        jid = existing.id
        if existing.schedule != job["schedule"] or existing.timezone != job["timezone"]:
            values["last_tick"] = None  # a new schedule counts from now
        conn.execute(update(S.jobs).where(S.jobs.c.id == jid).values(**values))
        conn.execute(delete(S.job_upstreams).where(S.job_upstreams.c.job_id == jid))
    if ups:
        conn.execute(S.job_upstreams.insert(), [{"job_id": jid, "upstream_id": u} for u in ups])
    cycle = _cycle(upstream_graph(conn), jid) if ups else None  # without upstream jobs it closes no cycle
    if cycle is not None:
        names = dict(conn.execute(select(S.jobs.c.id, S.jobs.c.name)).all())
        raise InvalidInput("after: this makes a cycle, " + " after ".join(names[i] for i in cycle)
                           + ": jobs must form a DAG")
    return job_dict(conn, _job_row(conn, job["name"]))


def set_paused(conn: Connection, actor: Actor | None, name: str, paused: bool) -> dict:
    job = find_job(conn, actor, name, A.CONTRIBUTOR, "pausing a job" if paused else "resuming a job")
    values: dict[str, Any] = {"paused": bool(paused), "updated_at": time.time()}
    if not paused:
        values["last_tick"] = None  # resumed: the schedule counts from now (ticks missed while paused are skipped)
    conn.execute(update(S.jobs).where(S.jobs.c.id == job["id"]).values(**values))
    return job_dict(conn, _job_row(conn, job["name"]))


def delete_job(conn: Connection, actor: Actor | None, name: str) -> None:
    """Delete a job and its executions (their runs stay). Refused while other jobs run after it."""
    job = find_job(conn, actor, name, A.CONTRIBUTOR, "deleting a job")
    down = conn.execute(select(S.jobs.c.name).join(S.job_upstreams, S.job_upstreams.c.job_id == S.jobs.c.id)
                        .where(S.job_upstreams.c.upstream_id == job["id"]).order_by(S.jobs.c.name)).scalars().all()
    if down:
        raise Conflict(f"job {name!r} is upstream of {', '.join(map(repr, down))}: delete or redefine those first")
    conn.execute(delete(S.job_executions).where(S.job_executions.c.job_id == job["id"]))
    conn.execute(delete(S.job_upstreams).where(S.job_upstreams.c.job_id == job["id"]))
    conn.execute(delete(S.jobs).where(S.jobs.c.id == job["id"]))


# -- reads -----------------------------------------------------------------------------------------------------------


def next_tick(schedule: str, timezone: str, after: float) -> float | None:
    """The first time of ``schedule`` (cron, in ``timezone``) strictly after ``after`` (seconds since the epoch)."""
    if not schedule:
        return None
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from croniter import croniter

    start = datetime.fromtimestamp(after, ZoneInfo(timezone))
    return float(croniter(schedule, start).get_next(float))


def latest_tick(schedule: str, timezone: str, now: float) -> float:
    """The last time of ``schedule`` (cron, in ``timezone``) at or before ``now``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from croniter import croniter

    return float(croniter(schedule, datetime.fromtimestamp(now + 1e-6, ZoneInfo(timezone))).get_prev(float))


def job_dict(conn: Connection, row: Mapping[str, Any], upstream: dict[int, list[str]] | None = None,
             last: dict[int, dict] | None = None, project: str | None = None) -> dict:
    """A job as the API shows it."""
    jid = row["id"]
    if upstream is None:
        upstream = {jid: list(conn.execute(
            select(S.jobs.c.name).join(S.job_upstreams, S.job_upstreams.c.upstream_id == S.jobs.c.id)
            .where(S.job_upstreams.c.job_id == jid).order_by(S.jobs.c.name)).scalars())}
    if last is None:
        last = last_executions(conn, [jid])
    if project is None:
        project = conn.execute(select(S.projects.c.name).where(S.projects.c.id == row["project_id"])).scalar()
    nxt = None
    if row["schedule"] and not row["paused"]:
        nxt = next_tick(row["schedule"], row["timezone"], max(row["last_tick"] or 0.0, time.time()))
    return {
        "id": jid, "name": row["name"], "project": project, row["kind"]: row["path"], "kind": row["kind"],
        "path": row["path"], "params": json.loads(row["params"]), "schedule": row["schedule"],
        "timezone": row["timezone"], "after": upstream.get(jid, []), "timeout": row["timeout"],
        "retries": row["retries"], "retry_delay": row["retry_delay"], "max_concurrent": row["max_concurrent"],
        "paused": bool(row["paused"]), "user": row["user"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "next_run": nxt, "last": last.get(jid),
    }


EXECUTION_COLUMNS = ("id", "job_id", "trigger_id", "status", "reason", "run_id", "attempts", "scheduled_for",
                     "created_at", "started_at", "ended_at")


def execution_dict(row: Mapping[str, Any], job: str) -> dict:
    return {"job": job, **{k: row[k] for k in EXECUTION_COLUMNS}}


def last_executions(conn: Connection, job_ids: list[int]) -> dict[int, dict]:
    """Each job's newest execution (by id)."""
    if not job_ids:
        return {}
    e = S.job_executions
    newest = select(func.max(e.c.id)).where(e.c.job_id.in_(job_ids)).group_by(e.c.job_id)
    rows = conn.execute(select(e, S.jobs.c.name).join(S.jobs, S.jobs.c.id == e.c.job_id)
                        .where(e.c.id.in_(newest))).all()
    return {r.job_id: execution_dict(r._mapping, r.name) for r in rows}


def list_jobs(conn: Connection, actor: Actor | None, project: int | str | None = None) -> list[dict]:
    """The jobs (of one project, or of every project the actor may read), by name."""
    from .projects import project_id

    q = select(S.jobs).order_by(S.jobs.c.name)
    if project not in (None, ""):
        pid = project_id(conn, project)
        A.require(conn, actor, pid, A.VIEWER, "listing jobs")
        q = q.where(S.jobs.c.project_id == pid)
    allowed = A.readable_projects(conn, actor)
    if allowed is not None:
        q = q.where(S.jobs.c.project_id.in_(sorted(allowed)))
    rows = [r._mapping for r in conn.execute(q)]
    ids = [r["id"] for r in rows]
    upstream: dict[int, list[str]] = {}
    up = S.jobs.alias("up")
    for jid, name in conn.execute(select(S.job_upstreams.c.job_id, up.c.name)
                                  .join(up, up.c.id == S.job_upstreams.c.upstream_id).order_by(up.c.name)):
        upstream.setdefault(jid, []).append(name)
    last = last_executions(conn, ids)
    projects = dict(conn.execute(select(S.projects.c.id, S.projects.c.name)).all())
    return [job_dict(conn, r, upstream, last, projects.get(r["project_id"])) for r in rows]


def get_job(conn: Connection, actor: Actor | None, name: str) -> dict:
    return job_dict(conn, find_job(conn, actor, name, A.VIEWER, "reading a job"))


def list_executions(conn: Connection, actor: Actor | None, name: str, limit: int = 50) -> list[dict]:
    """A job's executions, newest first."""
    job = find_job(conn, actor, name, A.VIEWER, "reading a job's executions")
    e = S.job_executions
    rows = conn.execute(select(e).where(e.c.job_id == job["id"]).order_by(e.c.id.desc()).limit(limit))
    return [execution_dict(r._mapping, job["name"]) for r in rows]
