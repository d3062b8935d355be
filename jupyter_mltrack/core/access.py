"""Who may do what (team mode): project members and their roles, and the checks every read and write makes.

Roles, each including the one before: **viewer** reads a project's runs, metrics, artifacts, models;
**contributor** also creates and updates runs, artifacts, tags, experiments and models; **owner** also manages the
members, renames the project and deletes. Whoever creates a project is its owner; an admin acts as the owner of
every project and manages users. Without an :class:`Actor` (embedded, single-user use) nothing is checked.

The checks live here, in the core, and run inside the transaction that reads or writes — a batch is checked
against the memberships it is applied with, and lists are filtered in SQL (:func:`readable_projects`), so a filter
can never leak another project's run.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from . import schema as S
from .db import chunked, dialect_insert
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .projects import DEFAULT_PROJECT, project_id
from .users import Actor, get_user

VIEWER, CONTRIBUTOR, OWNER = "viewer", "contributor", "owner"
RANK = {VIEWER: 1, CONTRIBUTOR: 2, OWNER: 3}


def check_role(role: object) -> str:
    if role not in RANK:
        raise InvalidInput(f"role must be one of owner, contributor, viewer — not {role!r:.40}")
    return role  # type: ignore[return-value]


def project_roles(conn: Connection, actor: Actor) -> dict[int, str]:
    """The actor's role in each project it is a member of (project id → role)."""
    pm = S.project_members
    return {pid: role for pid, role in conn.execute(
        select(pm.c.project_id, pm.c.role).where(pm.c.user_id == actor.user_id))}


def readable_projects(conn: Connection, actor: Actor | None) -> frozenset[int] | None:
    """The ids of the projects ``actor`` may read; None when it may read everything (no actor, or an admin)."""
    if actor is None or actor.admin:
        return None
    return frozenset(project_roles(conn, actor))


def role_in(conn: Connection, actor: Actor, pid: int) -> str | None:
    if actor.admin:
        return OWNER
    pm = S.project_members
    return conn.execute(select(pm.c.role).where(pm.c.project_id == pid, pm.c.user_id == actor.user_id)).scalar()


def _project_name(conn: Connection, pid: int) -> str:
    return conn.execute(select(S.projects.c.name).where(S.projects.c.id == pid)).scalar() or str(pid)


def refuse(conn: Connection, actor: Actor, pid: int, need: str, what: str, role: str | None) -> Forbidden:
    return Forbidden(f"{what} in project {_project_name(conn, pid)!r} needs the role {need}; {actor.name} is "
                     + (f"a {role}" if role else "not a member"))


def require(conn: Connection, actor: Actor | None, pid: int, need: str, what: str) -> None:
    """Raise :class:`Forbidden` (naming the role needed) unless ``actor`` has at least ``need`` in project ``pid``."""
    if actor is None or actor.admin:
        return
    role = role_in(conn, actor, pid)
    if role is None or RANK[role] < RANK[need]:
        raise refuse(conn, actor, pid, need, what, role)


def named_row(conn: Connection, table, noun: str, name: str) -> dict:
    """The row of ``table`` (a project's named thing: a job, a deployment) called ``name``; :class:`NotFound` naming
    the ``noun`` if there is none."""
    row = conn.execute(select(table).where(table.c.name == name)).first()
    if row is None:
        raise NotFound(f"no {noun} named {name!r}")
    return dict(row._mapping)


def find_named(conn: Connection, actor: Actor | None, table, noun: str, name: str, need: str, what: str) -> dict:
    """:func:`named_row`, once ``actor`` is found to have ``need`` in the row's project."""
    row = named_row(conn, table, noun, name)
    require(conn, actor, row["project_id"], need, what)
    return row


def require_admin(actor: Actor | None, what: str) -> None:
    if actor is not None and not actor.admin:
        raise Forbidden(f"{what} needs an admin; {actor.name} is not one")


def runs_projects(conn: Connection, run_ids: Iterable[str]) -> dict[str, int]:
    """Run id → project id, for the runs that exist."""
    out: dict[str, int] = {}
    for part in chunked(sorted(set(run_ids))):
        out.update(conn.execute(select(S.runs.c.id, S.runs.c.project_id).where(S.runs.c.id.in_(part))).all())
    return out


def require_runs(conn: Connection, actor: Actor | None, run_ids: Iterable[str], need: str, what: str) -> None:
    """Every existing run of ``run_ids`` is in a project where ``actor`` has ``need`` (unknown runs are left to the
    caller's NotFound)."""
    if actor is None or actor.admin:
        return
    for pid in sorted(set(runs_projects(conn, run_ids).values())):
        require(conn, actor, pid, need, what)


def require_artifact(conn: Connection, actor: Actor | None, artifact_id: int, need: str, what: str) -> None:
    if actor is None or actor.admin:
        return
    row = conn.execute(select(S.runs.c.project_id).join(S.artifacts, S.artifacts.c.run_id == S.runs.c.id)
                       .where(S.artifacts.c.id == int(artifact_id))).first()
    if row is not None:
        require(conn, actor, row[0], need, what)


# -- batches ---------------------------------------------------------------------------------------------------------


def check_batch(conn: Connection, actor: Actor | None, b) -> set[str]:
    """Check a normalised batch against ``actor``'s roles before it is applied (same transaction): contributor in
    every existing project it writes to (a campaign's: the project the item names, which must be the campaign's),
    owner to change an existing project's description, read access to every
    artifact it names as an input or a model (a dataset's run is a run it writes to). Returns the names of the projects it will create (their creator
    becomes their owner: :func:`make_owner`)."""
    if actor is None:
        return set()
    names: dict[str, str] = {}  # project name → what the batch does there
    for p in b["projects"]:
        names.setdefault(p["name"], "creating a project")
    for x in b["experiments"]:
        names.setdefault(x["project"], "creating an experiment")
    for c in b["campaigns"]:
        names.setdefault(c["project"], "describing a campaign")
    for r in b["runs"]:
        names.setdefault(r.get("project") or DEFAULT_PROJECT, "logging a run")
    for m in b["models"]:
        names.setdefault(m["project"], "registering a model")
    for d in b["datasets"]:
        names.setdefault(d["project"], "logging a dataset")
    for a in b["aliases"]:
        names.setdefault(a["project"], "setting an alias")
    for s in b["stages"]:
        names.setdefault(s["project"], "setting a stage")
    existing = dict(conn.execute(select(S.projects.c.name, S.projects.c.id)
                                 .where(S.projects.c.name.in_(sorted(names)))).all()) if names else {}
    new = set(names) - set(existing)
    if not actor.admin:
        for name, pid in sorted(existing.items()):
            require(conn, actor, pid, CONTRIBUTOR, names[name])
        described = {p["name"] for p in b["projects"] if "description" in p}
        for name in sorted(described & set(existing)):
            require(conn, actor, existing[name], OWNER, "changing the description")
        from .batch import referenced_runs

        declared = {r["id"] for r in b["runs"]}
        require_runs(conn, actor, referenced_runs(b) | declared, CONTRIBUTOR, "writing to a run")
        for aid in sorted({i["artifact_id"] for i in b["inputs"]} | {m["artifact_id"] for m in b["models"]}):
            require_artifact(conn, actor, aid, VIEWER, "using an artifact")
    return new


def make_owner(conn: Connection, actor: Actor | None, project_names: Iterable[str]) -> None:
    """``actor`` becomes the owner of the projects just created (those that exist now, in this transaction)."""
    if actor is None:
        return
    for name in sorted(project_names):
        pid = conn.execute(select(S.projects.c.id).where(S.projects.c.name == name)).scalar()
        if pid is not None:
            conn.execute(dialect_insert(conn.dialect.name)(S.project_members).values(
                project_id=pid, user_id=actor.user_id, role=OWNER).on_conflict_do_nothing())


# -- members ---------------------------------------------------------------------------------------------------------


def list_members(conn: Connection, actor: Actor | None, project: int | str) -> list[dict]:
    """The members of a project (``user``, ``role``), by name. Any member may see who else is one."""
    pid = project_id(conn, project)
    require(conn, actor, pid, VIEWER, "listing the members")
    pm, u = S.project_members, S.users
    q = (select(u.c.name.label("user"), pm.c.role).join(u, u.c.id == pm.c.user_id)
         .where(pm.c.project_id == pid).order_by(u.c.name))
    return [dict(r._mapping) for r in conn.execute(q)]


def _owners(conn: Connection, pid: int) -> int:
    pm = S.project_members
    return conn.execute(select(func.count()).where(pm.c.project_id == pid, pm.c.role == OWNER)).scalar_one()


def set_member(conn: Connection, actor: Actor | None, project: int | str, user: str, role: str) -> dict:
    """Add ``user`` to a project with ``role``, or change their role (owners only). A project keeps at least one
    owner."""
    role = check_role(role)
    pid = project_id(conn, project)
    if pid is None:
        raise InvalidInput("a project is required")
    require(conn, actor, pid, OWNER, "managing the members")
    uid = get_user(conn, user)["id"]
    pm = S.project_members
    current = conn.execute(select(pm.c.role).where(pm.c.project_id == pid, pm.c.user_id == uid)).scalar()
    if current == OWNER and role != OWNER and _owners(conn, pid) == 1:
        raise Conflict(f"{user} is the last owner of project {_project_name(conn, pid)!r}: make another member "
                       "the owner first")
    if current is None:
        conn.execute(pm.insert().values(project_id=pid, user_id=uid, role=role))
    elif current != role:
        conn.execute(update(pm).where(pm.c.project_id == pid, pm.c.user_id == uid).values(role=role))
    return {"project": _project_name(conn, pid), "user": user, "role": role}


def remove_member(conn: Connection, actor: Actor | None, project: int | str, user: str) -> None:
    pid = project_id(conn, project)
    if pid is None:
        raise InvalidInput("a project is required")
    require(conn, actor, pid, OWNER, "managing the members")
    uid = get_user(conn, user)["id"]
    pm = S.project_members
    current = conn.execute(select(pm.c.role).where(pm.c.project_id == pid, pm.c.user_id == uid)).scalar()
    if current is None:
        raise NotFound(f"{user} is not a member of project {_project_name(conn, pid)!r}")
    if current == OWNER and _owners(conn, pid) == 1:
        raise Conflict(f"{user} is the last owner of project {_project_name(conn, pid)!r}: make another member "
                       "the owner first")
    conn.execute(delete(pm).where(pm.c.project_id == pid, pm.c.user_id == uid))
