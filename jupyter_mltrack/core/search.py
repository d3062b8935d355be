"""The run search language: tokens, fields and a parser to a small AST (``core/search_sql.py`` makes it SQL).

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
Numbers
    An integer literal must fit a signed 64-bit integer (at most 9223372036854775807 in magnitude); any other
    number must be a finite double (up to about 1.8e308). Out of range, the filter is refused (:class:`InvalidInput`)
    rather than rounded: write a large integer as a float (``1e30``) to compare approximately, and infinity as
    ``inf`` / ``-inf``.
Limits
    A filter or an ``order_by`` of more than :data:`MAX_TEXT_LENGTH` characters, a filter nesting more than
    :data:`MAX_NESTING` levels or with more than :data:`MAX_TERMS` conditions (an ``in (…)`` list is one
    condition, however long), and an ``order_by`` of more than :data:`MAX_ORDER_TERMS` terms are refused with
    :class:`InvalidInput` naming the limit, checked while parsing — before any recursion could get deep. Levels
    count both as written (each parenthesis and each ``not`` inside another) and as parsed (each ``and`` / ``or``
    group or ``not`` inside another: ``a or b and (c or d)`` is three levels deep).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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
TIME_ATTRIBUTES = {"start_time", "end_time"}

#: The limits of the language (see the module docstring); each is refused with a message naming it.
MAX_TEXT_LENGTH = 100_000  # characters of a filter, or of an order_by
MAX_NESTING = 50  # levels of parentheses and ``not``s in a filter
MAX_TERMS = 100  # conditions (comparisons, in, like, is null) in a filter
MAX_ORDER_TERMS = 20  # terms of an order_by
MAX_INT = 2**63 - 1  # the largest integer literal (SQLite's INTEGER)


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
        self.depth = 0  # parentheses and nots open around the current position
        self.terms = 0  # conditions read so far

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
        if tree_depth(node) > MAX_NESTING:  # e.g. 'a or b and (c or d and (…))': two groups per parenthesis
            raise InvalidInput(f"search: filter nests more than {MAX_NESTING} levels (and / or groups within "
                               "each other, parentheses and 'not's)")
        return node

    # ``and`` / ``or`` nodes are flat: ("or", a, b, c, …), never a chain of pairs as deep as the filter is long.

    def or_(self):
        terms = [self.and_()]
        while self.word() == "or":
            self.next()
            terms.append(self.and_())
        return terms[0] if len(terms) == 1 else ("or", *terms)

    def and_(self):
        terms = [self.not_()]
        while self.word() == "and":
            self.next()
            terms.append(self.not_())
        return terms[0] if len(terms) == 1 else ("and", *terms)

    def enter(self, t: Tok) -> None:
        """One more level of nesting (a parenthesis or a ``not``), refused past :data:`MAX_NESTING`."""
        if self.depth >= MAX_NESTING:
            raise InvalidInput(f"search: filter nests more than {MAX_NESTING} levels (parentheses and 'not's) "
                               f"at position {t.pos + 1}")
        self.depth += 1

    def not_(self):
        nots = 0
        while self.word() == "not":  # a loop, not a recursion: 'not not … x' costs no stack
            self.enter(self.next())
            nots += 1
        node = self.atom()
        self.depth -= nots
        for _ in range(nots):
            node = ("not", node)
        return node

    def atom(self):
        t = self.peek()
        if t is not None and t.kind == "lparen":
            self.enter(self.next())
            node = self.or_()
            self.depth -= 1
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
            return _number(t)
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
        self.terms += 1
        if self.terms > MAX_TERMS:
            t = self.peek()
            where = f" at position {t.pos + 1}" if t is not None else ""
            raise InvalidInput(f"search: filter has more than {MAX_TERMS} conditions{where}; "
                               "for many values of one field use 'in (…)'")
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
    text = _check_length(str(text), "filter")
    return _Parser(text).parse()


def tree_depth(node) -> int:
    """How many ``and`` / ``or`` / ``not`` nodes deep a parsed filter is (counted without recursion)."""
    deepest, todo = 0, [(node, 0)]
    while todo:
        n, d = todo.pop()
        if n is not None and n[0] in ("and", "or", "not"):
            todo.extend((child, d + 1) for child in n[1:])
        deepest = max(deepest, d)
    return deepest


def _check_length(text: str, what: str) -> str:
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidInput(f"search: {what} is longer than {MAX_TEXT_LENGTH:,} characters ({len(text):,})")
    return text


def _number(t: Tok) -> int | float:
    """A number token's value: an integer within ±:data:`MAX_INT`, else a finite float (or an explicit ±inf)."""
    shown = t.text if len(t.text) <= 24 else t.text[:20] + f"… ({len(t.text)} characters)"
    if re.fullmatch(r"[-+]?\d+", t.text):
        digits = t.text.lstrip("+-").lstrip("0") or "0"  # never int() of thousands of digits
        if len(digits) <= len(str(MAX_INT)) and int(digits) <= MAX_INT:
            return -int(digits) if t.text.startswith("-") else int(digits)
        raise InvalidInput(f"search: the integer {shown} at position {t.pos + 1} is out of range (at most "
                           f"{MAX_INT} in magnitude); write e.g. 1e30 to compare as a float")
    f = float(t.text)
    if math.isinf(f) and "inf" not in t.text.lower():
        raise InvalidInput(f"search: the number {shown} at position {t.pos + 1} is too large for a float "
                           "(about 1.8e308 at most); write inf for infinity")
    return f


def parse_order_by(text: str | None) -> list[tuple[Field, str]]:
    """``metrics.acc DESC, params.lr, start_time`` → [(field, "asc" | "desc"), …]; empty for no order."""
    if text is None or not str(text).strip():
        return []
    parts = [part.strip() for part in _split_commas(_check_length(str(text), "order_by"))]
    parts = [part for part in parts if part]
    if len(parts) > MAX_ORDER_TERMS:
        raise InvalidInput(f"order_by has more than {MAX_ORDER_TERMS} terms ({len(parts)})")
    out = []
    for part in parts:
        direction = "asc"
        words = part.rsplit(None, 1)  # not a regular expression: '(.*?)\s+(asc|desc)$' is quadratic in spaces
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            part, direction = words[0].strip(), words[1].lower()
        p = _Parser(part)
        f = p.field()
        if p.peek() is not None:
            raise InvalidInput(f"order_by: cannot read {part!r}; write e.g. 'metrics.acc DESC, start_time'")
        out.append((f, direction))
    return out


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
