"""Applying a normalised batch (``core/batch.py``) inside one write transaction: one function per section.

Order: projects, experiments and campaigns, runs (with their experiment and campaign links), then a check that every run the
batch refers to exists, params (immutable: a different value refuses the batch), tags, metric points, artifacts,
figures, run inputs (refused when they would close a lineage cycle), run updates (last: a run may be created, logged and
ended in one batch), model versions, dataset versions, aliases and stages; finally the
run-table fragments of runs that reached a final state are rebuilt and every run written is marked updated.

Exactly once: a batch with an id first claims it in ``applied_batches`` (an insert that does nothing when the id
is there). The claim is part of the batch's transaction, so it commits with the batch or not at all; a batch sent
again — a client retrying after a timeout, a server restarted while the first copy waited, another server process
on the same store — finds the claim and answers what the first application wrote, with ``duplicate: true``. On
PostgreSQL a second copy arriving while the first is still in its transaction waits on the claimed key, then finds
it. Claims older than :data:`APPLIED_RETENTION` are pruned (:func:`prune_applied`).
"""

from __future__ import annotations

import json
import time
from typing import Any, TypedDict

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

from . import fragments as F
from . import schema as S
from .batch import (RUN_SECTIONS, ArtifactItem, InputItem, NormalBatch, NormalParam, NormalTag, RunItem, UpdateItem,
                    referenced_runs)
from .blobs import Blobs
from .db import Statement, chunked, dialect_insert, fetch_raw, in_list
from .errors import Conflict, InvalidInput, NotFound
from .metric_store import write_points
from .projects import (ProjectIds, ensure_campaign, ensure_experiment, ensure_project, write_campaigns,
                       write_experiments, write_projects)
from .datasets import DatasetVersion, write_dataset_aliases, write_datasets
from .figures import write_figures
from .lineage import check_input
from .registry import Registered, write_model_aliases, write_models, write_stages
from .validation import param_columns, same_json_value


#: How long the ids of applied batches are remembered: a client retrying a batch later than this would apply it
#: again (its writer retries for minutes, not days).
APPLIED_RETENTION = 7 * 24 * 3600.0


class WriteResult(TypedDict, total=False):
    """What a batch wrote: counts per kind, and the model versions it registered (when it registered any).
    ``duplicate``: the batch's id had been applied before; the counts are those of that first application."""

    projects: int
    experiments: int
    campaigns: int
    runs: int
    params: int
    tags: int
    points: int
    artifacts: int
    figures: int
    inputs: int
    updates: int
    models: int
    datasets: int
    aliases: int
    stages: int
    registered: list[Registered]
    dataset_versions: list[DatasetVersion]
    duplicate: bool


_INSERT_PARAMS = Statement(lambda n: S.params.insert().values(
    run_id=bindparam("b_run"), key=bindparam("b_key"), value=bindparam("b_value"), num=bindparam("b_num"),
    text=bindparam("b_text")))
_KNOWN_RUNS = Statement(lambda n: select(S.runs.c.id).where(S.runs.c.id.in_(in_list(n))))
_TOUCH_RUNS = {
    (beat, clear): Statement(lambda n, beat=beat, clear=clear: update(S.runs).where(S.runs.c.id.in_(in_list(n))).values(
        updated_at=bindparam("now"), **({"heartbeat_at": bindparam("now")} if beat else {}),
        **({"table_row": ""} if clear else {})))
    for beat in (False, True) for clear in (False, True)
}


_CLAIM = Statement(lambda n, dialect: dialect_insert(dialect)(S.applied_batches).values(
    id=bindparam("id"), applied_at=bindparam("now"), result="").on_conflict_do_nothing()
    .returning(S.applied_batches.c.id), by_dialect=True)
_APPLIED = Statement(lambda n: select(S.applied_batches.c.result).where(S.applied_batches.c.id == bindparam("id")))
_RECORD = Statement(lambda n: update(S.applied_batches).where(S.applied_batches.c.id == bindparam("id")).values(
    result=bindparam("result")))


def claim_batch_id(conn: Connection, batch_id: str, now: float) -> WriteResult | None:
    """Claim ``batch_id`` for this transaction: None when it is new, else what its first application wrote."""
    if _CLAIM.run(conn, {"id": batch_id, "now": now}):  # the row inserted: the id is new
        return None
    rows = _APPLIED.run(conn, {"id": batch_id})
    done: WriteResult = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    done["duplicate"] = True
    return done


def prune_applied(conn: Connection, now: float) -> int:
    """Forget the ids of batches applied longer than :data:`APPLIED_RETENTION` ago."""
    res = conn.execute(delete(S.applied_batches).where(S.applied_batches.c.applied_at < now - APPLIED_RETENTION))
    return res.rowcount or 0


def apply_batch(conn: Connection, b: NormalBatch, blobs: Blobs, ids: ProjectIds) -> WriteResult:
    """Write a normalised batch in the transaction of ``conn``, once per batch id; raises NotFound / Conflict /
    InvalidInput."""
    now = time.time()
    if b["id"] is not None:
        done = claim_batch_id(conn, b["id"], now)
        if done is not None:
            return done
    out = _apply(conn, b, blobs, ids, now)
    if b["id"] is not None:
        _RECORD.run(conn, {"id": b["id"], "result": json.dumps(out)})
    return out


def _apply(conn: Connection, b: NormalBatch, blobs: Blobs, ids: ProjectIds, now: float) -> WriteResult:
    out: WriteResult = {"projects": len(b["projects"]), "experiments": len(b["experiments"]),
                        "campaigns": len(b["campaigns"])}
    write_projects(conn, ids, b["projects"])
    write_experiments(conn, ids, b["experiments"])
    write_campaigns(conn, ids, b["campaigns"])
    created, preexisting = write_runs(conn, ids, b["runs"], now)
    out["runs"] = len(created - preexisting)
    check_runs_exist(conn, referenced_runs(b) - created)
    new_runs = created - preexisting
    out["params"] = write_params(conn, b["params"], new_runs)
    out["tags"] = write_tags(conn, b["tags"])
    out["points"] = write_points(conn, b["metrics"], new_runs) if b["metrics"] else 0
    out["artifacts"] = write_artifacts(conn, b["artifacts"], blobs, now)
    out["figures"] = write_figures(conn, b["figures"], lambda a: insert_artifact(conn, a, blobs, now))
    out["inputs"] = write_inputs(conn, b["inputs"])
    out["updates"] = write_updates(conn, b["updates"])
    out["models"] = len(b["models"])
    if b["models"]:
        out["registered"] = write_models(conn, ids, b["models"])
    if b["datasets"]:
        out["dataset_versions"] = write_datasets(conn, ids, b["datasets"],
                                                 lambda a: insert_artifact(conn, a, blobs, now))
    out["datasets"] = len(b["datasets"])
    out["aliases"] = (write_model_aliases(conn, [a for a in b["aliases"] if "model" in a])
                      + write_dataset_aliases(conn, [a for a in b["aliases"] if "dataset" in a]))
    out["stages"] = write_stages(conn, b["stages"])
    finish_runs(conn, b, created, now)
    return out


def write_runs(conn: Connection, ids: ProjectIds, runs: list[RunItem], now: float) -> tuple[set[str], set[str]]:
    """Create the batch's runs (a run sent again — a retried batch — is left as it is) and link them to their
    experiments and campaigns. Returns (the runs the batch declares, those of them that existed before)."""
    if not runs:
        return set(), set()
    preexisting: set[str] = set()
    wanted = sorted({r["id"] for r in runs} | {r["parent_id"] for r in runs if r.get("parent_id")})
    for part in chunked(wanted):
        preexisting |= {r[0] for r in conn.execute(select(S.runs.c.id).where(S.runs.c.id.in_(part)))}
    declared = {r["id"] for r in runs}
    orphans = sorted({r["parent_id"] for r in runs if r.get("parent_id")} - declared - preexisting)
    if orphans:
        raise NotFound(f"unknown parent run{'s' if len(orphans) > 1 else ''}: {', '.join(orphans[:10])}")
    rows: dict[str, dict[str, Any]] = {}
    links, camp_links = [], []
    exp_ids: dict[tuple[int, str], int] = {}
    camp_ids: dict[str, int] = {}
    for run in runs:
        pid = ensure_project(conn, ids, run.get("project"))
        rid = run["id"]
        if rid not in preexisting and rid not in rows:
            rows[rid] = dict(
                id=rid, project_id=pid, name=run.get("name") or "", status=run.get("status") or "running",
                start_time=float(run.get("start_time") or now), end_time=None, heartbeat_at=now,
                updated_at=now, user=run.get("user") or "", description=run.get("description") or "",
                source=run.get("source") or "", parent_id=run.get("parent_id"), error=None,
            )
        for exp in run.get("experiments") or []:
            eid = exp_ids.get((pid, exp))
            if eid is None:
                eid = exp_ids[(pid, exp)] = ensure_experiment(conn, pid, exp)
            links.append({"run_id": rid, "experiment_id": eid})
        for camp in run.get("campaigns") or []:
            cid = camp_ids.get(camp)
            if cid is None:
                cid = camp_ids[camp] = ensure_campaign(conn, camp, pid)
            camp_links.append({"run_id": rid, "campaign_id": cid})
    insert = dialect_insert(conn.dialect.name)
    if rows:
        conn.execute(insert(S.runs).on_conflict_do_nothing(index_elements=["id"]), _parents_first(list(rows.values())))
    if links:
        conn.execute(insert(S.run_experiments).on_conflict_do_nothing(), links)
    if camp_links:
        conn.execute(insert(S.campaign_runs).on_conflict_do_nothing(), camp_links)
    return declared, preexisting


def _parents_first(rows: list[dict]) -> list[dict]:
    """Order new runs so that a parent created in the same batch is inserted before its children."""
    ids = {r["id"] for r in rows}
    done: set[str] = set()
    out: list[dict] = []
    pending = rows
    while pending:
        nxt = []
        for r in pending:
            p = r["parent_id"]
            if p is None or p not in ids or p in done or p == r["id"]:
                out.append(r)
                done.add(r["id"])
            else:
                nxt.append(r)
        if len(nxt) == len(pending):  # a cycle: let the database refuse it
            out.extend(nxt)
            break
        pending = nxt
    return out


def check_runs_exist(conn: Connection, run_ids: set[str]) -> None:
    """NotFound naming the runs that do not exist."""
    if not run_ids:
        return
    known: set[str] = set()
    for part in chunked(sorted(run_ids)):
        known |= {r[0] for r in _KNOWN_RUNS.run(conn, ids=part)}
    missing = run_ids - known
    if missing:
        raise NotFound(f"unknown run{'s' if len(missing) > 1 else ''}: {', '.join(sorted(missing)[:10])}")


def write_params(conn: Connection, params: list[NormalParam], new_runs: set[str]) -> int:
    """Params are immutable: the same value again is nothing; another value refuses the batch (Conflict, with
    ``items`` listing every conflict). Runs created by this batch have no stored params to compare with."""
    if not params:
        return 0
    want: dict[tuple[str, str], str] = {}
    conflicts = []
    for p in params:
        k = (p["run_id"], p["key"])
        if k in want and want[k] != p["value"]:
            conflicts.append({"run_id": k[0], "key": k[1], "stored": want[k], "value": p["value"]})
        want[k] = p["value"]
    existing: dict[tuple[str, str], str] = {}
    for part in chunked(sorted({rid for rid, _ in want} - new_runs)):
        q = select(S.params.c.run_id, S.params.c.key, S.params.c.value).where(S.params.c.run_id.in_(part))
        for rid, key, value in conn.execute(q):
            if (rid, key) in want:
                existing[(rid, key)] = value
    rows = []
    for k, v in want.items():
        old = existing.get(k)
        if old is None:
            num, txt = param_columns(v)
            rows.append({"b_run": k[0], "b_key": k[1], "b_value": v, "b_num": num, "b_text": txt})
        elif old != v and not same_json_value(json.loads(old), json.loads(v)):
            conflicts.append({"run_id": k[0], "key": k[1], "stored": old, "value": v})
    if conflicts:
        c = conflicts[0]
        err = Conflict(
            f"param {c['key']!r} of run {c['run_id']} is already {c['stored']}; params are immutable, "
            f"cannot set it to {c['value']}" + (f" (and {len(conflicts) - 1} more conflicts)" if len(conflicts) > 1 else "")
        )
        err.items = conflicts
        raise err
    if rows:
        _INSERT_PARAMS.run(conn, many=rows)
    return len(rows)


def write_tags(conn: Connection, tags: list[NormalTag]) -> int:
    """Tags are mutable: set (insert or replace) or, with value None, deleted."""
    insert = dialect_insert(conn.dialect.name)
    for t in tags:
        if t["value"] is None:
            conn.execute(delete(S.tags).where(S.tags.c.run_id == t["run_id"], S.tags.c.key == t["key"]))
        else:
            ins = insert(S.tags).values(run_id=t["run_id"], key=t["key"], value=t["value"])
            conn.execute(ins.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": ins.excluded.value}))
    return len(tags)


def write_artifacts(conn: Connection, artifacts: list[ArtifactItem], blobs: Blobs, now: float) -> int:
    """A new version of each artifact; its files must have been uploaded (their blobs exist)."""
    insert_artifacts(conn, artifacts, blobs, now)
    return len(artifacts)


def insert_artifact(conn: Connection, a: ArtifactItem, blobs: Blobs, now: float) -> int:
    """A new version of one artifact (its files' blobs must exist); returns its id."""
    return insert_artifacts(conn, [a], blobs, now)[0]


def insert_artifacts(conn: Connection, artifacts: list[ArtifactItem], blobs: Blobs, now: float) -> list[int]:
    """A new version of each artifact, in order (two of the same run and name in one call: two versions), their
    files' blobs checked first; returns their ids. A handful of statements for the lot, whatever their number: a
    flush of 2,000 runs carries 2,000 environment artifacts."""
    if not artifacts:
        return []
    ar, af = S.artifacts, S.artifact_files
    sizes: dict[str, int | None] = {}  # each stored blob looked up once (2,000 environments share one)
    for a in artifacts:
        for f in a["files"]:
            if f["sha256"] not in sizes:
                sizes[f["sha256"]] = blobs.size(f["sha256"])
            size = sizes[f["sha256"]]
            if size is None:
                raise NotFound(
                    f"artifact {a['name']!r}: file {f['path']!r} (sha256 {f['sha256'][:12]}…) has not been uploaded")
            if size != f["size"]:
                raise InvalidInput(f"batch: artifact {a['name']!r}: file {f['path']!r} has size {f['size']} but its "
                                   f"uploaded bytes (sha256 {f['sha256'][:12]}…) are {size} bytes")
    if sizes:
        conn.execute(dialect_insert(conn.dialect.name)(S.blobs).on_conflict_do_nothing(),
                     [{"sha256": h, "size": n, "created_at": now} for h, n in sizes.items()])
    names_by_run: dict[str, set[str]] = {}
    for a in artifacts:
        names_by_run.setdefault(a["run_id"], set()).add(a["name"])
    version: dict[tuple[str, str], int] = {}  # (run, name) → its newest version so far
    for part in chunked(sorted(names_by_run)):
        names = sorted(set().union(*(names_by_run[r] for r in part)))
        for nch in chunked(names):
            version.update(((r, n), v) for r, n, v in conn.execute(
                select(ar.c.run_id, ar.c.name, func.max(ar.c.version))
                .where(ar.c.run_id.in_(part), ar.c.name.in_(nch)).group_by(ar.c.run_id, ar.c.name)))
    rows = []
    for a in artifacts:
        key = (a["run_id"], a["name"])
        version[key] = version.get(key, 0) + 1
        rows.append({"run_id": a["run_id"], "name": a["name"], "type": a.get("type") or "", "version": version[key],
                     "created_at": now, "meta": json.dumps(a.get("metadata") or {}, default=str)})
    ids = [row[0] for row in conn.execute(ar.insert().returning(ar.c.id, sort_by_parameter_order=True), rows)]
    files = [{"artifact_id": aid, "path": f["path"], "sha256": f["sha256"], "size": f["size"],
              "media_type": f.get("media_type") or "application/octet-stream"}
             for aid, a in zip(ids, artifacts) for f in a["files"]]
    if files:
        conn.execute(af.insert(), files)
    return ids


def write_inputs(conn: Connection, inputs: list[InputItem]) -> int:
    """Record artifacts a run used (a repeated input is recorded once)."""
    insert = dialect_insert(conn.dialect.name)
    for i in inputs:
        if conn.execute(select(S.artifacts.c.id).where(S.artifacts.c.id == i["artifact_id"])).first() is None:
            raise NotFound(f"no artifact {i['artifact_id']} (run input of {i['run_id']})")
        check_input(conn, i["run_id"], i["artifact_id"])
        conn.execute(insert(S.run_inputs).values(**i).on_conflict_do_nothing())
    return len(inputs)


_UPDATE_FIELDS = ("status", "end_time", "error", "description", "name")
#: fields set → the UPDATE of those fields of one run (bound b_id, b_<field>): one compiled statement per shape
_UPDATE_RUN: dict[tuple[str, ...], Statement] = {}


def _update_run(fields: tuple[str, ...]) -> Statement:
    st = _UPDATE_RUN.get(fields)
    if st is None:
        st = _UPDATE_RUN[fields] = Statement(lambda n: update(S.runs).where(S.runs.c.id == bindparam("b_id")).values(
            **{f: bindparam("b_" + f) for f in fields}))
    return st


def write_updates(conn: Connection, updates: list[UpdateItem]) -> int:
    """Change runs' status, end time, error, description or name. A run's updates are merged in order (a later
    one's fields win), then the runs changing the same fields are written with one statement run many times."""
    merged: dict[str, dict[str, Any]] = {}
    n = 0
    for u in updates:
        vals = {k: u[k] for k in _UPDATE_FIELDS if k in u}  # type: ignore[literal-required]
        if vals:
            merged.setdefault(u["run_id"], {}).update(vals)
            n += 1
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for rid, vals in merged.items():
        fields = tuple(k for k in _UPDATE_FIELDS if k in vals)
        shapes.setdefault(fields, []).append({"b_id": rid, **{"b_" + k: vals[k] for k in fields}})
    for fields, rows in shapes.items():
        _update_run(fields).run(conn, many=rows)
    return n


def finish_runs(conn: Connection, b: NormalBatch, created: set[str], now: float) -> None:
    """Run-table fragments and bookkeeping. Fragments are rebuilt now for runs that reach a final state in this
    batch (they will not change again); for runs still logging they are only cleared here and rebuilt by readers,
    so a flush of a few points costs no extra queries. Every run written is marked updated; heartbeats are set."""
    changed = created | {p["run_id"] for p in b["params"]} | {t["run_id"] for t in b["tags"]}
    changed |= {m["run_id"] for m in b["metrics"]}
    final = {u["run_id"] for u in b["updates"] if u.get("status") not in (None, "running")}
    final |= {r["id"] for r in b["runs"] if r.get("status") not in (None, "running")}
    stale = changed - final
    if len(stale) >= F.PERSIST_STALE:  # a bulk import of runs still "running": build their fragments now
        final |= stale
        stale = set()
    ended = final - changed  # ended without other writes in this batch: built now if cleared by an earlier one
    refresh = changed & final
    for part in chunked(sorted(ended)):
        refresh |= {x[0] for x in fetch_raw(conn, select(S.runs.c.id).where(S.runs.c.id.in_(part),
                                                                             S.runs.c.table_row == ""))}
    if refresh:
        F.refresh(conn, refresh)
    touched = created | {x["run_id"] for k in RUN_SECTIONS for x in b[k]}  # type: ignore[literal-required]
    hb = set(b["heartbeat"])
    for ids_, beat, clear in ((hb & stale, True, True), (hb - stale, True, False), (stale - hb, False, True),
                              (touched - hb - stale, False, False)):
        for part in chunked(sorted(ids_)):
            _TOUCH_RUNS[(beat, clear)].run(conn, {"now": now}, ids=part)
