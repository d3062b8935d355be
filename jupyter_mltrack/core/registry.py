"""The model registry: named models per project, each version pointing at a stored artifact.

Registration is the batch's ``models`` section (one write path); reads list versions with the run and artifact
behind them.
"""

from __future__ import annotations

import time
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from . import schema as S
from .batch import ModelItem
from .db import get_or_insert
from .errors import NotFound
from .projects import ProjectIds, ensure_project, project_id


class Registered(TypedDict):
    project: str
    name: str
    version: int


def write_models(conn: Connection, ids: ProjectIds, items: list[ModelItem]) -> list[Registered]:
    """Add a new version of each model to its project, pointing at an existing artifact."""
    m, mv = S.models, S.model_versions
    out: list[Registered] = []
    for item in items:
        aid = item["artifact_id"]
        if conn.execute(select(S.artifacts.c.id).where(S.artifacts.c.id == aid)).first() is None:
            raise NotFound(f"no artifact {aid} (model {item['name']!r})")
        pid = ensure_project(conn, ids, item["project"])
        mid = get_or_insert(conn, m, {"project_id": pid, "name": item["name"]}, description="", created_at=time.time())
        version = conn.execute(
            select(func.coalesce(func.max(mv.c.version), 0)).where(mv.c.model_id == mid)).scalar_one() + 1
        conn.execute(mv.insert().values(model_id=mid, version=version, artifact_id=aid,
                                        stage=item.get("stage") or "", description=item.get("description") or "",
                                        created_at=time.time()))
        out.append({"project": item["project"], "name": item["name"], "version": version})
    return out


def list_models(conn: Connection, project: int | str | None = None) -> list[dict]:
    """Every registered model version with the run and artifact behind it, newest version first."""
    m, mv, ar, p = S.models, S.model_versions, S.artifacts, S.projects
    q = (
        select(m.c.id.label("model_id"), m.c.name, p.c.name.label("project"), mv.c.version, mv.c.stage,
               mv.c.description, mv.c.created_at, mv.c.artifact_id, ar.c.run_id,
               ar.c.name.label("artifact_name"), ar.c.version.label("artifact_version"))
        .join(mv, mv.c.model_id == m.c.id).join(ar, ar.c.id == mv.c.artifact_id).join(p, p.c.id == m.c.project_id)
        .order_by(p.c.name, m.c.name, mv.c.version.desc())
    )
    pid = project_id(conn, project)
    if pid is not None:
        q = q.where(m.c.project_id == pid)
    return [dict(r._mapping) for r in conn.execute(q)]
