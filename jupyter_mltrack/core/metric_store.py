"""Metric series in the database: appending points to their series (set-based, a few statements per batch) and
reading series back — one, or one metric of many runs for overlay charts — sorted by step and downsampled.

How points are packed, summarised and downsampled is ``core/series.py``'s; this module moves them in and out of
the ``metric_series`` and ``metric_chunks`` tables.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict, namedtuple
from typing import Any, Mapping, TypedDict

import numpy as np
from sqlalchemy import and_, bindparam, case, func, null, select, update
from sqlalchemy.engine import Connection

from . import access as A
from . import schema as S
from . import series as SER
from .batch import NormalMetric
from .db import Database, RowsInsert, Statement, chunked, dialect_insert, fetch_raw, in_list
from .errors import InvalidInput, NotFound
from .users import Actor
from .validation import INT64_MAX, context_json, series_key
from .wire import stored_float


class SeriesRead(TypedDict):
    run_id: str
    name: str
    context: dict
    key: str  # name[k=v,…]
    total_count: int  # points in the series (in the step range)
    downsampled: bool
    points: SER.Points


# the statements of write_points; a series row as _LOAD_SERIES selects it
_SeriesRow = namedtuple("_SeriesRow", "id run_id name context count last last_step last_time min max chunks")
_LOAD_SERIES = Statement(lambda n: select(*(S.metric_series.c[f] for f in _SeriesRow._fields))
                    .where(S.metric_series.c.run_id.in_(in_list(n))).order_by(S.metric_series.c.id)
                    .with_for_update())  # locked in one order by every writer: no deadlock between two of them
_NEW_SERIES = Statement(lambda n, dialect: dialect_insert(dialect)(S.metric_series).values(
    run_id=bindparam("b_run"), name=bindparam("b_name"), context=bindparam("b_ctx"), count=0, chunks=0,
).inline().on_conflict_do_nothing(index_elements=["run_id", "name", "context"]), by_dialect=True)
_PARTIAL_CHUNKS = Statement(lambda n: (  # (series_id, count, data) of each series' last chunk when it is not full
    select(S.metric_chunks.c.series_id, S.metric_chunks.c.count, S.metric_chunks.c.data)
    .join(S.metric_series, S.metric_series.c.id == S.metric_chunks.c.series_id)
    .where(S.metric_chunks.c.series_id.in_(in_list(n)), S.metric_chunks.c.seq == S.metric_series.c.chunks - 1,
           S.metric_chunks.c.count < SER.CHUNK_POINTS)))
_CHUNK_VALUES = dict(count=bindparam("b_count"), step_min=bindparam("b_smin"), step_max=bindparam("b_smax"),
                     data=bindparam("b_data"), overview=bindparam("b_ov"), overview_count=bindparam("b_ovn"))
_UPDATE_CHUNK = Statement(lambda n: update(S.metric_chunks).where(
    S.metric_chunks.c.series_id == bindparam("b_sid"), S.metric_chunks.c.seq == bindparam("b_seq"),
).values(**_CHUNK_VALUES))
_INSERT_CHUNKS = RowsInsert(S.metric_chunks, ("series_id", "seq", "count", "step_min", "step_max", "data",
                                             "overview", "overview_count"))
_UPDATE_SERIES = Statement(lambda n: update(S.metric_series).where(S.metric_series.c.id == bindparam("b_id")).values(
    count=bindparam("b_count"), last=bindparam("b_last"), last_step=bindparam("b_last_step"),
    last_time=bindparam("b_last_time"), min=bindparam("b_min"), max=bindparam("b_max"),
    chunks=bindparam("b_chunks")))


# the statements of get_series: one series row; its chunks (count, None, data) in order, or (count, overview count,
# overview) for each chunk that has an overview
_SERIES_ROW = Statement(lambda n: select(
    S.metric_series.c.id, S.metric_series.c.count, S.metric_series.c.chunks, S.metric_series.c.last,
    S.metric_series.c.last_step, S.metric_series.c.last_time).where(
    S.metric_series.c.run_id == bindparam("b_run"), S.metric_series.c.name == bindparam("b_name"),
    S.metric_series.c.context == bindparam("b_ctx")))
_CHUNKS = Statement(lambda n: select(S.metric_chunks.c.count, null(), S.metric_chunks.c.data)
                    .where(S.metric_chunks.c.series_id == bindparam("b_sid")).order_by(S.metric_chunks.c.seq))
_HAS_OVERVIEW = S.metric_chunks.c.overview.isnot(None)
_CHUNKS_OR_OVERVIEWS = Statement(lambda n: select(
    S.metric_chunks.c.count, case((_HAS_OVERVIEW, S.metric_chunks.c.overview_count), else_=None),
    case((_HAS_OVERVIEW, S.metric_chunks.c.overview), else_=S.metric_chunks.c.data),
).where(S.metric_chunks.c.series_id == bindparam("b_sid")).order_by(S.metric_chunks.c.seq))


# A series of one point keeps it in its own row (``count`` 1, ``chunks`` 0: the step, time and value are its
# ``last_step``, ``last_time`` and ``last``; ``min`` and ``max`` are NULL, read as ``last`` by
# schema.series_summary) instead of a chunk row: runs that log final metrics once — a sweep's usual shape — store
# no chunks at all. The second point moves both into a chunk. A value the row cannot hold
# exactly goes to a chunk from the start: NaN (stored as NULL, so its sign and payload would be lost) and −0.0
# (SQLite stores an integral REAL as an integer, losing the sign of zero).


def _fits_in_row(value: float) -> bool:
    return value == value and (value != 0.0 or math.copysign(1.0, value) > 0)


def _row_point(count: int, last: float | None, last_step: int, last_time: float) -> SER.Points:
    """The one point of a series kept in its row, as a chunk would give it back (its time to the microsecond)."""
    micros = np.round(np.array([last_time], dtype=np.float64) * 1e6).astype(np.int64)
    return SER.Points(np.array([last_step], dtype=np.int64), micros / 1e6,
                      np.array([stored_float(last, count)], dtype=np.float64))


def _in_row(count: int, chunks: int) -> bool:
    return count == 1 and chunks == 0


def write_points(conn: Connection, metrics: list[NormalMetric], new_runs: set[str]) -> int:
    """Append points to their series, set-based: a few statements per batch, not per series."""
    groups: dict[tuple[str, str, str], list[SER.Points]] = defaultdict(list)
    auto: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    for m in metrics:
        key = (m["run_id"], m["name"], m["context"])
        groups[key].append(m["points"])
        auto[key].append(bool(m.get("auto_steps")))

    def load(run_ids: list[str], into: dict) -> None:
        for part in chunked(run_ids):
            # FOR UPDATE serialises concurrent appends to one series on PostgreSQL (SQLite's write lock does)
            for row in _LOAD_SERIES.run(conn, ids=part):
                key = (row[1], row[2], row[3])
                if key in groups:
                    into[key] = _SeriesRow._make(row)

    existing: dict[tuple[str, str, str], _SeriesRow] = {}
    load(sorted({k[0] for k in groups} - new_runs), existing)
    missing = [k for k in groups if k not in existing]
    if missing:
        _NEW_SERIES.run(conn, many=[{"b_run": k[0], "b_name": k[1], "b_ctx": k[2]} for k in missing])
        load(sorted({k[0] for k in missing}), existing)
    partial: dict[int, tuple] = {}  # series id → (series_id, count, data) of its partial last chunk
    ids = [row.id for row in existing.values() if row.chunks > 0]
    for part in chunked(ids):
        for r in _PARTIAL_CHUNKS.run(conn, ids=part):
            partial[r[0]] = r
    series_updates = []
    pieces: list[SER.Points] = []  # the chunks to write, of every series: packed together below
    places: list[tuple[int, int, int]] = []  # (series id, seq, the series' chunks before) of each
    total = 0
    for key, parts in groups.items():
        if any(auto[key]):  # items without steps continue after the series' (and this batch's) last step
            nxt = existing[key].last_step + 1 if existing[key].last_step is not None else 0
            placed = []
            for p, is_auto in zip(parts, auto[key]):
                if is_auto and len(p) and nxt + len(p) - 1 > INT64_MAX:
                    raise InvalidInput(f"metric {key[1]!r}: the steps after the series' last step {nxt - 1} would "
                                       "pass the 64-bit range; give steps explicitly")
                if is_auto and len(p):
                    p = SER.Points(np.arange(nxt, nxt + len(p), dtype=np.int64), p.timestamps, p.values)
                if len(p):
                    nxt = max(nxt, int(p.steps.max()) + 1)
                placed.append(p)
            parts = placed
        pts = SER.Points.concat(parts)
        n = len(pts)
        if n == 0:
            continue
        total += n
        row = existing[key]
        sid, nchunks = row.id, row.chunks
        lo, hi = (row.last, row.last) if nchunks == 0 else (row.min, row.max)  # see schema.series_summary
        summ = SER.Summary(row.count, stored_float(row.last, row.count), row.last_step, row.last_time,
                           lo, hi).merged(pts)
        if row.count == 0 and n == 1 and _fits_in_row(float(pts.values[0])):  # kept in the row, no chunk
            series_updates.append({"b_id": sid, "b_count": 1, "b_last": summ.last, "b_last_step": summ.last_step,
                                   "b_last_time": summ.last_time, "b_min": None, "b_max": None, "b_chunks": 0})
            continue
        seq = nchunks
        head = None  # the points the first chunk written starts with
        last = partial.get(sid)
        if last is not None:
            head = SER.decode_chunk(last[2], last[1])
            seq = nchunks - 1
        elif _in_row(row.count, nchunks):  # the point kept in the row goes first into the chunk
            head = _row_point(row.count, row.last, row.last_step, row.last_time)
        split = SER.split_chunks(pts, head=head)
        pieces.extend(split)
        places.extend((sid, seq + i, nchunks) for i in range(len(split)))
        series_updates.append({
            # a NaN last value is stored as NULL on every database (SQLite does so itself; PostgreSQL would keep
            # NaN and sort and compare it above every number), so filters and orders treat it alike on both
            "b_id": sid, "b_count": summ.count, "b_last": None if summ.last != summ.last else summ.last,
            "b_last_step": summ.last_step,
            "b_last_time": summ.last_time, "b_min": summ.min, "b_max": summ.max, "b_chunks": seq + len(split),
        })
    # only full chunks get an overview: a partial one is rewritten by the next flush
    chunk_updates, chunk_inserts = [], []
    for (sid, seq, before), c in zip(places, SER.pack_chunks(pieces, overview_len=SER.CHUNK_POINTS)):
        if seq < before:  # the partial last chunk, rewritten
            chunk_updates.append({"b_sid": sid, "b_seq": seq, "b_count": c.count, "b_smin": c.step_min,
                                  "b_smax": c.step_max, "b_data": c.data, "b_ov": c.overview,
                                  "b_ovn": c.overview_count})
        else:
            chunk_inserts.append({"series_id": sid, "seq": seq, "count": c.count, "step_min": c.step_min,
                                  "step_max": c.step_max, "data": c.data, "overview": c.overview,
                                  "overview_count": c.overview_count})
    if chunk_updates:
        _UPDATE_CHUNK.run(conn, many=chunk_updates)
    if chunk_inserts:
        _INSERT_CHUNKS.run(conn, chunk_inserts)
    if series_updates:
        _UPDATE_SERIES.run(conn, many=series_updates)
    return total


# -- reads -----------------------------------------------------------------------------------------------------------

def get_series(db: Database, run_id: str, name: str, context: Mapping[str, Any] | str | None = None,
               max_points: int | None = None, actor: Actor | None = None) -> SeriesRead:
    """One metric series, sorted by step, optionally downsampled: dict with ``points`` (:class:`Points`)."""
    ctx = context_json(context)
    if max_points is not None and (not isinstance(max_points, int) or max_points < 3):
        raise InvalidInput(f"max_points must be an integer ≥ 3, not {max_points!r}")
    with db.read() as conn:
        A.require_runs(conn, actor, [run_id], A.VIEWER, "reading metrics")
        rows = _SERIES_ROW.run(conn, {"b_run": run_id, "b_name": name, "b_ctx": ctx})
        if not rows:
            if conn.execute(select(S.runs.c.id).where(S.runs.c.id == run_id)).first() is None:
                raise NotFound(f"no run {run_id!r}")
            raise NotFound(f"run {run_id} has no metric {series_key(name, ctx)!r}")
        sid, count, nchunks, *point = rows[0]
        if _in_row(count, nchunks):
            chunks = None
        else:  # a chart of a long series: a chunk's overview instead of its points where it has one (the data
            # blob of such a chunk is not even read)
            chunks = (_CHUNKS_OR_OVERVIEWS if SER.use_overviews(count, max_points) else _CHUNKS).run(
                conn, {"b_sid": sid})
    pts, stands_for, from_overviews = (_row_point(count, *point), 0, 0) if chunks is None else \
        SER.decode_chunks(chunks)
    pts = pts.sorted_by_step()
    total = len(pts) - from_overviews + stands_for
    pts, down = SER.downsample(pts, max_points)
    down = down or stands_for > 0
    return {
        "run_id": run_id, "name": name, "context": json.loads(ctx), "key": series_key(name, ctx),
        "total_count": total, "downsampled": down, "points": pts,
    }


def get_series_many(db: Database, run_ids: list[str], name: str, context: Mapping[str, Any] | str | None = None,
                    max_points: int | None = None, step_range: tuple[int, int] | None = None,
                    actor: Actor | None = None) -> list[SeriesRead]:
    """The series ``name``/``context`` of many runs (for overlay charts) in two queries; runs without that
    series are left out. Same dicts as :meth:`get_series`, in the order of ``run_ids``. ``step_range``
    (inclusive) reads only the chunks overlapping it — zooming into a long series stays cheap."""
    ctx = context_json(context)
    ms, mc = S.metric_series, S.metric_chunks
    if max_points is not None and (not isinstance(max_points, int) or max_points < 3):
        raise InvalidInput(f"max_points must be an integer ≥ 3, not {max_points!r}")
    if not isinstance(run_ids, (list, tuple)) or not all(isinstance(r, str) for r in run_ids):
        raise InvalidInput("run_ids must be a list of run ids")
    ids: dict[int, str] = {}
    big: set[int] = set()  # series read from chunk overviews (see series.use_overviews)
    chunks: dict[int, list] = defaultdict(list)
    in_row: dict[int, SER.Points] = {}  # series whose one point is kept in their row
    in_range = [] if step_range is None else [mc.c.step_max >= int(step_range[0]),
                                              mc.c.step_min <= int(step_range[1])]
    n_read = None  # per series: the number of points in the chunks to read
    if max_points is not None:
        n_read = ms.c.count if step_range is None else select(func.coalesce(func.sum(mc.c.count), 0)).where(
            mc.c.series_id == ms.c.id, *in_range).scalar_subquery()
    with db.read() as conn:
        A.require_runs(conn, actor, run_ids, A.VIEWER, "reading metrics")
        for part in chunked(list(dict.fromkeys(run_ids))):
            for r in conn.execute(
                select(ms.c.id, ms.c.run_id, ms.c.count, ms.c.chunks, ms.c.last, ms.c.last_step, ms.c.last_time,
                       *(() if n_read is None else (n_read,)))
                .where(ms.c.run_id.in_(part), ms.c.name == name, ms.c.context == ctx)
            ):
                ids[r[0]] = r[1]
                if _in_row(r[2], r[3]):
                    in_row[r[0]] = _row_point(r[2], r[4], r[5], r[6])
                elif n_read is not None and SER.use_overviews(int(r[7]), max_points):
                    big.add(r[0])
        # in a series in ``big``, an overview replaces a chunk lying wholly inside the range (its data blob is not
        # read); chunks on the range's edges are read in full, so the edge points and the count stay exact
        has_ov = and_(mc.c.overview.isnot(None), *(() if step_range is None else (
            mc.c.step_min >= int(step_range[0]), mc.c.step_max <= int(step_range[1]))))
        for part in chunked(sorted(sid for sid in ids if sid not in in_row)):
            big_part = [sid for sid in part if sid in big]
            if big_part:
                use = has_ov if len(big_part) == len(part) else and_(has_ov, mc.c.series_id.in_(big_part))
                q = select(mc.c.series_id, mc.c.count, case((use, mc.c.overview_count), else_=None),
                           case((use, mc.c.overview), else_=mc.c.data))
            else:
                q = select(mc.c.series_id, mc.c.count, mc.c.data)
            q = q.where(mc.c.series_id.in_(part), *in_range).order_by(mc.c.series_id, mc.c.seq)
            for r in fetch_raw(conn, q):
                chunks[r[0]].append((r[1], r[2], r[3]) if big_part else (r[1], None, r[2]))
    by_run = {}
    ctx_obj = json.loads(ctx)
    key = series_key(name, ctx)
    for sid, rid in ids.items():
        pts, stands_for, from_overviews = (in_row[sid], 0, 0) if sid in in_row else SER.decode_chunks(chunks[sid])
        pts = pts.sorted_by_step()
        if step_range is not None:  # overview points all lie inside it: this cuts only chunks read in full
            lo, hi = np.searchsorted(pts.steps, [int(step_range[0]), int(step_range[1])], side="left")[0], \
                np.searchsorted(pts.steps, int(step_range[1]), side="right")
            pts = pts.slice(int(lo), int(hi))
        total = len(pts) - from_overviews + stands_for
        pts, down = SER.downsample(pts, max_points)
        down = down or stands_for > 0
        by_run[rid] = {"run_id": rid, "name": name, "context": ctx_obj, "key": key, "total_count": total,
                       "downsampled": down, "points": pts}
    return [by_run[r] for r in dict.fromkeys(run_ids) if r in by_run]
