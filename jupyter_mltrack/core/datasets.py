"""Datasets: named per project, versioned by content.

A dataset version is an artifact of type ``dataset`` of the run that logged it, plus a ``dataset_versions`` row:
its kind (``file``, ``folder``, ``zip`` or ``table`` — a DataFrame stored as Parquet), its content (the SHA-256 of
its files' sorted paths and hashes, :func:`files_content`) and, for tables, its schema, row count and a preview.
The same content logged again is the version it already is: no artifact is added. Writes are the batch's
``datasets`` section and the dataset half of its ``aliases`` section; runs record the versions they use as run
inputs (role ``dataset``) of the version's artifact.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable, Iterable, TypedDict

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from . import schema as S
from .batch import AliasItem, ArtifactItem, DatasetItem
from .db import dialect_insert, get_or_insert
from .errors import InvalidInput, NotFound
from .projects import ProjectIds, ensure_project, project_id
from .versions import aliases_by_version, pick_version


class DatasetVersion(TypedDict, total=False):
    project: str
    name: str
    version: int
    existing: bool  # the same content was logged before: this is that version


def files_content(files: Iterable[tuple[str, str]]) -> str:
    """The content of a set of files (path, sha256): the SHA-256 of their sorted paths and hashes."""
    h = hashlib.sha256()
    for path, sha in sorted(files):
        h.update(f"{path}\0{sha}\n".encode())
    return h.hexdigest()


def write_datasets(conn: Connection, ids: ProjectIds, items: list[DatasetItem],
                   add_artifact: Callable[[ArtifactItem], int]) -> list[DatasetVersion]:
    """A version of each dataset for content it does not hold yet (its artifact added to the logging run through
    ``add_artifact``); content it holds is answered with that version (``existing``)."""
    dv = S.dataset_versions
    out: list[DatasetVersion] = []
    for item in items:
        pid = ensure_project(conn, ids, item["project"])
        did = get_or_insert(conn, S.datasets, {"project_id": pid, "name": item["name"]}, created_at=time.time())
        conn.execute(select(S.datasets.c.id).where(S.datasets.c.id == did).with_for_update())  # see registry.lock_row
        content = files_content((f["path"], f["sha256"]) for f in item["files"])
        same = conn.execute(select(dv.c.version).where(dv.c.dataset_id == did, dv.c.content == content)).scalar()
        if same is not None:
            out.append({"project": item["project"], "name": item["name"], "version": same, "existing": True})
            continue
        version = conn.execute(
            select(func.coalesce(func.max(dv.c.version), 0)).where(dv.c.dataset_id == did)).scalar_one() + 1
        meta = dict(item.get("metadata") or {})
        aid = add_artifact({"run_id": item["run_id"], "name": item["name"], "type": "dataset", "files": item["files"],
                            "metadata": {**meta, "dataset": item["name"], "dataset_version": version,
                                         "kind": item["kind"], "content": content}})
        conn.execute(dv.insert().values(dataset_id=did, version=version, artifact_id=aid, content=content,
                                        kind=item["kind"], meta=json.dumps(meta, default=str), created_at=time.time()))
        out.append({"project": item["project"], "name": item["name"], "version": version})
    return out


def _dataset_id(conn: Connection, project: str, name: str) -> int:
    row = conn.execute(select(S.datasets.c.id).join(S.projects, S.projects.c.id == S.datasets.c.project_id)
                       .where(S.projects.c.name == project, S.datasets.c.name == name)).first()
    if row is None:
        raise NotFound(f"no dataset {name!r} in project {project!r}")
    return row[0]


def write_dataset_aliases(conn: Connection, items: list[AliasItem]) -> int:
    """Point each alias at a version of its dataset (moved if it pointed elsewhere), or remove it (version None)."""
    al, dv = S.dataset_aliases, S.dataset_versions
    insert = dialect_insert(conn.dialect.name)
    for a in items:
        did = _dataset_id(conn, a["project"], a["dataset"])
        if a["version"] is None:
            conn.execute(delete(al).where(al.c.dataset_id == did, al.c.alias == a["alias"]))
            continue
        if conn.execute(select(dv.c.version).where(dv.c.dataset_id == did, dv.c.version == a["version"])).first() is None:
            raise NotFound(f"dataset {a['dataset']!r} has no version {a['version']}")
        ins = insert(al).values(dataset_id=did, alias=a["alias"], version=a["version"], updated_at=time.time())
        conn.execute(ins.on_conflict_do_update(index_elements=["dataset_id", "alias"],
                                               set_={"version": ins.excluded.version,
                                                     "updated_at": ins.excluded.updated_at}))
    return len(items)


def list_datasets(conn: Connection, project: int | str | None = None, name: str | None = None,
                  files: bool = True, readable: frozenset[int] | None = None) -> list[dict]:
    """Every dataset version (of ``name``), newest first: ``project``, ``name``, ``version``, ``kind``, ``content``,
    ``artifact_id``, ``run_id``, ``created_at``, ``metadata``, ``aliases`` and (with ``files``) its files."""
    d, dv, ar, p = S.datasets, S.dataset_versions, S.artifacts, S.projects
    q = (select(d.c.id.label("dataset_id"), p.c.name.label("project"), d.c.name, dv.c.version, dv.c.kind,
                dv.c.content, dv.c.artifact_id, ar.c.run_id, dv.c.created_at, dv.c.meta)
         .join(dv, dv.c.dataset_id == d.c.id).join(ar, ar.c.id == dv.c.artifact_id).join(p, p.c.id == d.c.project_id)
         .order_by(p.c.name, d.c.name, dv.c.version.desc()))
    pid = project_id(conn, project)
    if pid is not None:
        q = q.where(d.c.project_id == pid)
    if name is not None:
        q = q.where(d.c.name == name)
    if readable is not None:
        q = q.where(d.c.project_id.in_(sorted(readable)))
    rows = [dict(r._mapping) for r in conn.execute(q)]
    aliases = aliases_by_version(conn, S.dataset_aliases, "dataset_id", [r["dataset_id"] for r in rows])
    by_artifact: dict[int, list[dict]] = {}
    if files and rows:
        af = S.artifact_files
        for aid, path, sha, size in conn.execute(
                select(af.c.artifact_id, af.c.path, af.c.sha256, af.c.size)
                .where(af.c.artifact_id.in_(sorted({r["artifact_id"] for r in rows}))).order_by(af.c.path)):
            by_artifact.setdefault(aid, []).append({"path": path, "sha256": sha, "size": size})
    for r in rows:
        r["metadata"] = json.loads(r.pop("meta") or "{}")
        r["aliases"] = aliases.get((r["dataset_id"], r["version"]), [])
        if files:
            r["files"] = by_artifact.get(r["artifact_id"], [])
    return rows


def resolve_dataset(conn: Connection, name: str, version: int | None = None, alias: str | None = None,
                    project: int | str | None = None, readable: frozenset[int] | None = None) -> dict:
    """One version of the dataset ``name``: by ``version``, by ``alias``, or the newest (``readable``: the projects
    the reader may read; None: all)."""
    if version is not None and alias is not None:
        raise InvalidInput("give a dataset's version or its alias, not both")
    return pick_version("dataset", name, list_datasets(conn, project, name, readable=readable), project, alias,
                        version)


# -- diffs ---------------------------------------------------------------------------------------------------------


def diff_files(a: dict, b: dict) -> dict[str, list[str]]:
    """The files of two versions compared by path: ``added``, ``removed``, ``changed`` (other bytes), ``unchanged``
    count."""
    fa = {f["path"]: f["sha256"] for f in a["files"]}
    fb = {f["path"]: f["sha256"] for f in b["files"]}
    return {"added": sorted(set(fb) - set(fa)), "removed": sorted(set(fa) - set(fb)),
            "changed": sorted(p for p in set(fa) & set(fb) if fa[p] != fb[p]),
            "unchanged": sum(1 for p in set(fa) & set(fb) if fa[p] == fb[p])}  # type: ignore[dict-item]


def diff_schema(a: dict, b: dict) -> dict[str, Any]:
    """Two tables' columns from their metadata: ``added``, ``removed`` and ``changed`` types ({col: {"a", "b"}})."""
    sa, sb = a["metadata"].get("schema") or {}, b["metadata"].get("schema") or {}
    return {"added": [c for c in sb if c not in sa], "removed": [c for c in sa if c not in sb],
            "changed": {c: {"a": sa[c], "b": sb[c]} for c in sa if c in sb and sa[c] != sb[c]}}


def diff_rows(frame_a: Any, frame_b: Any) -> dict[str, int]:
    """Rows of two DataFrames compared as a multiset over their common columns, by value (numbers as floats, the
    rest as text): ``added`` (in b only), ``removed`` (in a only), ``unchanged``."""
    import collections

    import pandas as pd

    common = [c for c in frame_a.columns if c in frame_b.columns]

    def canonical(frame):  # by value: 1 and 1.0 are the same number whatever the column's type
        return pd.DataFrame({c: frame[c].astype("float64") if pd.api.types.is_numeric_dtype(frame[c])
                             else frame[c].astype(str) for c in common})

    ha = collections.Counter(pd.util.hash_pandas_object(canonical(frame_a), index=False).tolist())
    hb = collections.Counter(pd.util.hash_pandas_object(canonical(frame_b), index=False).tolist())
    return {"added": sum((hb - ha).values()), "removed": sum((ha - hb).values()), "unchanged": sum((ha & hb).values())}


def is_table(v: dict) -> bool:
    """A version that is one table: a DataFrame logged as Parquet, or a CSV or Parquet file that read as one."""
    return "schema" in v["metadata"] and len(v["files"]) == 1


def read_table(data: bytes, path: str) -> Any:
    import io

    import pandas as pd

    return pd.read_csv(io.BytesIO(data)) if path.lower().endswith(".csv") else pd.read_parquet(io.BytesIO(data))


def diff_versions(a: dict, b: dict, read_bytes: Callable[[str], bytes] | None = None) -> dict[str, Any]:
    """What differs between two dataset versions: their files, and for tables their ``columns`` (schema) and
    ``rows`` (counts, and — when ``read_bytes`` reads a blob — the rows added and removed)."""
    out: dict[str, Any] = {"a": {"version": a["version"], "kind": a["kind"], "content": a["content"]},
                           "b": {"version": b["version"], "kind": b["kind"], "content": b["content"]},
                           "same": a["content"] == b["content"], "files": diff_files(a, b)}
    if is_table(a) and is_table(b):
        out["columns"] = diff_schema(a, b)
        out["rows"] = {"a": a["metadata"].get("rows"), "b": b["metadata"].get("rows")}
        if read_bytes is not None:
            frames = [read_table(read_bytes(v["files"][0]["sha256"]), v["files"][0]["path"]) for v in (a, b)]
            out["rows"].update(diff_rows(*frames))
    return out
