"""Named things kept in versions with aliases — models and datasets: choosing the one version a reference means."""

from __future__ import annotations

from typing import Any, Mapping, Sequence, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from .errors import InvalidInput, NotFound

V = TypeVar("V", bound=Mapping[str, Any])


def pick_version(kind: str, name: str, rows: Sequence[V], project: int | str | None = None,
                 alias: str | None = None, version: int | None = None) -> V:
    """The version of ``name`` (its ``rows``, newest first, each with ``project``, ``version`` and ``aliases``)
    that ``alias`` or ``version`` names, else the newest. Refused: no rows (:class:`NotFound`), a name in several
    projects (name the project), an unknown alias or version."""
    if not rows:
        raise NotFound(f"no {kind} {name!r}" + (f" in project {project!r}" if project not in (None, "") else ""))
    projects = sorted({r["project"] for r in rows})
    if len(projects) > 1:
        raise InvalidInput(f"{kind} {name!r} is in several projects ({', '.join(projects)}): name the project")
    if alias is not None:
        hit = [r for r in rows if alias in r["aliases"]]
        if not hit:
            raise NotFound(f"{kind} {name!r} has no alias {alias!r}")
        return hit[0]
    if version is not None:
        hit = [r for r in rows if r["version"] == version]
        if not hit:
            raise NotFound(f"{kind} {name!r} has no version {version}")
        return hit[0]
    return rows[0]


def aliases_by_version(conn: Connection, aliases: Table, owner: str,
                       ids: Sequence[int]) -> dict[tuple[int, int], list[str]]:
    """The aliases of the things ``ids`` (``owner``: the id column of the ``aliases`` table, ``model_id`` or
    ``dataset_id``), keyed by (id, version), each list sorted."""
    out: dict[tuple[int, int], list[str]] = {}
    if ids:
        col = aliases.c[owner]
        for oid, alias, version in conn.execute(select(col, aliases.c.alias, aliases.c.version)
                                                .where(col.in_(sorted(set(ids)))).order_by(aliases.c.alias)):
            out.setdefault((oid, version), []).append(alias)
    return out
