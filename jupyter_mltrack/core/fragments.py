"""Run-table fragments: a run's listing material stored as text beside it, so listing runs never joins.

- ``runs.table_row``: the inside of a JSON object — experiments, params, tags and last metric values (the run
  table, ``GET runs?view=table``); ``runs.frame_layout``/``frame_nums``/``frame_text``: the DataFrame's numeric
  slots packed as int64/float64, named by a shared ``frame_layouts`` row, and the rest as JSON
  (``mlt.search_runs``). The metric summaries of the full REST list are not stored: :func:`summaries` puts them
  together from the series rows of the runs read (a stored copy cost ~2 KB a run).
- A write that changes a run still logging clears its ``table_row``; readers rebuild missing fragments
  (:func:`build`) and hand what they built to the write thread when there were many (:data:`PERSIST_STALE`); a
  batch that ends runs, or touches that many, stores them at once (:func:`refresh`).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections import defaultdict
from typing import Any, Iterable, NamedTuple

import numpy as np
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from . import schema as S
from .db import chunked, dialect_insert, fetch_raw
from .validation import series_key
from .wire import decode_json, encode_json, float_to_wire, num_text, stored_float

#: A read that rebuilt this many fragments hands them to the writer; a batch touching this many runs still logging
#: builds theirs at once (a bulk import).
PERSIST_STALE = 100
EMPTY_TABLE = '"experiments":[],"params":{},"tags":{},"metrics":{}'
EMPTY_FRAME = '"experiments":[],"params":{},"tags":{}'
_INT_TEXT = re.compile(r"-?[0-9]+")
_NAN = float("nan")
_INF = float("inf")


class Fragments(NamedTuple):
    """A run's listing fragments: ``runs.table_row`` and the DataFrame's ``frame_keys`` (stored as a reference to
    its ``frame_layouts`` row), ``frame_nums``, ``frame_text`` (see core/schema.py)."""

    table_row: str
    frame_keys: str
    frame_nums: bytes
    frame_text: str


def refresh(conn: Connection, run_ids: Iterable[str]) -> None:
    """Rebuild and store the run-table fragments of these runs."""
    built = build(conn, run_ids)
    if built:
        store(conn, built)

def store(conn: Connection, built: dict[str, Fragments], read_at: float | None = None) -> None:
    """Store fragments; with ``read_at``, only for runs not written since then (a reader's fragments)."""
    r = S.runs
    layouts = layout_ids(conn, {f.frame_keys for f in built.values()})
    upd = update(r).where(r.c.id == bindparam("b_id")).values(
        table_row=bindparam("b_table"), frame_layout=bindparam("b_layout"), frame_nums=bindparam("b_fnums"),
        frame_text=bindparam("b_ftext"))
    if read_at is not None:
        upd = upd.where(r.c.table_row == "", r.c.updated_at < read_at)
    conn.execute(upd, [{"b_id": rid, "b_table": f.table_row, "b_layout": layouts[f.frame_keys],
                        "b_fnums": f.frame_nums, "b_ftext": f.frame_text} for rid, f in built.items()])


def layout_ids(conn: Connection, keys: set[str]) -> dict[str, int]:
    """The ``frame_layouts`` id of each ``frame_keys`` text, adding the ones not stored yet (on the write thread)."""
    fl = S.frame_layouts
    digests = {hashlib.sha256(k.encode()).hexdigest(): k for k in keys}
    got: dict[str, int] = {}

    def look(part):
        for digest, lid in conn.execute(select(fl.c.sha256, fl.c.id).where(fl.c.sha256.in_(part))):
            got[digests[digest]] = lid

    for part in chunked(sorted(digests)):
        look(part)
    missing = [d for d, k in digests.items() if k not in got]
    if missing:
        ins = dialect_insert(conn.dialect.name)(fl)
        conn.execute(ins.on_conflict_do_nothing(index_elements=["sha256"]),
                     [{"sha256": d, "key_list": digests[d]} for d in missing])
        for part in chunked(missing):
            look(part)
    return got


def layouts(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    """The ``frame_keys`` text of each of these ``frame_layouts`` ids."""
    fl = S.frame_layouts
    out: dict[int, str] = {}
    for part in chunked(sorted(set(ids))):
        out.update(conn.execute(select(fl.c.id, fl.c.key_list).where(fl.c.id.in_(part))).all())
    return out


def _series_rows(conn: Connection, part: list[str]):
    ms = S.metric_series
    q = (select(ms.c.run_id, ms.c.name, ms.c.context, ms.c.last, ms.c.last_step, ms.c.last_time,
                S.series_summary("min"), S.series_summary("max"), ms.c.count)
         .where(ms.c.run_id.in_(part)).order_by(ms.c.run_id, ms.c.name, ms.c.context))
    return fetch_raw(conn, q)


_SUMMARY = None  # the msgspec Struct of a metric summary in the REST shape, made on first use (msgspec is lazy)


def _summary_type():
    global _SUMMARY
    if _SUMMARY is None:
        import msgspec

        class MetricSummary(msgspec.Struct):
            name: str
            context: msgspec.Raw  # the stored canonical JSON, as it is
            key: str
            last: Any
            last_step: Any
            last_time: Any
            min: Any
            max: Any
            count: int

        _SUMMARY = MetricSummary
    return _SUMMARY


def summaries(conn: Connection, run_ids: Iterable[str]) -> dict[str, str]:
    """Each run's metric summaries in the REST shape, as JSON text (``'[{"name":…,"context":…,"key":…,"last":…,
    …,"count":…},…]'``), from its series rows; a run without series is left out (reads as ``[]``). Encoded in C
    (msgspec, from Structs: formatting each number in Python took 65 µs a run at ten metrics, dicts 16 µs)."""
    from msgspec import Raw

    summary = _summary_type()
    heads: dict[tuple[str, str], tuple[str, Raw, str]] = {}
    out: dict[str, list] = defaultdict(list)
    wire, inf, ninf = float_to_wire, _INF, -_INF
    for part in chunked(sorted(set(run_ids))):
        for rid, name, ctx, last, last_step, last_time, lo, hi, count in _series_rows(conn, part):
            h = heads.get((name, ctx))
            if h is None:
                h = heads[(name, ctx)] = (name, Raw(ctx), series_key(name, ctx))
            if last is not None and lo is not None and hi is not None and ninf < lo and hi < inf:
                # finite extremes: every value is finite (a NaN last value is NULL, timestamps are finite)
                out[rid].append(summary(h[0], h[1], h[2], last, last_step, last_time, lo, hi, count))
            else:
                out[rid].append(summary(h[0], h[1], h[2], wire(stored_float(last, count)), last_step,
                                        wire(last_time), wire(lo), wire(hi), count or 0))
    enc = encode_json
    return {rid: enc(items).decode() for rid, items in out.items()}


def build(conn: Connection, run_ids: Iterable[str]) -> dict[str, Fragments]:
    """The run-table fragments of these runs from the normalised tables (see :class:`Fragments`). JSON is put
    together as text (params are stored as JSON, the context column is canonical JSON): ~10k runs a second."""
    p, t, e, link = S.params, S.tags, S.experiments, S.run_experiments
    dumps = json.dumps
    keys: dict[tuple[str, str], tuple[str, str]] = {}  # (name, context) → (key JSON, column)
    out: dict[str, Fragments] = {}
    for part in chunked(sorted(run_ids)):
        params: dict[str, list[str]] = defaultdict(list)
        texts: dict[str, list[str]] = defaultdict(list)  # the params that are not numbers
        nums: dict[str, list[tuple[str, Any]]] = defaultdict(list)  # (typed column name, number)
        tags_: dict[str, list[str]] = defaultdict(list)
        lasts: dict[str, list[str]] = defaultdict(list)
        exps: dict[str, list[str]] = defaultdict(list)
        for rid, key, value, num in fetch_raw(conn, select(p.c.run_id, p.c.key, p.c.value, p.c.num)
                                               .where(p.c.run_id.in_(part)).order_by(p.c.run_id, p.c.key)):
            item = dumps(key) + ":" + value
            params[rid].append(item)
            if num is None or value in ("true", "false"):
                texts[rid].append(item)
            elif _INT_TEXT.fullmatch(value):  # ints beyond int64 stay Python ints, as pandas keeps them
                if -(2**63) <= int(value) < 2**63:
                    nums[rid].append(("i:params." + key, int(value)))
                else:
                    texts[rid].append(item)
            else:
                nums[rid].append(("f:params." + key, float(value)))
        for rid, key, value in fetch_raw(conn, select(t.c.run_id, t.c.key, t.c.value)
                                          .where(t.c.run_id.in_(part)).order_by(t.c.run_id, t.c.key)):
            tags_[rid].append(dumps(key) + ":" + dumps(value))
        metric_cols: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for rid, name, ctx, last, _step, _time, _lo, _hi, count in _series_rows(conn, part):
            k = keys.get((name, ctx))
            if k is None:
                sk = series_key(name, ctx)
                k = keys[(name, ctx)] = (dumps(sk), "f:metrics." + sk)
            lasts[rid].append(k[0] + ":" + num_text(stored_float(last, count)))
            metric_cols[rid].append((k[1], _NAN if last is None else last))
        q = select(link.c.run_id, e.c.name).join(e, e.c.id == link.c.experiment_id).where(link.c.run_id.in_(part))
        for rid, name in fetch_raw(conn, q.order_by(link.c.run_id, e.c.name)):
            exps[rid].append(dumps(name))
        for rid in part:
            head = '"experiments":[' + ",".join(exps.get(rid, ())) + "]"
            tags_text = '"tags":{' + ",".join(tags_.get(rid, ())) + "}"
            slots = nums.get(rid, []) + metric_cols.get(rid, [])
            out[rid] = Fragments(
                table_row=(head + ',"params":{' + ",".join(params.get(rid, ())) + "}," + tags_text
                           + ',"metrics":{' + ",".join(lasts.get(rid, ())) + "}"),
                frame_keys=dumps([k for k, _ in slots]),
                frame_nums=struct.pack("<" + "".join("q" if k[0] == "i" else "d" for k, _ in slots),
                                       *[v for _, v in slots]),
                frame_text=head + ',"params":{' + ",".join(texts.get(rid, ())) + "}," + tags_text,
            )
    return out


# -- decoding --------------------------------------------------------------------------------------------------------

def frame_columns(groups: dict[str, list[int]], blobs: list, n: int) -> dict[str, np.ndarray]:
    """Numeric DataFrame columns from the runs' ``frame_nums`` (``blobs``, in row order) grouped by their
    ``frame_keys`` text (``groups``: keys → row positions): one array per group, sliced into columns; a column that
    is int64 in every row stays int64, anything else (floats, missing rows) is float64 with NaN for missing."""
    parts: dict[str, list[tuple[list[int] | None, np.ndarray, str]]] = defaultdict(list)
    for keys_text, rows in groups.items():
        keys = json.loads(keys_text) if keys_text else []
        if not keys:
            continue
        data = b"".join([blobs[i] for i in rows])
        floats = np.frombuffer(data, dtype="<f8").reshape(len(rows), len(keys))
        ints = floats.view("<i8")
        whole = len(rows) == n
        for j, typed in enumerate(keys):
            kind = typed[0]
            parts[typed[2:]].append((None if whole else rows, (ints if kind == "i" else floats)[:, j], kind))
    out = {}
    for name, pieces in parts.items():
        if len(pieces) == 1 and pieces[0][0] is None:
            out[name] = np.array(pieces[0][1], dtype=np.int64 if pieces[0][2] == "i" else np.float64)
            continue
        every = sum(n if rows is None else len(rows) for rows, _v, _k in pieces) == n
        ints = every and all(kind == "i" for _r, _v, kind in pieces)
        col = np.empty(n, np.int64) if ints else np.full(n, np.nan)
        for rows, values, _kind in pieces:
            col[rows if rows is not None else slice(None)] = values
        out[name] = col
    return out


def decode_members(fragments: list[str | None], empty: str) -> list[dict]:
    """Decode fragments holding the inside of a JSON object each, as one text ("[{" a "},{" b … "}]": no string
    per row); a missing fragment reads as ``empty``."""
    if not fragments:
        return []
    return decode_json("[{" + "},{".join([f or empty for f in fragments]) + "}]")


def split_details(details: list[dict], keys: tuple[str, ...]) -> dict[str, list]:
    """{key: [each decoded fragment's member]} for the columnar run tables."""
    return {k: [d[k] for d in details] for k in keys}


def full_fragment(table_row: str, metrics: str | None) -> str:
    """A run's REST object members as ``{…}``: its table_row with the metric summaries in place of the last values
    (the table_row's last member is "metrics"; no key or value can contain that member's opening text unescaped)."""
    table_row = table_row or EMPTY_TABLE
    return "{" + table_row[:table_row.rindex('"metrics":')] + '"metrics":' + (metrics or "[]") + "}"


