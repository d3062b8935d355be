"""The run search language → parameterised SQL (SQLAlchemy Core expressions; never string-pasted values).

Examples::

    metrics.acc > 0.5 and params.optimizer = 'adam'
    metrics.loss[subset=val] < 0.3 or tags.stage in ('prod', 'staging')
    min(metrics.loss) < 0.1 and not status = 'failed'
    name like 'rf-%' and start_time > '2026-01-01' and params.lr is not null

Fields
    ``metrics.<name>`` / ``metrics.<name>[k=v,…]`` — the last value of the series with exactly that context
    (none when no brackets); wrap in ``min()``, ``max()``, ``count()``, ``last()`` or ``last_step()`` for the
    other summaries. ``params.<key>`` compares numbers as numbers and strings as strings. ``tags.<key>`` compares
    text. Attributes: ``id``, ``name``, ``status``, ``user``, ``source``, ``description``, ``parent_id``,
    ``start_time``, ``end_time``, ``duration`` (seconds), ``project``, ``experiment``, ``campaign``; the prefix
    ``attributes.`` is optional. Names with spaces or operators go in backquotes: ``metrics.`my loss```.
Operators
    ``= == != <> < <= > >=``, ``in (…)``, ``not in (…)``, ``like``, ``ilike``, ``is null``, ``is not null``,
    combined with ``and``, ``or``, ``not`` and parentheses. Keywords are case-insensitive.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, false, func, not_, or_, select, true
from sqlalchemy.sql import ColumnElement

from . import schema as S
from .errors import InvalidInput
from .validation import context_json

# ----------------------------------------------------------------------------------------------------------------
# tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<op>==|!=|<>|<=|>=|=|<|>)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_])|[-+](?:infinity|inf)\b)
  | (?P<field>(?:metrics|params|tags|attributes)\.(?:`[^`]+`|[^\s()=!<>,`'"\[\]]+)(?:\[[^\]]*\])?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)

_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false", "nan", "inf", "infinity"}
_SUMMARIES = {"last": "last", "min": "min", "max": "max", "count": "count", "last_step": "last_step"}
ATTRIBUTES = (
    "id", "name", "status", "user", "source", "description", "parent_id",
    "start_time", "end_time", "duration", "project", "experiment", "campaign",
)
_TIME_ATTRS = {"start_time", "end_time"}


@dataclass
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos] in "'\"`":
                raise InvalidInput(f"search: the string starting at position {pos + 1} is never closed "
                                   f"(unterminated {text[pos]}) in {text!r}")
            raise InvalidInput(f"search: unexpected character {text[pos]!r} at position {pos + 1} in {text!r}")
        kind = m.lastgroup
        if kind != "ws":
            out.append(Tok(kind, m.group(), pos))
        pos = m.end()
    return out


# ----------------------------------------------------------------------------------------------------------------
# fields


@dataclass(frozen=True)
class Field:
    kind: str  # metric | param | tag | attr
    name: str
    context: str = "{}"
    summary: str = "last"

    @property
    def label(self) -> str:
        if self.kind == "attr":
            return self.name
        return f"{self.kind}s.{self.name}"


def _unquote_name(s: str) -> str:
    if s.startswith("`") and s.endswith("`"):
        return s[1:-1]
    return s


def parse_context_brackets(text: str) -> str:
    """``subset=train,fold=1`` → canonical context JSON."""
    ctx: dict[str, str] = {}
    text = text.strip()
    if text:
        for part in text.split(","):
            if "=" not in part:
                raise InvalidInput(f"search: context item {part!r} must look like key=value")
            k, v = part.split("=", 1)
            ctx[k.strip()] = v.strip().strip("'\"")
    return context_json(ctx)


def parse_field(text: str) -> Field:
    """Parse ``metrics.loss[subset=val]``, ``params.lr``, ``tags.x``, ``attributes.status`` or a bare attribute."""
    if "." not in text or text.split(".", 1)[0] not in ("metrics", "params", "tags", "attributes"):
        name = text.lower()
        if name not in ATTRIBUTES:
            raise InvalidInput(
                f"search: unknown field {text!r}; use metrics.<name>, params.<key>, tags.<key> or one of "
                + ", ".join(ATTRIBUTES)
            )
        return Field("attr", name)
    prefix, rest = text.split(".", 1)
    ctx = "{}"
    if rest.endswith("]") and "[" in rest:
        i = rest.index("[") if not rest.startswith("`") else rest.index("[", rest.index("`", 1))
        rest, ctx_text = rest[:i], rest[i + 1 : -1]
        ctx = parse_context_brackets(ctx_text)
    name = _unquote_name(rest)
    if not name:
        raise InvalidInput(f"search: field {text!r} has no name")
    if prefix == "attributes":
        return parse_field(name)
    if prefix != "metrics" and ctx != "{}":
        raise InvalidInput(f"search: only metrics take a [context], not {text!r}")
    return Field(prefix[:-1], name, ctx)


# ----------------------------------------------------------------------------------------------------------------
# parser → AST (tuples) → SQL


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def word(self, k: int = 0) -> str | None:
        t = self.peek(k)
        return t.text.lower() if t is not None and t.kind == "word" else None

    def next(self) -> Tok:
        t = self.peek()
        if t is None:
            raise InvalidInput(f"search: unexpected end of filter {self.text!r}")
        self.i += 1
        return t

    def error(self, t: Tok | None, what: str) -> InvalidInput:
        if t is None:
            return InvalidInput(f"search: {what} at the end of {self.text!r}")
        return InvalidInput(f"search: {what} at position {t.pos + 1} ({t.text!r}) in {self.text!r}")

    def parse(self):
        if not self.toks:
            return None
        node = self.or_()
        if self.peek() is not None:
            raise self.error(self.peek(), "expected 'and', 'or' or the end")
        return node

    def or_(self):
        node = self.and_()
        while self.word() == "or":
            self.next()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.word() == "and":
            self.next()
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.word() == "not":
            self.next()
            return ("not", self.not_())
        return self.atom()

    def atom(self):
        t = self.peek()
        if t is not None and t.kind == "lparen":
            self.next()
            node = self.or_()
            t2 = self.next()
            if t2.kind != "rparen":
                raise self.error(t2, "expected ')'")
            return node
        return self.comparison()

    def field(self) -> Field:
        t = self.next()
        if t.kind == "word" and t.text.lower() in _SUMMARIES and self.peek() and self.peek().kind == "lparen":
            self.next()
            inner = self.next()
            if inner.kind != "field" or not inner.text.startswith("metrics."):
                raise self.error(inner, f"{t.text}() takes a metrics.<name> field")
            close = self.next()
            if close.kind != "rparen":
                raise self.error(close, "expected ')'")
            f = parse_field(inner.text)
            return Field(f.kind, f.name, f.context, _SUMMARIES[t.text.lower()])
        if t.kind == "field":
            return parse_field(t.text)
        if t.kind == "word" and t.text.lower() not in _KEYWORDS:
            return parse_field(t.text)
        raise self.error(t, "expected a field such as metrics.acc, params.lr, tags.team or status")

    def value(self):
        t = self.next()
        if t.kind == "string":
            q = t.text[0]
            body = t.text[1:-1].replace(q + q, q)
            return re.sub(r"\\(.)", r"\1", body)
        if t.kind == "number":
            f = float(t.text)
            return int(f) if re.fullmatch(r"[-+]?\d+", t.text) else f
        if t.kind == "word":
            w = t.text.lower()
            if w == "true":
                return True
            if w == "false":
                return False
            if w == "nan":
                return math.nan
            if w in ("inf", "infinity"):
                return math.inf
        raise self.error(t, "expected a value (number, 'string', true or false)")

    def comparison(self):
        f = self.field()
        t = self.peek()
        w = self.word()
        if t is not None and t.kind == "op":
            self.next()
            op = {"==": "=", "<>": "!="}.get(t.text, t.text)
            return ("cmp", f, op, self.value())
        if w == "is":
            self.next()
            neg = False
            if self.word() == "not":
                self.next()
                neg = True
            if self.word() != "null":
                raise self.error(self.peek(), "expected 'null'")
            self.next()
            return ("isnull", f, neg)
        neg = False
        if w == "not":
            self.next()
            neg = True
            w = self.word()
        if w in ("in",):
            self.next()
            lp = self.next()
            if lp.kind != "lparen":
                raise self.error(lp, "expected '(' after 'in'")
            vals = [self.value()]
            while self.peek() is not None and self.peek().kind == "comma":
                self.next()
                vals.append(self.value())
            rp = self.next()
            if rp.kind != "rparen":
                raise self.error(rp, "expected ')'")
            return ("in", f, vals, neg)
        if w in ("like", "ilike"):
            self.next()
            v = self.value()
            if not isinstance(v, str):
                raise InvalidInput(f"search: {w} needs a 'pattern' string")
            return ("like", f, w, v, neg)
        raise self.error(t, "expected an operator (=, !=, <, <=, >, >=, in, like, is null)")


def parse(text: str | None):
    """Parse a filter into a small AST; ``None``/empty means no filter."""
    if text is None or not str(text).strip():
        return None
    return _Parser(str(text)).parse()


def _to_time(field: Field, v: Any) -> float:
    if isinstance(v, bool):
        raise InvalidInput(f"search: {field.label} compares with a time, not {v!r}")
    if isinstance(v, (int, float)):
        return float(v)
    try:
        d = _dt.datetime.fromisoformat(str(v))
    except ValueError:
        raise InvalidInput(f"search: {field.label} needs seconds since the epoch or an ISO date, not {v!r}") from None
    if d.tzinfo is None:
        d = d.astimezone()
    return d.timestamp()


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


def effective_status(runs):
    """A running run whose heartbeat stopped reads as ``crashed`` — in filters and sorting too."""
    stale = time.time() - S.STALE_AFTER
    return case(
        (and_(runs.c.status == "running", func.coalesce(runs.c.heartbeat_at, runs.c.start_time) < stale), "crashed"),
        else_=runs.c.status,
    )


def _attr_column(f: Field, runs):
    if f.name == "status":
        return effective_status(runs)
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
    col = ms.c[f.summary]
    return runs.c.id.in_(
        select(ms.c.run_id).where(ms.c.name == f.name, ms.c.context == f.context, pred_builder(col))
    )


def _kv_sql(f: Field, runs, pred_builder):
    t = S.params if f.kind == "param" else S.tags
    return runs.c.id.in_(select(t.c.run_id).where(t.c.key == f.name, pred_builder(t)))


def _param_value_pred(f: Field, op: str, v):
    p = S.params

    def build(t):
        if isinstance(v, bool):
            return _compare(p.c.num, op, float(v))
        if isinstance(v, (int, float)):
            return _compare(p.c.num, op, float(v))
        return _compare(p.c.text, op, v)

    return build


def _membership_sql(f: Field, runs, table, key_col, name_col, values, like=None):
    """experiment / campaign names through their link tables."""
    link = S.run_experiments if table is S.experiments else S.campaign_runs
    fk = link.c.experiment_id if table is S.experiments else link.c.campaign_id
    cond = like(table.c.name) if like is not None else table.c.name.in_(values)
    return runs.c.id.in_(select(link.c.run_id).select_from(link.join(table, fk == table.c.id)).where(cond))


def to_sql(node, runs=S.runs) -> ColumnElement[bool]:
    """Turn a parsed filter into a boolean SQL expression over ``runs``."""
    if node is None:
        return true()
    kind = node[0]
    if kind == "and":
        return and_(to_sql(node[1], runs), to_sql(node[2], runs))
    if kind == "or":
        return or_(to_sql(node[1], runs), to_sql(node[2], runs))
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
            expr = _membership_sql(f, runs, table, None, None, None, like=like)
        elif f.name in _TIME_ATTRS or f.name == "duration":
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
        return _membership_sql(f, runs, table, None, None, [str(v) for v in vals])
    if f.name in _TIME_ATTRS or f.name == "duration" or f.name == "status":
        return or_(*[_cmp_sql(f, "=", v, runs) for v in vals])
    return _attr_column(f, runs).in_([v if isinstance(v, str) else str(v) for v in vals])


def _cmp_sql(f: Field, op: str, v, runs):
    if f.kind == "metric":
        if isinstance(v, str) or isinstance(v, bool):
            raise InvalidInput(f"search: {f.label} is a number and cannot be compared with {v!r}")
        if isinstance(v, float) and math.isnan(v):
            raise InvalidInput("search: NaN is never equal to anything; use 'is null' or compare with a number")
        return _metric_sql(f, runs, lambda col: _compare(col, op, v))
    if f.kind == "param":
        return _kv_sql(f, runs, _param_value_pred(f, op, v))
    if f.kind == "tag":
        sv = v if isinstance(v, str) else json.dumps(v)
        return _kv_sql(f, runs, lambda t: _compare(t.c.value, op, sv))
    # attributes
    if f.name in ("experiment", "campaign"):
        if op not in ("=", "!="):
            raise InvalidInput(f"search: {f.name} supports =, !=, in, like")
        table = S.experiments if f.name == "experiment" else S.campaigns
        expr = _membership_sql(f, runs, table, None, None, [str(v)])
        return expr if op == "=" else not_(expr)
    if f.name in _TIME_ATTRS:
        return _compare(runs.c[f.name], op, _to_time(f, v))
    if f.name == "duration":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise InvalidInput(f"search: duration is in seconds, not {v!r}")
        return _compare(_attr_column(f, runs), op, float(v))
    if f.name == "status" and isinstance(v, str) and op in ("=", "!="):
        if v.lower() not in S.RUN_STATUSES:
            raise InvalidInput(f"search: status {v!r} is not one of {', '.join(S.RUN_STATUSES)}")
        v = v.lower()
    if not isinstance(v, str):
        v = str(v)
    return _compare(_attr_column(f, runs), op, v)


def filter_sql(text: str | None, runs=S.runs) -> ColumnElement[bool]:
    return to_sql(parse(text), runs)


# ----------------------------------------------------------------------------------------------------------------
# order by


def order_by_sql(text: str | None, runs=S.runs) -> list:
    """``metrics.acc DESC, params.lr, start_time`` → ORDER BY clauses (NULLs always last)."""
    if text is None or not str(text).strip():
        return [runs.c.start_time.desc(), runs.c.id.desc()]
    out = []
    for part in _split_commas(str(text)):
        part = part.strip()
        if not part:
            continue
        direction = "asc"
        m = re.match(r"^(.*?)\s+(asc|desc)$", part, re.IGNORECASE)
        if m:
            part, direction = m.group(1).strip(), m.group(2).lower()
        p = _Parser(part)
        f = p.field()
        if p.peek() is not None:
            raise InvalidInput(f"order_by: cannot read {part!r}; write e.g. 'metrics.acc DESC, start_time'")
        col = _order_column(f, runs)
        col = col.desc() if direction == "desc" else col.asc()
        out.append(col.nulls_last())
    out.append(runs.c.id.asc())
    return flatten_order(out)


def _split_commas(text: str) -> list[str]:
    parts, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "`'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _order_column(f: Field, runs):
    if f.kind == "metric":
        ms = S.metric_series
        return (
            select(ms.c[f.summary])
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
    """Params sort numbers first (numerically), then strings — two ORDER BY terms behind one object."""

    def __init__(self, num, text):
        self.num, self.text, self._dir = num, text, "asc"

    def desc(self):
        self._dir = "desc"
        return self

    def asc(self):
        self._dir = "asc"
        return self

    def nulls_last(self):
        d = (lambda c: c.desc()) if self._dir == "desc" else (lambda c: c.asc())
        return _Multi([d(self.num).nulls_last(), d(self.text).nulls_last()])


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
