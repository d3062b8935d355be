"""Projects, experiments and campaigns: the names runs are grouped by.

Writes (``ensure_*``) run inside a write transaction — a batch creates what its runs name; reads resolve a project
given by id or name and list projects and experiments with their counts.
"""

from __future__ import annotations

import threading
import time
from typing import Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection

from . import schema as S
from .db import after_commit, get_or_insert
from .errors import Conflict, NotFound
from .validation import check_key

DEFAULT_PROJECT = "Default"


class ProjectIds:
    """Project name → id, remembered once the transaction that created or found it has committed (never an id a
    rollback may undo); saves a query per batch for the common case of one project."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> int | None:
        return self._ids.get(name)

    def remember(self, conn: Connection, name: str, pid: int) -> None:
        def keep() -> None:
            with self._lock:
                if len(self._ids) < self.LIMIT:
                    self._ids[name] = pid

        after_commit(conn, keep)


def ensure_project(conn: Connection, ids: ProjectIds, name: str | None) -> int:
    """The id of the project ``name`` (default: "Default"), created if new."""
    name = check_key("project", name or DEFAULT_PROJECT)
    pid = ids.get(name)
    if pid is not None:
        return pid
    pid = get_or_insert(conn, S.projects, {"name": name}, description="", created_at=time.time())
    ids.remember(conn, name, pid)
    return pid


def ensure_experiment(conn: Connection, project_id: int, name: str) -> int:
    return get_or_insert(conn, S.experiments, {"project_id": project_id, "name": check_key("experiment", name)},
                         description="", created_at=time.time())


def ensure_campaign(conn: Connection, name: str, project_id: int | None = None) -> int:
    """The id of the campaign ``name``, created in project ``project_id`` if new (a campaign's name is the
    store's: runs of other projects join the same campaign)."""
    return get_or_insert(conn, S.campaigns, {"name": check_key("campaign", name)}, description="",
                         created_at=time.time(), project_id=project_id)


def write_projects(conn: Connection, ids: ProjectIds, items: list) -> None:
    """The batch's ``projects`` section: create each project; a ``description`` given is set (an empty one
    clears it)."""
    for p in items:
        pid = ensure_project(conn, ids, p["name"])
        if "description" in p:
            conn.execute(update(S.projects).where(S.projects.c.id == pid).values(description=p["description"]))


def write_experiments(conn: Connection, ids: ProjectIds, items: list) -> None:
    """The batch's ``experiments`` section: create each experiment (and its project); a ``description`` given is
    set."""
    for x in items:
        eid = ensure_experiment(conn, ensure_project(conn, ids, x["project"]), x["name"])
        if "description" in x:
            conn.execute(update(S.experiments).where(S.experiments.c.id == eid).values(description=x["description"]))


def write_campaigns(conn: Connection, ids: ProjectIds, items: list) -> None:
    """The batch's ``campaigns`` section: create each campaign in its project (and the project); a ``description``
    given is set. A campaign that exists in another project is refused (:class:`Conflict`)."""
    for c in items:
        pid = ensure_project(conn, ids, c["project"])
        cid = ensure_campaign(conn, c["name"], pid)
        owner = conn.execute(select(S.campaigns.c.project_id).where(S.campaigns.c.id == cid)).scalar()
        if owner is not None and owner != pid:
            other = conn.execute(select(S.projects.c.name).where(S.projects.c.id == owner)).scalar()
            raise Conflict(f"batch: campaigns: campaign {c['name']!r} belongs to project {other!r}, "
                           f"not {c['project']!r}")
        if owner is None:  # its project was deleted: it moves to this one
            conn.execute(update(S.campaigns).where(S.campaigns.c.id == cid).values(project_id=pid))
        if "description" in c:
            conn.execute(update(S.campaigns).where(S.campaigns.c.id == cid).values(description=c["description"]))


# -- reads -----------------------------------------------------------------------------------------------------------

#: The most digits a project or experiment given as a string is read as an id with (more could overflow SQLite's
#: 64-bit INTEGER); a longer all-digit string is only a name.
MAX_ID_DIGITS = 18


def as_id(value: int | str) -> int | None:
    """``value`` as a row id when it can be one — an int within SQLite's INTEGER, or a string of 1 to
    :data:`MAX_ID_DIGITS` ASCII digits — else None (a name: never an int the database would overflow on)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else None
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    return None


def project_id(conn: Connection, project: int | str | None) -> int | None:
    """The id of a project given by id or name (a string of digits is tried as an id, then as a name; over
    :data:`MAX_ID_DIGITS` digits only as a name); None for no project; :class:`NotFound` for an unknown one."""
    if project is None or project == "":
        return None
    pid = as_id(project)
    row = None
    if pid is not None:
        row = conn.execute(select(S.projects.c.id).where(S.projects.c.id == pid)).first()
    if row is None and not isinstance(project, int):
        row = conn.execute(select(S.projects.c.id).where(S.projects.c.name == str(project))).first()
    if row is None:
        raise NotFound(f"no project {project!r}")
    return row[0]


def project_names(conn: Connection, ids) -> list[str]:
    """The names of the projects with these ids."""
    ids = sorted(ids)
    if not ids:
        return []
    return [r[0] for r in conn.execute(select(S.projects.c.name).where(S.projects.c.id.in_(ids)))]


def list_projects(conn: Connection, project: int | str | None = None) -> list[dict]:
    """Projects with their run and experiment counts, by name; only ``project`` when given."""
    p, r, e = S.projects, S.runs, S.experiments
    run_count = select(func.count()).where(r.c.project_id == p.c.id).scalar_subquery()
    exp_count = select(func.count()).where(e.c.project_id == p.c.id).scalar_subquery()
    q = select(p, run_count.label("run_count"), exp_count.label("experiment_count")).order_by(p.c.name)
    pid = project_id(conn, project)
    if pid is not None:
        q = q.where(p.c.id == pid)
    return [dict(row._mapping) for row in conn.execute(q)]


def list_experiments(conn: Connection, project: int | str | None = None) -> list[dict]:
    e, p, link = S.experiments, S.projects, S.run_experiments
    run_count = select(func.count()).where(link.c.experiment_id == e.c.id).scalar_subquery()
    q = (
        select(e, p.c.name.label("project"), run_count.label("run_count"))
        .join(p, p.c.id == e.c.project_id)
        .order_by(p.c.name, e.c.name)
    )
    pid = project_id(conn, project)
    if pid is not None:
        q = q.where(e.c.project_id == pid)
    return [dict(row._mapping) for row in conn.execute(q)]


def list_campaigns(conn: Connection, project: int | str | None = None,
                   projects: Iterable[int] | None = None, name: str | None = None) -> list[dict]:
    """Campaigns (``name``, ``description``, ``project``, ``created_at``, ``run_count``), by name: those created in
    ``project`` or holding one of its runs (``run_count`` then counts that project's runs only); with
    ``projects`` (team mode: the caller's), only campaigns of those projects or holding their runs."""
    c, p, link, r = S.campaigns, S.projects, S.campaign_runs, S.runs
    pid = project_id(conn, project)
    counted = select(func.count()).select_from(link.join(r, r.c.id == link.c.run_id)).where(
        link.c.campaign_id == c.c.id)
    if pid is not None:
        counted = counted.where(r.c.project_id == pid)
    elif projects is not None:
        counted = counted.where(r.c.project_id.in_(sorted(projects)))
    q = (select(c.c.id, c.c.name, c.c.description, c.c.created_at, p.c.name.label("project"),
                counted.scalar_subquery().label("run_count"))
         .outerjoin(p, p.c.id == c.c.project_id).order_by(c.c.name))
    if name is not None:
        q = q.where(c.c.name == name)
    scope = None
    if pid is not None:
        scope = [pid]
    elif projects is not None:
        scope = sorted(projects)
    if scope is not None:
        holds = select(link.c.campaign_id).join(r, r.c.id == link.c.run_id).where(r.c.project_id.in_(scope))
        q = q.where(or_(c.c.project_id.in_(scope), c.c.id.in_(holds)))
    return [dict(row._mapping) for row in conn.execute(q)]


def campaign_named(conn: Connection, name: str) -> dict:
    """One campaign by name (as :func:`list_campaigns` lists it, ``run_count`` over all projects)."""
    for c in list_campaigns(conn, name=name):
        return c
    raise NotFound(f"no campaign {name!r}")
