"""Lineage: runs ↔ artifacts ↔ datasets ↔ models, walked up (where something came from) or down (what came of it).

The graph is read from the tables that already say it — nothing is stored twice:

* a run produced its artifacts (``artifacts.run_id``): run → artifact;
* a dataset or model version *is* an artifact under a name (``dataset_versions`` / ``model_versions.artifact_id``):
  artifact → dataset version, artifact → model version;
* a run used an artifact (``run_inputs``): artifact → run, or — when the artifact is a dataset's or a model's
  version — dataset/model version → run, so the walk passes through the name the run asked for.

Edges point the way data flows (producer → consumer) whichever way the walk goes. Cycles cannot arise: a run input
that would make a run its own ancestor is refused when it is written (:func:`check_input`), and a walk visits each
node once anyway. Nodes of projects the reader may not read are left out, and the walk does not pass through them.
"""

from __future__ import annotations

from typing import Any, Iterable, TypedDict

from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import schema as S
from .db import chunked
from .errors import Conflict, InvalidInput, NotFound
from .validation import LINEAGE_DIRECTIONS, MAX_LINEAGE_DEPTH, MAX_LINEAGE_NODES, check_int

Node = tuple[str, Any]  # ("run", id) | ("artifact", id) | ("dataset", (dataset_id, version)) | ("model", (model_id, version))


class LineageEdge(TypedDict):
    source: str
    target: str
    kind: str  # output (run → artifact), version (artifact → dataset/model version), input (→ run)
    role: str


class Lineage(TypedDict):
    root: str
    direction: str
    depth: int
    nodes: list[dict]
    edges: list[LineageEdge]
    truncated: bool


def node_id(n: Node) -> str:
    kind, key = n
    return f"{kind}:{key[0]}:{key[1]}" if isinstance(key, tuple) else f"{kind}:{key}"


def _in(conn: Connection, q_of, keys: Iterable) -> list:
    out: list = []
    for part in chunked(sorted(set(keys))):
        out.extend(conn.execute(q_of(part)).all())
    return out


def _wrappers(conn: Connection, aids: set[int]) -> dict[int, list[Node]]:
    out: dict[int, list[Node]] = {}
    dv, mv = S.dataset_versions, S.model_versions
    for aid, did, v in _in(conn, lambda p: select(dv.c.artifact_id, dv.c.dataset_id, dv.c.version)
                           .where(dv.c.artifact_id.in_(p)), aids):
        out.setdefault(aid, []).append(("dataset", (did, v)))
    for aid, mid, v in _in(conn, lambda p: select(mv.c.artifact_id, mv.c.model_id, mv.c.version)
                           .where(mv.c.artifact_id.in_(p)), aids):
        out.setdefault(aid, []).append(("model", (mid, v)))
    return out


def _wrapped_artifacts(conn: Connection, nodes: list[Node]) -> dict[Node, int]:
    out: dict[Node, int] = {}
    for kind, table, col in (("dataset", S.dataset_versions, "dataset_id"), ("model", S.model_versions, "model_id")):
        for key in [k for t, k in nodes if t == kind]:
            aid = conn.execute(select(table.c.artifact_id).where(table.c[col] == key[0],
                                                                 table.c.version == key[1])).scalar()
            if aid is not None:
                out[(kind, key)] = aid
    return out


def _consumers(conn: Connection, aids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    ri = S.run_inputs
    out: dict[int, list[tuple[str, str]]] = {}
    for aid, rid, role in _in(conn, lambda p: select(ri.c.artifact_id, ri.c.run_id, ri.c.role)
                              .where(ri.c.artifact_id.in_(p)).order_by(ri.c.run_id), aids):
        out.setdefault(aid, []).append((rid, role))
    return out


def _neighbours(conn: Connection, frontier: list[Node], up: bool) -> list[tuple[Node, Node, str, str]]:
    """(node of ``frontier``, its neighbour up or down, edge kind, role) for every edge leaving the frontier."""
    out: list[tuple[Node, Node, str, str]] = []
    runs = [k for t, k in frontier if t == "run"]
    arts = [k for t, k in frontier if t == "artifact"]
    wrapped = _wrapped_artifacts(conn, [n for n in frontier if n[0] in ("dataset", "model")])
    ar, ri = S.artifacts, S.run_inputs
    if up:
        ins = _in(conn, lambda p: select(ri.c.run_id, ri.c.artifact_id, ri.c.role).where(ri.c.run_id.in_(p))
                  .order_by(ri.c.artifact_id), runs)
        wraps = _wrappers(conn, {a for _, a, _ in ins})
        for rid, aid, role in ins:
            for src in wraps.get(aid) or [("artifact", aid)]:
                out.append((("run", rid), src, "input", role))
        for aid, rid in _in(conn, lambda p: select(ar.c.id, ar.c.run_id).where(ar.c.id.in_(p)), arts):
            out.append((("artifact", aid), ("run", rid), "output", ""))
        for n, aid in wrapped.items():
            out.append((n, ("artifact", aid), "version", ""))
        return out
    for rid, aid in _in(conn, lambda p: select(ar.c.run_id, ar.c.id).where(ar.c.run_id.in_(p)).order_by(ar.c.id),
                        runs):
        out.append((("run", rid), ("artifact", aid), "output", ""))
    wraps = _wrappers(conn, set(arts))
    plain = [a for a in arts if a not in wraps]
    for aid, ws in wraps.items():
        for w in ws:
            out.append((("artifact", aid), w, "version", ""))
    users = _consumers(conn, set(plain) | set(wrapped.values()))
    for aid in plain:
        for rid, role in users.get(aid, []):
            out.append((("artifact", aid), ("run", rid), "input", role))
    for n, aid in wrapped.items():
        for rid, role in users.get(aid, []):
            out.append((n, ("run", rid), "input", role))
    return out


def _describe(conn: Connection, nodes: list[Node]) -> dict[Node, dict]:
    """Each node's description, with its ``project_id`` (the reader's access is decided on it)."""
    out: dict[Node, dict] = {}
    r, ar, p = S.runs, S.artifacts, S.projects
    runs = [k for t, k in nodes if t == "run"]
    for rid, name, status, pid, pname in _in(conn, lambda q: select(r.c.id, r.c.name, r.c.status, r.c.project_id,
                                                                     p.c.name).join(p, p.c.id == r.c.project_id)
                                              .where(r.c.id.in_(q)), runs):
        out[("run", rid)] = {"kind": "run", "run_id": rid, "name": name, "status": status, "project_id": pid,
                             "project": pname}
    arts = [k for t, k in nodes if t == "artifact"]
    for aid, name, typ, version, rid, pid, pname in _in(
            conn, lambda q: select(ar.c.id, ar.c.name, ar.c.type, ar.c.version, ar.c.run_id, r.c.project_id, p.c.name)
            .join(r, r.c.id == ar.c.run_id).join(p, p.c.id == r.c.project_id).where(ar.c.id.in_(q)), arts):
        out[("artifact", aid)] = {"kind": "artifact", "artifact_id": aid, "name": name, "type": typ,
                                  "version": version, "run_id": rid, "project_id": pid, "project": pname}
    for kind, owner, table, col, aliases in (
            ("dataset", S.datasets, S.dataset_versions, "dataset_id", S.dataset_aliases),
            ("model", S.models, S.model_versions, "model_id", S.model_aliases)):
        for key in [k for t, k in nodes if t == kind]:
            row = conn.execute(select(owner.c.name, owner.c.project_id, p.c.name, table.c.artifact_id)
                               .join(p, p.c.id == owner.c.project_id).join(table, table.c[col] == owner.c.id)
                               .where(owner.c.id == key[0], table.c.version == key[1])).first()
            if row is None:
                continue
            names = [a for (a,) in conn.execute(select(aliases.c.alias).where(
                aliases.c[col] == key[0], aliases.c.version == key[1]).order_by(aliases.c.alias))]
            out[(kind, key)] = {"kind": kind, "name": row[0], "version": key[1], "project_id": row[1],
                                "project": row[2], "artifact_id": row[3], "aliases": names}
    return out


def walk(conn: Connection, root: Node, direction: str = "up", depth: int | None = None,
         readable: frozenset[int] | None = None) -> Lineage:
    """The lineage of ``root`` ``direction`` ("up": what it came from; "down": what came of it), ``depth`` hops at
    most (None: to the end). ``readable``: the projects whose nodes may be shown (None: all)."""
    if direction not in LINEAGE_DIRECTIONS:
        raise InvalidInput(f"direction must be 'up' or 'down', not {direction!r:.40}")
    limit = MAX_LINEAGE_DEPTH if depth is None else check_int("depth", depth, 0, MAX_LINEAGE_DEPTH)
    info = _describe(conn, [root])
    if root not in info:
        raise NotFound(f"no {root[0]} {node_id(root)}")
    seen: dict[Node, dict] = dict(info)
    edges: list[LineageEdge] = []
    frontier, level, reached, truncated = [root], 0, 0, False
    while frontier and level < limit:
        level += 1
        hops = _neighbours(conn, frontier, direction == "up")
        fresh = [n for n in dict.fromkeys(nb for _, nb, _, _ in hops) if n not in seen]
        seen.update(_describe(conn, fresh))
        nxt: list[Node] = []
        for here, nb, kind, role in hops:
            if nb not in seen or (readable is not None and seen[nb]["project_id"] not in readable):
                continue
            src, dst = (nb, here) if direction == "up" else (here, nb)
            edges.append({"source": node_id(src), "target": node_id(dst), "kind": kind, "role": role})
            if nb in fresh and nb not in nxt:
                nxt.append(nb)
        if nxt:
            reached = level
        if len(seen) > MAX_LINEAGE_NODES:
            truncated = True
            break
        frontier = nxt
    if frontier and level >= limit and depth is None and _neighbours(conn, frontier, direction == "up"):
        truncated = True  # the walk's bound, not the graph's end
    keep = [n for n in seen if readable is None or seen[n]["project_id"] in readable]
    nodes = [{"id": node_id(n), **{k: v for k, v in seen[n].items() if k != "project_id"}} for n in keep]
    return {"root": node_id(root), "direction": direction, "depth": reached, "nodes": nodes,
            "edges": list({(e["source"], e["target"], e["kind"]): e for e in edges}.values()), "truncated": truncated}


def check_input(conn: Connection, run_id: str, artifact_id: int) -> None:
    """Refuse (:class:`Conflict`) a run input that would close a cycle: the artifact comes from ``run_id`` itself or
    from a run downstream of it."""
    ar, ri = S.artifacts, S.run_inputs
    producer = conn.execute(select(ar.c.run_id).where(ar.c.id == artifact_id)).scalar()
    if producer is None:
        return
    seen, frontier = {producer}, {producer}
    while frontier:
        if run_id in frontier:
            raise Conflict(f"run {run_id} cannot use artifact {artifact_id} as an input: it comes from "
                           + ("that run itself" if producer == run_id else f"run {producer}, which descends from it")
                           + " (lineage has no cycles)")
        ups = {x for (x,) in _in(conn, lambda p: select(ar.c.run_id).join(ri, ri.c.artifact_id == ar.c.id)
                                 .where(ri.c.run_id.in_(p)), frontier)}
        frontier = ups - seen
        seen |= frontier


def parse_node(kind: str, key: Any) -> Node:
    """A lineage root from its kind and key (``run``: id; ``artifact``: id)."""
    if kind == "run":
        return ("run", key)
    if kind == "artifact":
        return ("artifact", int(key))
    raise InvalidInput(f"a lineage starts at a run or an artifact, not {kind!r:.40}")

