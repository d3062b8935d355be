"""Listing runs: the scope (project, experiment, campaign, filter), one query for a page of run rows with their
fragments, and the forms built from it — dicts (``search_runs``), the columnar run table (widgets, DataFrames via
the HTTP backend), packed DataFrame columns (``run_frame``) and the REST list as JSON text (``search_runs_json``).
Fragments missing from a row (its run was written since) are rebuilt from the detail tables here and, when there
were many, handed to the write thread to store (``core/fragments.py``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, func, select

from . import access as A
from . import fragments as F
from . import run_shape as R
from . import schema as S
from . import search_sql as Q
from .db import Database, fetch_raw
from .errors import InvalidInput, NotFound
from .projects import as_id, project_id
from .search import parse_order_by
from .users import Actor
from .validation import series_key
from .wire import decode_json, encode_json, gc_paused, metrics_from_wire

#: The columns after the run columns, per kind of listing: "table" ``runs.table_row``; "summaries" that and the
#: metric summaries' JSON (put together from the series rows); "frame" ``frame_keys`` (the text of the run's
#: ``frame_layouts`` row), ``frame_nums``, ``frame_text``.
FRAG = R.ROW_WIDTH
_PICK = {"table": slice(0, 1), "summaries": slice(0, 1), "frame": slice(1, 4)}


def run_scope(conn, project=None, experiment=None, campaign=None, filter=None, actor: Actor | None = None):
    """The WHERE clause of the runs in a project / experiment / campaign matching a filter — and, for an actor
    (team mode), in a project the actor is a member of: whatever the filter says, no other run is listed."""
    r = S.runs
    conds = [Q.filter_sql(filter, r)]
    pid = project_id(conn, project)
    if pid is not None:
        A.require(conn, actor, pid, A.VIEWER, "reading runs")
        conds.append(r.c.project_id == pid)
    if actor is not None and not actor.admin:
        pm = S.project_members
        conds.append(r.c.project_id.in_(select(pm.c.project_id).where(pm.c.user_id == actor.user_id)))
    if experiment not in (None, ""):
        e, link = S.experiments, S.run_experiments
        eq = select(e.c.id)
        eid = as_id(experiment)  # None for a name, or for digits too many for an id (never an overflowing int)
        if eid is not None:
            eq = eq.where((e.c.id == eid) | (e.c.name == str(experiment)))
        else:
            eq = eq.where(e.c.name == str(experiment))
        if pid is not None:
            eq = eq.where(e.c.project_id == pid)
        eids = [x[0] for x in conn.execute(eq)]
        if not eids:
            raise NotFound(f"no experiment {experiment!r}" + (f" in project {project!r}" if pid else ""))
        conds.append(r.c.id.in_(select(link.c.run_id).where(link.c.experiment_id.in_(eids))))
    if campaign not in (None, ""):
        c, link = S.campaigns, S.campaign_runs
        cid = conn.execute(select(c.c.id).where(c.c.name == campaign)).first()
        if cid is None:
            raise NotFound(f"no campaign {campaign!r}")
        conds.append(r.c.id.in_(select(link.c.run_id).where(link.c.campaign_id == cid[0])))
    return and_(*conds)


def _check_page(limit, offset) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InvalidInput(f"limit must be a non-negative integer, not {limit!r}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput(f"offset must be a non-negative integer, not {offset!r}")


#: Pages of at most this many runs are read ids first (:func:`page_ids`); larger reads sort whole rows at once.
PAGE_ROWS = 1000


def page_ids(conn, where, order_by: str | None, limit: int, offset: int,
             counted: bool = False) -> tuple[list[str], int | None]:
    """The ids of one page of the runs matching ``where``, in ``order_by``'s order, and — ``counted`` — how
    many runs match (else None). Sorting ids and sort keys only — never the wide rows — the database keeps just
    ``offset + limit`` of them. An order led by a metric walks that metric's ``(name, context, last)`` index and
    stops after the page: the runs having a value first, then (when the page reaches past them) the runs without
    one, as the single ORDER BY with NULLs last would; it never counts. Otherwise the count comes with the page
    (``count(*) OVER ()``), the filter's subqueries evaluated once."""
    r = S.runs
    terms = parse_order_by(order_by)
    lead = Q.metric_order(terms, r)
    if lead is None:
        q = select(r.c.id).where(where).order_by(*Q.order_terms_sql(terms, r)).offset(offset).limit(limit)
        if not counted:
            return [x[0] for x in conn.execute(q)], None
        rows = conn.execute(q.add_columns(func.count().over())).all()
        return [x[0] for x in rows], rows[0][1] if rows else None
    ms = S.metric_series
    ranked = (select(ms.c.run_id).join(r, r.c.id == ms.c.run_id).where(lead.has_value, where)
              .order_by(lead.key, *lead.rest).limit(offset + limit))
    ids = [x[0] for x in conn.execute(ranked)]
    if len(ids) == offset + limit:
        return ids[offset:], None
    rest = (select(r.c.id).where(where, r.c.id.not_in(lead.ranked)).order_by(*lead.rest)
            .offset(max(0, offset - len(ids))).limit(limit - len(ids[offset:])))
    return ids[offset:] + [x[0] for x in conn.execute(rest)], None


def search_rows(db: Database, project, experiment, campaign, filter, order_by, limit, offset, kind="table",
                actor: Actor | None = None):
    """Rows of the runs in scope (:data:`run_shape.RUN_COLUMNS`, then the fragments of ``kind``) and the total."""
    r = S.runs
    _check_page(limit, offset)
    paged = limit is not None and limit <= PAGE_ROWS
    order = None if paged else Q.order_by_sql(order_by, r)
    with db.read() as conn:
        where = run_scope(conn, project, experiment, campaign, filter, actor)
        c = r.c
        q = select(*R.run_columns_sql()).join(S.projects, S.projects.c.id == c.project_id)
        if kind == "frame":  # the frame fragments, and whether they are current (not the table_row text)
            q = q.add_columns(case((c.table_row == "", None), else_=c.frame_layout), c.frame_nums, c.frame_text)
        else:
            q = q.add_columns(c.table_row)
        read_at, total = time.time(), None
        if paged:  # the page's ids first, sorting nothing wider than the sort keys; then their rows
            filtered = filter is not None and bool(str(filter).strip())
            ids, total = page_ids(conn, where, order_by, limit, offset, counted=filtered)
            got = {row[R.ID]: row for row in fetch_raw(conn, q.where(c.id.in_(ids)))} if ids else {}
            rows = [got[i] for i in ids]
        else:
            q = q.where(where).order_by(*order).offset(offset)
            rows = fetch_raw(conn, q if limit is None else q.limit(limit))
        # the page tells the total when it is not full (and, past offset 0, not empty): the filter's
        # subqueries then run once, not twice
        if (limit is None or len(rows) < limit) and (rows or not offset):
            total = offset + len(rows)
        elif total is None:
            total = conn.execute(select(func.count()).select_from(r).where(where)).scalar_one()
        stale = [row[R.ID] for row in rows if not row[FRAG]]
        if kind == "frame":  # layout ids → their key lists
            keys = F.layouts(conn, {row[FRAG] for row in rows if row[FRAG]})
            rows = [row[:FRAG] + (keys[row[FRAG]],) + row[FRAG + 1:] if row[FRAG] else row for row in rows]
        if stale:
            built = F.build(conn, stale)
            pick = _PICK[kind]
            rows = [row if row[FRAG] else row[:FRAG] + tuple(built[row[R.ID]])[pick] for row in rows]
        if kind == "summaries":
            summaries = F.summaries(conn, [row[R.ID] for row in rows])
            rows = [row + (summaries.get(row[R.ID]),) for row in rows]
    if len(stale) >= F.PERSIST_STALE:  # many runs written without ending: the writer stores what was just built,
        db.write_soon(lambda conn: F.store(conn, built, read_at))  # only where nothing was written since this read
    return rows, total


def run_frame(db: Database, project=None, experiment=None, campaign=None, filter=None, order_by=None,
              limit: int | None = None, offset: int = 0, actor: Actor | None = None) -> dict:
    """:func:`run_table`'s material for a DataFrame, with the numbers as arrays: ``numeric`` maps each numeric
    column ("params.k", "metrics.k") to an int64 or float64 array over the rows; ``params`` holds the other
    params only. Built from ``frame_nums`` blobs (one array per set of keys), so 10,000 runs × 30 numbers
    never become 300,000 Python objects."""
    with gc_paused():
        rows, total = search_rows(db, project, experiment, campaign, filter, order_by, limit, offset, "frame", actor)
        details = F.decode_members([row[FRAG + 2] for row in rows], F.EMPTY_FRAME)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            groups[row[FRAG] or ""].append(i)
        numeric = F.frame_columns(groups, [row[FRAG + 1] or b"" for row in rows], len(rows))
        base = R.base_rows(rows)
    return {"total": total, "columns": R.BASE_COLUMNS, "base": base,
            **F.split_details(details, ("experiments", "params", "tags")), "numeric": numeric}


def search_runs(db: Database, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                limit: int | None = None, offset: int = 0, actor: Actor | None = None) -> tuple[list[dict], int]:
    """Runs matching the scope and filter, as dicts (RunSummary of docs/rest-api.md, with ``heartbeat_at`` and
    ``error``; metric values as floats), plus the total count. Reads ``runs.table_row`` and the series
    summaries, never the points."""
    now = time.time()
    with gc_paused():
        rows, total = search_rows(db, project, experiment, campaign, filter, order_by, limit, offset, "summaries",
                                  actor)
        details = decode_json("[" + ",".join(F.full_fragment(row[FRAG], row[FRAG + 1]) for row in rows) + "]")
        out = []
        for row, d in zip(rows, details):
            run = R.run_head(row, now)
            run.update(d)
            metrics_from_wire(run["metrics"])
            out.append(run)
    return out, total


def run_table(db: Database, project=None, experiment=None, campaign=None, filter=None, order_by=None,
              limit: int | None = None, offset: int = 0, actor: Actor | None = None) -> dict:
    """Columnar material for a DataFrame of runs: ``base`` (row tuples, names in ``columns``) and, per run,
    the ``experiments`` list and ``params``, ``tags`` and ``metrics`` (series key → last value; non-finite
    values as "NaN", "Infinity", "-Infinity") dicts — all parsed from ``runs.table_row`` in one go."""
    with gc_paused():
        rows, total = search_rows(db, project, experiment, campaign, filter, order_by, limit, offset, "table", actor)
        details = F.decode_members([row[FRAG] for row in rows], F.EMPTY_TABLE)
        base = R.base_rows(rows)
    return {"total": total, "columns": R.BASE_COLUMNS, "base": base,
            **F.split_details(details, ("experiments", "params", "tags", "metrics"))}


def run_columns(db: Database, project=None, experiment=None, campaign=None, filter=None,
                actor: Actor | None = None) -> dict[str, list[str]]:
    """The param keys, metric series keys and tag keys used by the runs in scope (for column choosers)."""
    r, p, t, ms = S.runs, S.params, S.tags, S.metric_series
    with db.read() as conn:
        scope = select(r.c.id).where(run_scope(conn, project, experiment, campaign, filter, actor))
        params = [x[0] for x in conn.execute(select(p.c.key).distinct().where(p.c.run_id.in_(scope)).order_by(p.c.key))]
        tags = [x[0] for x in conn.execute(select(t.c.key).distinct().where(t.c.run_id.in_(scope)).order_by(t.c.key))]
        metrics = sorted({series_key(n, c) for n, c in conn.execute(
            select(ms.c.name, ms.c.context).distinct().where(ms.c.run_id.in_(scope)))})
    return {"params": params, "metrics": metrics, "tags": tags}


def search_runs_json(db: Database, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                     limit: int | None = 100, offset: int = 0, view: str = "full",
                     actor: Actor | None = None) -> tuple[str, int]:
    """The runs of :func:`search_runs` as the JSON text of the REST ``runs`` array, put together as text from
    the stored fragments (never parsed). ``view="full"``: each run with its metric summaries (``metrics`` a
    list of MetricSummary, from the series rows); ``view="table"``: the run table's compact rows (``metrics``
    maps each series key to its last value, as the DataFrame and the search language do)."""
    if view not in ("full", "table"):
        raise InvalidInput(f"view must be 'full' or 'table', not {view!r}")
    full = view == "full"
    rows, total = search_rows(db, project, experiment, campaign, filter, order_by, limit, offset,
                              "summaries" if full else "table", actor)
    now = time.time()
    parts: list[Any] = []
    for row in rows:
        head = encode_json(R.run_head(row, now, detail=False))
        frag = F.full_fragment(row[FRAG], row[FRAG + 1])[1:-1] if full else row[FRAG] or F.EMPTY_TABLE
        parts += (head[:-1].decode(), ",", frag, "},")
    if parts:
        parts[-1] = "}"
    return "[" + "".join(parts) + "]", total
