"""Reading one run in full (``get_run``: head, params, tags, metric summaries, experiments, children, artifacts,
inputs, campaigns) and its artifacts and their files."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from . import run_shape as R
from . import schema as S
from .errors import InvalidInput, NotFound
from .validation import series_key
from .wire import stored_float


def get_run(conn: Connection, run_id: str) -> dict[str, Any]:
    """Everything stored about a run (the REST ``Run`` object; metric values as floats)."""
    r = S.runs
    if not isinstance(run_id, str) or not run_id:
        raise InvalidInput(f"run id must be a non-empty string, not {run_id!r}")
    row = conn.execute(
        select(*R.run_columns_sql()).join(S.projects, S.projects.c.id == r.c.project_id).where(r.c.id == run_id)
    ).first()
    if row is None:
        raise NotFound(f"no run {run_id!r}")
    run = R.run_head(tuple(row), time.time())
    run.update(_details(conn, run_id))
    run["children"] = [
        x[0] for x in conn.execute(select(r.c.id).where(r.c.parent_id == run_id).order_by(r.c.start_time))
    ]
    # figures' renderings are listed by GET runs/{id}/figures (core/figures.py), not here
    figs = select(S.figures.c.artifact_id).where(S.figures.c.run_id == run_id)
    run["artifacts"] = artifacts(conn, and_(S.artifacts.c.run_id == run_id, S.artifacts.c.id.not_in(figs)))
    ri, ar = S.run_inputs, S.artifacts
    run["inputs"] = [
        dict(m._mapping)
        for m in conn.execute(
            select(ri.c.artifact_id, ar.c.run_id, ar.c.name, ar.c.type, ar.c.version, ri.c.role)
            .join(ar, ar.c.id == ri.c.artifact_id)
            .where(ri.c.run_id == run_id)
        )
    ]
    c, cr = S.campaigns, S.campaign_runs
    run["campaigns"] = [
        x[0] for x in conn.execute(select(c.c.name).join(cr, cr.c.campaign_id == c.c.id).where(cr.c.run_id == run_id))
    ]
    return run


def require_run(conn: Connection, run_id: str) -> None:
    """NotFound unless the run exists."""
    if conn.execute(select(S.runs.c.id).where(S.runs.c.id == run_id)).first() is None:
        raise NotFound(f"no run {run_id!r}")


def _details(conn: Connection, run_id: str) -> dict[str, Any]:
    p, t, ms, e, link = S.params, S.tags, S.metric_series, S.experiments, S.run_experiments
    params = {key: json.loads(value) for key, value in conn.execute(
        select(p.c.key, p.c.value).where(p.c.run_id == run_id))}
    tags = dict(conn.execute(select(t.c.key, t.c.value).where(t.c.run_id == run_id)).all())
    q = select(ms.c.name, ms.c.context, ms.c.last, ms.c.last_step, ms.c.last_time, S.series_summary("min"),
               S.series_summary("max"), ms.c.count).where(ms.c.run_id == run_id).order_by(ms.c.name, ms.c.context)
    metrics = [{
        "name": row.name, "context": json.loads(row.context), "key": series_key(row.name, row.context),
        "last": stored_float(row.last, row.count), "last_step": row.last_step, "last_time": row.last_time,
        "min": row.min, "max": row.max, "count": row.count,
    } for row in conn.execute(q)]
    q = select(e.c.name).join(link, e.c.id == link.c.experiment_id).where(link.c.run_id == run_id)
    experiments = [x[0] for x in conn.execute(q.order_by(e.c.name))]
    return {"experiments": experiments, "params": params, "tags": tags, "metrics": metrics}


def artifacts(conn: Connection, where) -> list[dict]:
    """Artifacts matching ``where`` with their files, by name and version."""
    ar, af = S.artifacts, S.artifact_files
    arts = [dict(m._mapping) for m in conn.execute(select(ar).where(where).order_by(ar.c.name, ar.c.version))]
    if not arts:
        return []
    files = defaultdict(list)
    q = select(af).where(af.c.artifact_id.in_([a["id"] for a in arts])).order_by(af.c.path)
    for f in conn.execute(q):
        files[f.artifact_id].append({"path": f.path, "size": f.size, "sha256": f.sha256, "media_type": f.media_type})
    for a in arts:
        a["metadata"] = json.loads(a.pop("meta") or "{}")
        a["files"] = files[a["id"]]
    return arts


def get_artifact(conn: Connection, artifact_id: int) -> dict:
    arts = artifacts(conn, S.artifacts.c.id == int(artifact_id))
    if not arts:
        raise NotFound(f"no artifact {artifact_id}")
    return arts[0]


def find_artifact(conn: Connection, run_id: str, name: str, version: int | None = None) -> dict:
    """A run's artifact by name: the given version, else the latest."""
    ar = S.artifacts
    w = and_(ar.c.run_id == run_id, ar.c.name == name)
    if version is not None:
        w = and_(w, ar.c.version == int(version))
    arts = artifacts(conn, w)
    if not arts:
        raise NotFound(f"run {run_id!r} has no artifact {name!r}" + (f" version {version}" if version else ""))
    return arts[-1]


def artifact_file(art: dict, path: str) -> dict:
    """The file ``path`` of an artifact (as :func:`get_artifact` returns it)."""
    for f in art["files"]:
        if f["path"] == path:
            return f
    raise NotFound(f"artifact {art['id']} ({art['name']}) has no file {path!r}")
