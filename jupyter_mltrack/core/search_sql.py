"""The run search language (``core/search.py``) as parameterised SQL: SQLAlchemy Core expressions over the
``runs`` table, values always bound, never pasted into SQL text. Filters become uncorrelated subqueries over the
params, tags and metric-summary tables; ``order_by`` becomes ORDER BY clauses (NULLs last)."""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, not_, or_, select, true
from sqlalchemy.sql import ColumnElement

from . import schema as S
from .errors import InvalidInput
from .run_shape import status_sql
from .search import TIME_ATTRIBUTES, Field, parse, parse_order_by


def _to_time(field: Field, v: Any) -> float:
    if isinstance(v, bool):
        raise InvalidInput(f"search: {field.label} compares with a time, not {v!r}")
    if isinstance(v, (int, float)):
        return float(v)
    try:
        d = _dt.datetime.fromisoformat(str(v))
    except ValueError:
        raise InvalidInput(f"search: {field.label} needs seconds since the epoch or an ISO date, not {v!r}") from None
    return d.timestamp()  # a date without a zone is local time


def _compare(col, op: str, v):
    if op == "=":
        return col == v
    if op == "!=":
        return col != v
    if op == "<":
        return col < v
    if op == "<=":
        return col <= v
    if op == ">":
        return col > v
    if op == ">=":
        return col >= v
    raise InvalidInput(f"search: unknown operator {op}")  # pragma: no cover


def _attr_column(f: Field, runs):
    if f.name == "status":
        return status_sql(runs)
    if f.name == "duration":
        return func.coalesce(runs.c.end_time, runs.c.heartbeat_at, runs.c.start_time) - runs.c.start_time
    if f.name == "project":
        # an alias: the run queries also join ``projects``, which would otherwise be correlated away
        p = S.projects.alias("project_of_run")
        return select(p.c.name).where(p.c.id == runs.c.project_id).scalar_subquery()
    return runs.c[f.name]


# Predicates are uncorrelated IN-subqueries: the database evaluates each once through the (name, context, last),
# (key, num) / (key, text) and (key, value) indexes, instead of probing the detail tables once per run.


def _metric_sql(f: Field, runs, pred_builder):
    ms = S.metric_series
    col = S.series_summary(f.summary)
    return runs.c.id.in_(
        select(ms.c.run_id).where(ms.c.name == f.name, ms.c.context == f.context, pred_builder(col))
    )


def _kv_sql(f: Field, runs, pred_builder):
    t = S.params if f.kind == "param" else S.tags
    return runs.c.id.in_(select(t.c.run_id).where(t.c.key == f.name, pred_builder(t)))


def _param_value_pred(op: str, v):
    """A param compared with a number (true and false are 1 and 0, as params store them) or with a string."""

    def build(t):
        if isinstance(v, (bool, int, float)):
            return _compare(t.c.num, op, float(v))
        return _compare(t.c.text, op, v)

    return build


def _membership_sql(runs, table, values, like=None):
    """experiment / campaign names through their link tables."""
    link = S.run_experiments if table is S.experiments else S.campaign_runs
    fk = link.c.experiment_id if table is S.experiments else link.c.campaign_id
    cond = like(table.c.name) if like is not None else table.c.name.in_(values)
    return runs.c.id.in_(select(link.c.run_id).select_from(link.join(table, fk == table.c.id)).where(cond))


def _stack_cost(node) -> int:
    """About how deep SQLite's parser stack gets reading ``node`` as SQL. That stack can be small (a fixed 100
    entries in SQLite 3.40: "parser stack overflow" past ~15 levels of ``a or b and (…)``): a term read after
    another of an AND / OR list keeps ``expr AND`` on it meanwhile, so the deepest term goes first (AND and OR are
    commutative in SQL) and each level of nesting then costs about one entry."""
    if node[0] == "not":
        return _stack_cost(node[1]) + 1
    if node[0] not in ("and", "or"):
        return 0
    costs = sorted((_stack_cost(n) for n in node[1:]), reverse=True)
    return 1 + max(c + (2 if i else 0) for i, c in enumerate(costs))


def _is_range(node) -> bool:
    """Whether a term is anything but an equality (``=``, ``in``): among terms of the same depth, equalities go
    first. Without statistics SQLite walks the first ``id IN (…)`` list of an AND and looks the others up, and an
    equality's list is usually the shorter one (at 100,000 runs, ``params.optimizer = 'adam' and metrics.acc >
    0.5`` reads 25,000 ids first instead of 50,000: 91 → 77 ms)."""
    return not ((node[0] == "cmp" and node[2] == "=") or (node[0] == "in" and not node[3]))


def to_sql(node, runs=S.runs) -> ColumnElement[bool]:
    """Turn a parsed filter into a boolean SQL expression over ``runs``."""
    if node is None:
        return true()
    kind = node[0]
    if kind in ("and", "or"):  # flat: ("and", a, b, c, …) → one AND list, not nested pairs; deepest term first
        terms = [to_sql(n, runs) for n in sorted(node[1:], key=lambda n: (-_stack_cost(n), _is_range(n)))]
        return and_(*terms) if kind == "and" else or_(*terms)
    if kind == "not":
        return not_(to_sql(node[1], runs))
    f: Field = node[1]
    if kind == "cmp":
        op, v = node[2], node[3]
        return _cmp_sql(f, op, v, runs)
    if kind == "in":
        vals, neg = node[2], node[3]
        expr = _in_sql(f, vals, runs)
        return not_(expr) if neg else expr
    if kind == "like":
        how, pattern, neg = node[2], node[3], node[4]

        def like(col):
            return col.ilike(pattern) if how == "ilike" else col.like(pattern)

        if f.kind == "metric":
            raise InvalidInput(f"search: {f.label} is a number; 'like' compares text")
        if f.kind == "param":
            expr = _kv_sql(f, runs, lambda t: like(t.c.text))
        elif f.kind == "tag":
            expr = _kv_sql(f, runs, lambda t: like(t.c.value))
        elif f.name in ("experiment", "campaign"):
            table = S.experiments if f.name == "experiment" else S.campaigns
            expr = _membership_sql(runs, table, None, like=like)
        elif f.name in TIME_ATTRIBUTES or f.name == "duration":
            raise InvalidInput(f"search: {f.name} is a time; 'like' compares text")
        else:
            expr = like(_attr_column(f, runs))
        return not_(expr) if neg else expr
    if kind == "isnull":
        neg = node[2]
        if f.kind == "metric":
            expr = _metric_sql(f, runs, lambda col: true())
            return expr if neg else not_(expr)
        if f.kind in ("param", "tag"):
            expr = _kv_sql(f, runs, lambda t: true())
            return expr if neg else not_(expr)
        if f.name in ("experiment", "campaign"):
            link = S.run_experiments if f.name == "experiment" else S.campaign_runs
            expr = runs.c.id.in_(select(link.c.run_id))
            return expr if neg else not_(expr)
        col = _attr_column(f, runs)
        return col.is_not(None) if neg else col.is_(None)
    raise InvalidInput(f"search: cannot evaluate {node!r}")  # pragma: no cover


def _in_sql(f: Field, vals: list, runs):
    """``field in (…)`` as one IN list (a chain of ORs would overflow SQLite's expression depth at ~1000 values)."""
    if not vals:
        return false()
    if f.kind == "metric":
        if any(isinstance(v, (str, bool)) for v in vals):
            raise InvalidInput(f"search: {f.label} is a number and cannot be compared with strings")
        return _metric_sql(f, runs, lambda col: col.in_([float(v) for v in vals]))
    if f.kind == "param":
        nums = [float(v) for v in vals if not isinstance(v, str)]
        strs = [v for v in vals if isinstance(v, str)]
        return _kv_sql(f, runs, lambda t: or_(*([t.c.num.in_(nums)] if nums else []) + ([t.c.text.in_(strs)] if strs else [])))
    if f.kind == "tag":
        return _kv_sql(f, runs, lambda t: t.c.value.in_([v if isinstance(v, str) else json.dumps(v) for v in vals]))
    if f.name in ("experiment", "campaign"):
        table = S.experiments if f.name == "experiment" else S.campaigns
        return _membership_sql(runs, table, [str(v) for v in vals])
    col = _attr_column(f, runs)
    return col.in_([_attr_value(f, "=", v) for v in vals])


def _cmp_sql(f: Field, op: str, v, runs):
    if f.kind == "metric":
        if isinstance(v, str) or isinstance(v, bool):
            raise InvalidInput(f"search: {f.label} is a number and cannot be compared with {v!r}")
        if isinstance(v, float) and math.isnan(v):
            raise InvalidInput("search: NaN is never equal to anything; use 'is null' or compare with a number")
        return _metric_sql(f, runs, lambda col: _compare(col, op, v))
    if f.kind == "param":
        return _kv_sql(f, runs, _param_value_pred(op, v))
    if f.kind == "tag":
        sv = v if isinstance(v, str) else json.dumps(v)
        return _kv_sql(f, runs, lambda t: _compare(t.c.value, op, sv))
    # attributes
    if f.name in ("experiment", "campaign"):
        if op not in ("=", "!="):
            raise InvalidInput(f"search: {f.name} supports =, !=, in, like")
        table = S.experiments if f.name == "experiment" else S.campaigns
        expr = _membership_sql(runs, table, [str(v)])
        return expr if op == "=" else not_(expr)
    col = _attr_column(f, runs)
    return _compare(col, op, _attr_value(f, op, v))


def _attr_value(f: Field, op: str, v):
    """The value an attribute (not experiment / campaign) is compared with."""
    if f.name in TIME_ATTRIBUTES:
        return _to_time(f, v)
    if f.name == "duration":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise InvalidInput(f"search: duration is in seconds, not {v!r}")
        return float(v)
    if f.name == "status" and isinstance(v, str) and op in ("=", "!="):
        if v.lower() not in S.RUN_STATUSES:
            raise InvalidInput(f"search: status {v!r} is not one of {', '.join(S.RUN_STATUSES)}")
        return v.lower()
    return v if isinstance(v, str) else str(v)


def filter_sql(text: str | None, runs=S.runs) -> ColumnElement[bool]:
    return to_sql(parse(text), runs)


# ----------------------------------------------------------------------------------------------------------------
# order by


def order_by_sql(text: str | None, runs=S.runs) -> list:
    """``metrics.acc DESC, params.lr, start_time`` → ORDER BY clauses (NULLs always last)."""
    return order_terms_sql(parse_order_by(text), runs)


def order_terms_sql(terms: list[tuple[Field, str]], runs=S.runs) -> list:
    """Parsed ``order_by`` terms → ORDER BY clauses; no terms: newest first."""
    if not terms:
        return [runs.c.start_time.desc(), runs.c.id.desc()]
    return _order_clauses(terms, runs)


def _order_clauses(terms: list[tuple[Field, str]], runs) -> list:
    out = []
    for f, direction in terms:
        col = _order_column(f, runs)
        col = col.desc() if direction == "desc" else col.asc()
        out.append(col.nulls_last())
    out.append(runs.c.id.asc())
    return flatten_order(out)


@dataclass(frozen=True)
class MetricOrder:
    """An ``order_by`` led by a metric's last value, split for reading a page through the ``(name, context,
    last)`` index: ``ranked`` are the runs having a value, ordered by it (``key``) and then by the other terms
    (``rest``); the runs without one (no series, or a NaN last value: NULL) follow in the order of ``rest``."""

    ranked: Any  # the IN-able select of the run ids having a value
    key: Any  # the ORDER BY clause of that value, on ``metric_series.last``
    has_value: Any  # the conditions on ``metric_series``: this name and context, a last value that is not NULL
    rest: list  # ORDER BY clauses of the other terms, ending with the run id


def metric_order(terms: list[tuple[Field, str]], runs=S.runs) -> MetricOrder | None:
    """The split of parsed ``order_by`` terms whose first is ``metrics.<name>`` (its last value), else None."""
    if not terms or terms[0][0].kind != "metric" or terms[0][0].summary != "last":
        return None
    (f, direction), ms = terms[0], S.metric_series
    has_value = and_(ms.c.name == f.name, ms.c.context == f.context, ms.c.last.is_not(None))
    key = ms.c.last.desc() if direction == "desc" else ms.c.last.asc()
    return MetricOrder(select(ms.c.run_id).where(has_value), key, has_value, _order_clauses(terms[1:], runs))


def _order_column(f: Field, runs):
    if f.kind == "metric":
        ms = S.metric_series
        return (
            select(S.series_summary(f.summary))
            .where(ms.c.run_id == runs.c.id, ms.c.name == f.name, ms.c.context == f.context)
            .scalar_subquery()
        )
    if f.kind == "param":
        p = S.params
        base = select(p.c.num).where(p.c.run_id == runs.c.id, p.c.key == f.name).scalar_subquery()
        text = select(p.c.text).where(p.c.run_id == runs.c.id, p.c.key == f.name).scalar_subquery()
        return _ParamOrder(base, text)
    if f.kind == "tag":
        t = S.tags
        return select(t.c.value).where(t.c.run_id == runs.c.id, t.c.key == f.name).scalar_subquery()
    if f.name in ("experiment", "campaign"):
        raise InvalidInput(f"order_by: cannot sort by {f.name}")
    return _attr_column(f, runs)


class _ParamOrder:
    """Params sort numbers first (numerically), then strings — two ORDER BY terms behind one object. Like a column,
    it is given its direction (``desc()`` or ``asc()``: :func:`order_by_sql` always says which), then
    ``nulls_last()``."""

    _desc: bool

    def __init__(self, num, text):
        self.num, self.text = num, text

    def desc(self):
        self._desc = True
        return self

    def asc(self):
        self._desc = False
        return self

    def nulls_last(self):
        return _Multi([(c.desc() if self._desc else c.asc()).nulls_last() for c in (self.num, self.text)])


class _Multi(list):
    pass


def flatten_order(clauses: list) -> list:
    out = []
    for c in clauses:
        if isinstance(c, _Multi):
            out.extend(c)
        else:
            out.append(c)
    return out
