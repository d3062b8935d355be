"""Deployments: the model services a server extension (or an embedded ``mlt.deploy``) runs, as rows of the store.

A deployment has a name (unique in the store: it is the URL segment of ``mltrack/serve/{name}``), a project, a kind
(``model`` or ``ab_test``), its service spec as JSON (``jupyter_mltrack/serving/spec.py`` checks it before it is
stored; here it is kept as text), a status (``running``, ``stopped``, ``failed``) and, while it runs, the pid and
loopback port of its process, the model version it serves and the error it stopped with.

Writes are administrative writes on the store's write thread (``Database.write``), reads in a read transaction. In
team mode a deployment belongs to its project: viewers see it and may call it, contributors deploy, stop, start
and delete it. Which process runs it is the process manager's (``jupyter_mltrack/serving/manager.py``).
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping, TypedDict

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from . import access as A
from . import schema as S
from .errors import Conflict, InvalidInput
from .projects import ProjectIds, ensure_project
from .users import Actor
from .validation import DEPLOYMENT_KINDS, DEPLOYMENT_STATUSES, check_deployment_name, check_int, check_key, check_text


class Deployment(TypedDict):
    """A deployment as the API answers it (``GET deployments``): the process manager adds ``url``."""

    name: str
    project: str
    kind: str
    models: dict[str, float]
    strategy: str | None
    options: dict[str, Any]
    status: str
    port: int | None
    pid: int | None
    host: str
    model: str | None
    version: int | None
    run_id: str | None
    error: str
    user: str
    created_at: float
    started_at: float | None
    stopped_at: float | None
    spec: dict[str, Any]


#: The fields the process manager sets on a deployment's row (``set_state``).
STATE_FIELDS = ("status", "port", "pid", "host", "model", "version", "error", "started_at", "stopped_at")


def deployment_dict(row: Mapping[str, Any], project: str | None) -> Deployment:
    spec = json.loads(row["spec"])
    return {"name": row["name"], "project": project or "", "kind": row["kind"], "models": spec.get("models", {}),
            "strategy": spec.get("strategy"), "options": spec.get("options", {}), "status": row["status"],
            "port": row["port"], "pid": row["pid"], "host": row["host"], "model": row["model"],
            "version": row["version"], "run_id": spec.get("run_id"), "error": row["error"], "user": row["user"],
            "created_at": row["created_at"], "started_at": row["started_at"], "stopped_at": row["stopped_at"],
            "spec": spec}


def _project_name(conn: Connection, pid: int) -> str:
    return conn.execute(select(S.projects.c.name).where(S.projects.c.id == pid)).scalar() or ""


def _row(conn: Connection, name: str) -> dict:
    return A.named_row(conn, S.deployments, "deployment", name)


def find_deployment(conn: Connection, actor: Actor | None, name: str, need: str, what: str) -> dict:
    """The deployment ``name``'s row, once ``actor`` is found to have ``need`` in its project."""
    return A.find_named(conn, actor, S.deployments, "deployment", check_deployment_name("deployment", name), need,
                        what)


def get_deployment(conn: Connection, actor: Actor | None, name: str, need: str = A.VIEWER,
                   what: str = "reading a deployment") -> Deployment:
    d = find_deployment(conn, actor, name, need, what)
    return deployment_dict(d, _project_name(conn, d["project_id"]))


def define_deployment(conn: Connection, ids: ProjectIds, actor: Actor | None, name: str, project: str, kind: str,
                      spec: Mapping[str, Any], user: str = "") -> Deployment:
    """Record a new deployment (status ``stopped`` until its process runs). Contributor of the project needed (a new
    project is the actor's to own); a name taken in any project is a :class:`Conflict`."""
    check_deployment_name("name", name)
    check_key("project", project)
    if kind not in DEPLOYMENT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DEPLOYMENT_KINDS)}, not {kind!r:.60}")
    pexists = conn.execute(select(S.projects.c.id).where(S.projects.c.name == project)).scalar()
    if pexists is not None:  # the role first: a caller who may not deploy here learns nothing of the names in use
        A.require(conn, actor, pexists, A.CONTRIBUTOR, "deploying a model")
    existing = conn.execute(select(S.deployments.c.project_id).where(S.deployments.c.name == name)).first()
    if existing is not None:  # names are unique in the store, whatever the project
        raise Conflict(f"a deployment named {name!r} exists: stop and delete it, or choose another name")
    pid = ensure_project(conn, ids, project)
    if pexists is None:
        A.make_owner(conn, actor, [project])
    conn.execute(S.deployments.insert().values(
        project_id=pid, name=name, kind=kind, spec=json.dumps(dict(spec), sort_keys=True), status="stopped",
        user=user or (actor.name if actor else ""), created_at=time.time()))
    return deployment_dict(_row(conn, name), project)


def check_state(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``set_state``, checked."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if k not in STATE_FIELDS:
            raise InvalidInput(f"deployment state: unknown field {k!r} (known: {', '.join(STATE_FIELDS)})")
        if k == "status" and v not in DEPLOYMENT_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(DEPLOYMENT_STATUSES)}, not {v!r:.60}")
        if k in ("port", "pid", "version") and v is not None:
            v = check_int(k, v, 0, 2**31 - 1)
        if k in ("error", "host", "model") and v is not None:
            v = check_text(k, v, 20_000)
        out[k] = "" if k in ("error", "host") and v is None else v
    return out


def set_state(conn: Connection, name: str, values: Mapping[str, Any]) -> Deployment:
    """Set what the process manager knows of the deployment ``name``'s process (no access check: the manager acts
    after the caller was checked)."""
    d = _row(conn, name)
    conn.execute(update(S.deployments).where(S.deployments.c.id == d["id"]).values(**check_state(values)))
    return deployment_dict(_row(conn, name), _project_name(conn, d["project_id"]))


def list_deployments(conn: Connection, actor: Actor | None, project: int | str | None = None) -> list[Deployment]:
    """The deployments (of one project, or of every project the actor may read), by name."""
    from .projects import project_id

    q = select(S.deployments).order_by(S.deployments.c.name)
    if project not in (None, ""):
        pid = project_id(conn, project)
        A.require(conn, actor, pid, A.VIEWER, "listing deployments")
        q = q.where(S.deployments.c.project_id == pid)
    allowed = A.readable_projects(conn, actor)
    if allowed is not None:
        q = q.where(S.deployments.c.project_id.in_(sorted(allowed)))
    projects = dict(conn.execute(select(S.projects.c.id, S.projects.c.name)).all())
    return [deployment_dict(r._mapping, projects.get(r.project_id)) for r in conn.execute(q)]


def running_deployments(conn: Connection) -> list[Deployment]:
    """Every deployment recorded as running (what a starting server looks for, to adopt or mark stopped)."""
    projects = dict(conn.execute(select(S.projects.c.id, S.projects.c.name)).all())
    q = select(S.deployments).where(S.deployments.c.status == "running").order_by(S.deployments.c.name)
    return [deployment_dict(r._mapping, projects.get(r.project_id)) for r in conn.execute(q)]


def delete_deployment(conn: Connection, actor: Actor | None, name: str) -> None:
    """Forget a deployment; refused (:class:`Conflict`) while it runs: stop it first."""
    d = find_deployment(conn, actor, name, A.CONTRIBUTOR, "deleting a deployment")
    if d["status"] == "running":
        raise Conflict(f"deployment {name!r} is running: stop it first")
    conn.execute(delete(S.deployments).where(S.deployments.c.id == d["id"]))


class DeploymentRows:
    """The deployments of one store: each write an administrative write on the store's write thread, each read a
    read transaction (``store.deployments`` is one)."""

    def __init__(self, store: Any):
        self.store = store

    def create(self, name: str, project: str, kind: str, spec: Mapping[str, Any], actor: Actor | None = None,
               user: str = "") -> Deployment:
        s = self.store
        return s.db.write(lambda conn: define_deployment(conn, s.project_ids, actor, name, project, kind, spec, user))

    def get(self, name: str, actor: Actor | None = None, need: str = A.VIEWER,
            what: str = "reading a deployment") -> Deployment:
        with self.store.db.read() as conn:
            return get_deployment(conn, actor, name, need, what)

    def list(self, project: int | str | None = None, actor: Actor | None = None) -> list[Deployment]:
        with self.store.db.read() as conn:
            return list_deployments(conn, actor, project)

    def running(self) -> list[Deployment]:
        with self.store.db.read() as conn:
            return running_deployments(conn)

    def set_state(self, name: str, **values: Any) -> Deployment:
        return self.store.db.write(lambda conn: set_state(conn, name, values))

    def delete(self, name: str, actor: Actor | None = None) -> None:
        self.store.db.write(lambda conn: delete_deployment(conn, actor, name))
