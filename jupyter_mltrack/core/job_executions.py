"""What happens when jobs are triggered: executions, the DAG's progress, the scheduler's lease.

A **trigger** (a cron tick, a "run now") names the jobs it fires. It adds one **execution** per job for those jobs
and every job downstream of them (``after=[…]``): ``queued`` when none of its upstream jobs is part of the trigger,
else ``pending``. A pending execution becomes ``queued`` once every upstream job succeeded in the same trigger, and
``skipped`` (with the reason) as soon as one failed, was killed or skipped, or is not part of the trigger. An
execution is unique per (trigger, job), and a cron tick is fired once per job (``fire_tick`` moves the job's
``last_tick`` forward only if nobody did): however many servers share the store, nothing runs twice.

Whoever runs executions (``jupyter_mltrack/jobs/``) claims a queued one (``claim``: queued → running, within the
job's and the runner's concurrency limits, in one transaction), records its attempts' runs, beats its heartbeat and
ends it (``finish``), which moves the trigger's downstream executions on. An execution still ``running`` without a
heartbeat for :data:`STALE_AFTER` seconds lost its runner (a server killed): ``reap`` ends it ``killed``.

Every function here runs inside a write transaction (``Database.write``) unless it says it reads.
"""

from __future__ import annotations

import time
from typing import Iterable

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from . import access as A
from . import schema as S
from .db import chunked, dialect_insert, fetch_raw
from .errors import Conflict
from .jobs import execution_dict, find_job, upstream_graph
from .users import Actor

E = S.job_executions
FINAL = ("finished", "failed", "killed", "skipped")
STALE_AFTER = 45.0  # seconds without a heartbeat before a running execution is taken for lost


def downstream(graph: dict[int, set[int]], roots: Iterable[int]) -> set[int]:
    """The roots and every job after them (``graph``: job → its upstream jobs)."""
    down: dict[int, set[int]] = {}
    for j, ups in graph.items():
        for u in ups:
            down.setdefault(u, set()).add(j)
    out, todo = set(), list(roots)
    while todo:
        j = todo.pop()
        if j not in out:
            out.add(j)
            todo.extend(down.get(j, ()))
    return out


def trigger(conn: Connection, job_ids: Iterable[int], trigger_id: str, scheduled_for: float | None = None,
            now: float | None = None) -> list[int]:
    """Add the executions of a trigger firing ``job_ids`` (and the jobs downstream); returns the ids of those added
    (an execution the trigger already has is left as it is)."""
    now = time.time() if now is None else now
    graph = upstream_graph(conn)
    members = downstream(graph, job_ids)
    rows = [{"job_id": j, "trigger_id": trigger_id, "scheduled_for": scheduled_for, "created_at": now,
             "status": "pending" if graph.get(j, set()) & members else "queued", "reason": "", "attempts": 0,
             "worker": ""} for j in sorted(members)]
    ins = dialect_insert(conn.dialect.name)(E).on_conflict_do_nothing(index_elements=["trigger_id", "job_id"])
    conn.execute(ins, rows)  # one statement for all (executemany); a row the trigger has is left as it is
    added = sorted(conn.execute(select(E.c.id).where(E.c.trigger_id == trigger_id, E.c.created_at == now))
                   .scalars())
    advance(conn, trigger_id, now)
    return added


def run_now(conn: Connection, actor: Actor | None, name: str, trigger_id: str) -> list[dict]:
    """A manual trigger of the job ``name`` (contributor): its executions and its downstream jobs'."""
    job = find_job(conn, actor, name, A.CONTRIBUTOR, "running a job")
    ids = trigger(conn, [job["id"]], trigger_id)
    return executions(conn, ids)


def executions(conn: Connection, ids: list[int]) -> list[dict]:
    if not ids:
        return []
    rows = conn.execute(select(E, S.jobs.c.name).join(S.jobs, S.jobs.c.id == E.c.job_id)
                        .where(E.c.id.in_(ids)).order_by(E.c.id)).all()
    return [execution_dict(r._mapping, r.name) for r in rows]


def fire_tick(conn: Connection, job_ids: Iterable[int], tick: float, now: float | None = None) -> list[int]:
    """Fire the scheduled time ``tick`` of the jobs ``job_ids`` — each once: only a job nobody fired it (or a later
    one) for. The jobs due at one time share one trigger, named after the tick (a DAG scheduled as a whole)."""
    fired = []
    for part in chunked(sorted(set(job_ids))):
        fired += conn.execute(update(S.jobs).where(S.jobs.c.id.in_(part), or_(
            S.jobs.c.last_tick.is_(None), S.jobs.c.last_tick < tick)).values(last_tick=tick)
            .returning(S.jobs.c.id)).scalars().all()
    if not fired:
        return []
    return trigger(conn, fired, f"schedule:{tick:.0f}", scheduled_for=tick, now=now)


def skip_tick(conn: Connection, job_id: int, tick: float) -> bool:
    """Mark ``tick`` as passed without running it (missed runs under the "skip" policy)."""
    res = conn.execute(update(S.jobs).where(S.jobs.c.id == job_id, or_(S.jobs.c.last_tick.is_(None),
                                                                        S.jobs.c.last_tick < tick))
                       .values(last_tick=tick))
    return res.rowcount == 1


def claim(conn: Connection, worker: str, limit: int, now: float | None = None,
          execution_id: int | None = None) -> dict | None:
    """Claim the oldest queued execution (or the given one) whose job runs fewer than its ``max_concurrent``, while
    fewer than ``limit`` executions of ``worker`` run; it becomes ``running`` and is returned with its job."""
    now = time.time() if now is None else now
    if execution_id is None:
        mine = conn.execute(select(func.count()).where(E.c.status == "running", E.c.worker == worker)).scalar_one()
        if mine >= limit:
            return None
    running = dict(conn.execute(select(E.c.job_id, func.count()).where(E.c.status == "running")
                                .group_by(E.c.job_id)).all())
    q = (select(E.c.id, E.c.job_id, S.jobs.c.max_concurrent).join(S.jobs, S.jobs.c.id == E.c.job_id)
         .where(E.c.status == "queued").order_by(E.c.id))
    if execution_id is not None:
        q = q.where(E.c.id == execution_id)
    for eid, jid, most in conn.execute(q.limit(200)).all():
        if running.get(jid, 0) >= most and execution_id is None:
            continue
        res = conn.execute(update(E).where(E.c.id == eid, E.c.status == "queued").values(
            status="running", worker=worker, started_at=now, heartbeat_at=now))
        if res.rowcount == 1:
            row = conn.execute(select(E, S.jobs.c.name).join(S.jobs, S.jobs.c.id == E.c.job_id)
                               .where(E.c.id == eid)).first()
            job = conn.execute(select(S.jobs).where(S.jobs.c.id == jid)).first()
            return {"execution": execution_dict(row._mapping, row.name), "job": dict(job._mapping)}
    return None


def start_attempt(conn: Connection, execution_id: int, run_id: str, attempt: int) -> None:
    conn.execute(update(E).where(E.c.id == execution_id).values(run_id=run_id, attempts=attempt,
                                                                heartbeat_at=time.time()))


def beat(conn: Connection, execution_ids: list[int], now: float | None = None) -> None:
    if execution_ids:
        conn.execute(update(E).where(E.c.id.in_(execution_ids), E.c.status == "running")
                     .values(heartbeat_at=time.time() if now is None else now))


def finish(conn: Connection, execution_id: int, status: str, reason: str = "", now: float | None = None) -> None:
    """End an execution (finished, failed, killed, skipped) and move its trigger's downstream executions on."""
    if status not in FINAL:
        raise ValueError(f"not a final status: {status}")
    now = time.time() if now is None else now
    conn.execute(update(E).where(E.c.id == execution_id, E.c.status.notin_(FINAL))
                 .values(status=status, reason=reason[:20000], ended_at=now))
    row = conn.execute(select(E.c.trigger_id).where(E.c.id == execution_id)).first()
    if row is not None:
        advance(conn, row.trigger_id, now)


def advance(conn: Connection, trigger_id: str, now: float) -> None:
    """Queue the trigger's pending executions whose upstream jobs all succeeded in it; skip those with an upstream
    job that did not (repeated until nothing changes: a skip skips what comes after it)."""
    graph = upstream_graph(conn)
    names = dict(conn.execute(select(S.jobs.c.id, S.jobs.c.name)).all())
    while True:
        state = {j: (eid, st) for eid, j, st in conn.execute(
            select(E.c.id, E.c.job_id, E.c.status).where(E.c.trigger_id == trigger_id))}
        changed = False
        for j, (eid, st) in sorted(state.items()):
            if st != "pending":
                continue
            ups = sorted(graph.get(j, ()))
            bad = [(u, state[u][1] if u in state else None) for u in ups
                   if u not in state or state[u][1] in ("failed", "killed", "skipped")]
            if bad:
                u, ust = bad[0]
                reason = (f"upstream job {names.get(u)!r} is not part of this trigger" if ust is None
                          else f"upstream job {names.get(u)!r} {'was ' if ust != 'failed' else ''}{ust}")
                conn.execute(update(E).where(E.c.id == eid, E.c.status == "pending").values(
                    status="skipped", reason=reason, ended_at=now))
                changed = True
            elif all(state[u][1] == "finished" for u in ups):
                conn.execute(update(E).where(E.c.id == eid, E.c.status == "pending").values(status="queued"))
                changed = True
        if not changed:
            return


def reap(conn: Connection, now: float | None = None) -> int:
    """End ``killed`` the running executions whose runner stopped beating (a server or worker that died)."""
    now = time.time() if now is None else now
    lost = conn.execute(select(E.c.id).where(E.c.status == "running", or_(
        E.c.heartbeat_at.is_(None), E.c.heartbeat_at < now - STALE_AFTER))).scalars().all()
    for eid in lost:
        finish(conn, eid, "killed", f"its runner sent no heartbeat for {STALE_AFTER:.0f} s (the server or worker "
                                    "running it stopped)", now)
    return len(lost)


def pending_work(conn: Connection, now: float | None = None) -> tuple[int, int]:
    """(Reads.) How many executions are queued, and how many run without a heartbeat for :data:`STALE_AFTER`:
    the scheduler writes only when there is something to do."""
    now = time.time() if now is None else now
    queued = conn.execute(select(func.count()).where(E.c.status == "queued")).scalar_one()
    stale = conn.execute(select(func.count()).where(E.c.status == "running", or_(
        E.c.heartbeat_at.is_(None), E.c.heartbeat_at < now - STALE_AFTER))).scalar_one()
    return queued, stale


def acquire_lease(conn: Connection, name: str, holder: str, ttl: float, now: float | None = None) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while another holder has it."""
    now = time.time() if now is None else now
    L = S.job_leases
    ins = dialect_insert(conn.dialect.name)(L).values(name=name, holder=holder, expires_at=now + ttl)
    conn.execute(ins.on_conflict_do_nothing(index_elements=["name"]))
    res = conn.execute(update(L).where(L.c.name == name, or_(L.c.holder == holder, L.c.expires_at < now))
                       .values(holder=holder, expires_at=now + ttl))
    return res.rowcount == 1


def release_lease(conn: Connection, name: str, holder: str) -> None:
    L = S.job_leases
    conn.execute(update(L).where(and_(L.c.name == name, L.c.holder == holder)).values(expires_at=0.0))


def scheduled_jobs(conn: Connection) -> list[tuple]:
    """(Reads.) The jobs with a schedule that are not paused, as tuples (id, name, schedule, timezone, last_tick,
    updated_at) — read raw: the scheduler reads them often."""
    j = S.jobs
    return fetch_raw(conn, select(j.c.id, j.c.name, j.c.schedule, j.c.timezone, j.c.last_tick, j.c.updated_at)
                     .where(j.c.schedule != "", j.c.paused.is_(False)).order_by(j.c.id))


def refuse_running(conn: Connection, name: str) -> None:
    """A job cannot be deleted while it runs."""
    n = conn.execute(select(func.count()).select_from(E).join(S.jobs, S.jobs.c.id == E.c.job_id)
                     .where(S.jobs.c.name == name, E.c.status == "running")).scalar_one()
    if n:
        raise Conflict(f"job {name!r} is running: wait for it to end before deleting it")
