"""The model registry: named models per project, each version pointing at a stored artifact, with stages and
aliases.

Registration is the batch's ``models`` section, alias moves its ``aliases`` section and stage changes its
``stages`` section (one write path). A version records the content of its artifact (:func:`content_key`): the same
bytes registered again answer the version they already are. An alias (``champion``, ``challenger``, any name but a
number) names exactly one version of its model; moving it is one row's update in the batch's transaction. Reads list
versions with the run, artifact and aliases behind them, and resolve a reference ``name``, ``name@alias`` or
``name@3``.
"""

from __future__ import annotations

import json
import time
from typing import Any, TypedDict

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from . import schema as S
from .batch import AliasItem, ModelItem, StageItem
from .datasets import files_content
from .db import dialect_insert, get_or_insert
from .errors import InvalidInput, NotFound
from .projects import ProjectIds, ensure_project, project_id
from .validation import parse_ref
from .versions import aliases_by_version, pick_version


class Registered(TypedDict, total=False):
    project: str
    name: str
    version: int
    existing: bool  # the same content was registered before: this is that version


def content_key(conn: Connection, artifact_id: int) -> str:
    """The content of an artifact: :func:`~.datasets.files_content` of its files (the same bytes under the same
    names are the same content, whichever run stored them)."""
    af = S.artifact_files
    return files_content(conn.execute(select(af.c.path, af.c.sha256).where(af.c.artifact_id == artifact_id)).all())


def write_models(conn: Connection, ids: ProjectIds, items: list[ModelItem]) -> list[Registered]:
    """Add a new version of each model to its project, pointing at an existing artifact — unless a version of that
    model already holds the same content: then that version is the answer (``existing``)."""
    m, mv = S.models, S.model_versions
    out: list[Registered] = []
    for item in items:
        aid = item["artifact_id"]
        if conn.execute(select(S.artifacts.c.id).where(S.artifacts.c.id == aid)).first() is None:
            raise NotFound(f"no artifact {aid} (model {item['name']!r})")
        pid = ensure_project(conn, ids, item["project"])
        mid = get_or_insert(conn, m, {"project_id": pid, "name": item["name"]}, description="", created_at=time.time())
        lock_row(conn, m, mid)  # registrations of one model wait for each other (PostgreSQL; SQLite's are serial)
        content = content_key(conn, aid)
        same = conn.execute(select(mv.c.version).where(mv.c.model_id == mid, mv.c.content == content)
                            .order_by(mv.c.version).limit(1)).scalar()
        if same is not None:
            out.append({"project": item["project"], "name": item["name"], "version": same, "existing": True})
            continue
        version = conn.execute(
            select(func.coalesce(func.max(mv.c.version), 0)).where(mv.c.model_id == mid)).scalar_one() + 1
        conn.execute(mv.insert().values(model_id=mid, version=version, artifact_id=aid, content=content,
                                        stage=item.get("stage") or "", description=item.get("description") or "",
                                        created_at=time.time()))
        out.append({"project": item["project"], "name": item["name"], "version": version})
    return out


def lock_row(conn: Connection, table, row_id: int) -> None:
    """Lock a row until the transaction ends (``SELECT … FOR UPDATE``; SQLite, whose writers are serial, has no
    row locks): concurrent writers of the same model or dataset — other server processes on one database — then
    see each other's versions instead of both taking the next number."""
    conn.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())


def _model_id(conn: Connection, project: str, name: str) -> int:
    row = conn.execute(select(S.models.c.id).join(S.projects, S.projects.c.id == S.models.c.project_id)
                       .where(S.projects.c.name == project, S.models.c.name == name)).first()
    if row is None:
        raise NotFound(f"no model {name!r} in project {project!r}")
    return row[0]


def _require_version(conn: Connection, mid: int, name: str, version: int) -> None:
    mv = S.model_versions
    if conn.execute(select(mv.c.version).where(mv.c.model_id == mid, mv.c.version == version)).first() is None:
        raise NotFound(f"model {name!r} has no version {version}")


def write_model_aliases(conn: Connection, items: list[AliasItem]) -> int:
    """Point each alias at a version of its model (moved if it pointed elsewhere), or remove it (version None)."""
    al = S.model_aliases
    insert = dialect_insert(conn.dialect.name)
    for a in items:
        mid = _model_id(conn, a["project"], a["model"])
        if a["version"] is None:
            conn.execute(delete(al).where(al.c.model_id == mid, al.c.alias == a["alias"]))
            continue
        _require_version(conn, mid, a["model"], a["version"])
        ins = insert(al).values(model_id=mid, alias=a["alias"], version=a["version"], updated_at=time.time())
        conn.execute(ins.on_conflict_do_update(index_elements=["model_id", "alias"],
                                               set_={"version": ins.excluded.version,
                                                     "updated_at": ins.excluded.updated_at}))
    return len(items)


def write_stages(conn: Connection, items: list[StageItem]) -> int:
    """Set the stage of model versions."""
    mv = S.model_versions
    for s in items:
        mid = _model_id(conn, s["project"], s["model"])
        _require_version(conn, mid, s["model"], s["version"])
        conn.execute(update(mv).where(mv.c.model_id == mid, mv.c.version == s["version"]).values(stage=s["stage"]))
    return len(items)


def list_models(conn: Connection, project: int | str | None = None, name: str | None = None,
                readable: frozenset[int] | None = None) -> list[dict]:
    """Every registered model version (of ``name``) with the run, artifact and aliases behind it, newest version
    first."""
    m, mv, ar, p = S.models, S.model_versions, S.artifacts, S.projects
    q = (
        select(m.c.id.label("model_id"), m.c.name, p.c.name.label("project"), mv.c.version, mv.c.stage,
               mv.c.description, mv.c.created_at, mv.c.artifact_id, ar.c.run_id,
               ar.c.name.label("artifact_name"), ar.c.version.label("artifact_version"), ar.c.type.label(
                   "artifact_type"), ar.c.meta, mv.c.content)
        .join(mv, mv.c.model_id == m.c.id).join(ar, ar.c.id == mv.c.artifact_id).join(p, p.c.id == m.c.project_id)
        .order_by(p.c.name, m.c.name, mv.c.version.desc())
    )
    pid = project_id(conn, project)
    if pid is not None:
        q = q.where(m.c.project_id == pid)
    if name is not None:
        q = q.where(m.c.name == name)
    if readable is not None:
        q = q.where(m.c.project_id.in_(sorted(readable)))
    rows = [dict(r._mapping) for r in conn.execute(q)]
    aliases = aliases_by_version(conn, S.model_aliases, "model_id", [r["model_id"] for r in rows])
    for r in rows:
        r["aliases"] = aliases.get((r["model_id"], r["version"]), [])
        meta = json.loads(r.pop("meta") or "{}")
        r["flavor"] = meta.get("flavor", "") if isinstance(meta, dict) else ""
    return rows


def resolve_model(conn: Connection, ref: str, project: int | str | None = None,
                  readable: frozenset[int] | None = None) -> dict:
    """The model version ``ref`` names (``name``: the newest version; ``name@alias``; ``name@3``), in ``project`` or —
    when the name is in one project only — wherever it is (``readable``: the projects the reader may read; None: all)."""
    name, alias, version = parse_ref("model", ref)
    return pick_version("model", name, list_models(conn, project, name, readable), project, alias, version)

