"""Checks shared by the client (at call time) and the store (for writes arriving over HTTP)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping

from .errors import InvalidInput

MAX_KEY = 250
MAX_TAG_VALUE = 5000
MAX_PARAM_JSON = 64_000
_CONTEXT_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def check_key(kind: str, key: Any) -> str:
    """A param, tag or metric name: a non-empty string of at most 250 characters without control characters."""
    if not isinstance(key, str):
        raise InvalidInput(f"{kind} name must be a string, got {type(key).__name__}: {key!r}")
    if not key or not key.strip():
        raise InvalidInput(f"{kind} name must not be empty")
    if len(key) > MAX_KEY:
        raise InvalidInput(f"{kind} name {key[:40]!r}… is {len(key)} characters long; the limit is {MAX_KEY}")
    if any(ord(c) < 32 for c in key):
        raise InvalidInput(f"{kind} name {key!r} contains a control character")
    return key


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays, tuples, sets → plain JSON types; anything else is refused
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if np is not None:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError


def param_json(key: str, value: Any) -> str:
    """Canonical JSON text of a param value; a clear error names the key when it is not JSON-serialisable."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable, allow_nan=False)
    except ValueError as e:
        if "Out of range float" in str(e):
            raise InvalidInput(f"param {key!r}: NaN and infinity are not valid param values (log them as a metric "
                               "or a string)") from None
        raise InvalidInput(f"param {key!r}: {e}") from None
    except TypeError as e:
        raise InvalidInput(
            f"param {key!r}: value of type {type(value).__name__} is not JSON-serialisable ({e}); "
            "log a number, string, bool, None, list or dict"
        ) from None
    if len(text) > MAX_PARAM_JSON:
        raise InvalidInput(f"param {key!r}: value is {len(text)} characters of JSON; the limit is {MAX_PARAM_JSON}")
    return text


def param_columns(value_json: str) -> tuple[float | None, str | None]:
    """The typed copies of a param value used by search: (number, string)."""
    v = json.loads(value_json)
    if isinstance(v, bool):
        return float(v), None
    if isinstance(v, (int, float)):
        f = float(v)
        return (f if not math.isnan(f) else None), None
    if isinstance(v, str):
        return None, v
    return None, None


def same_json_value(a: Any, b: Any) -> bool:
    """JSON equality where true is not 1 and false is not 0 (Python's == says they are)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json_value(x, y) for x, y in zip(a, b))
    return a == b


def metric_value(name: str, value: Any) -> float:
    """A metric value as a float (bools, ints, numpy scalars…); NaN and ±inf are values like any other."""
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidInput(f"metric {name!r}: value {value!r} of type {type(value).__name__} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"metric {name!r}: value {value!r} of type {type(value).__name__} is not a number"
        ) from None
    except OverflowError:
        raise InvalidInput(f"metric {name!r}: value {value!r} is too large for a float") from None


def metric_step(name: str, step: Any) -> int:
    if isinstance(step, bool) or step is None:
        raise InvalidInput(f"metric {name!r}: step {step!r} is not an integer")
    try:
        i = int(step)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"metric {name!r}: step {step!r} is not an integer") from None
    if i != step and not (isinstance(step, float) and step.is_integer()):
        raise InvalidInput(f"metric {name!r}: step {step!r} is not an integer")
    return i


def context_json(context: Mapping[str, Any] | None) -> str:
    """Canonical JSON of a metric context: a flat dict of short keys to strings (numbers/bools are stringified)."""
    if context is None:
        return "{}"
    if isinstance(context, str):
        try:
            context = json.loads(context) if context.strip() else {}
        except json.JSONDecodeError:
            raise InvalidInput(f"metric context {context!r} is not a JSON object") from None
    if not isinstance(context, Mapping):
        raise InvalidInput(f"metric context must be a dict such as {{'subset': 'train'}}, got {context!r}")
    out = {}
    for k, v in context.items():
        if not isinstance(k, str) or not _CONTEXT_KEY.match(k):
            raise InvalidInput(f"metric context key {k!r} must be 1-100 letters, digits, '_', '-' or '.'")
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (int, float)):
            v = repr(v)
        elif not isinstance(v, str):
            raise InvalidInput(f"metric context value for {k!r} must be a string or number, got {v!r}")
        if len(v) > 100 or any(c in v for c in ",]=") or any(ord(c) < 32 for c in v):
            raise InvalidInput(f"metric context value {v!r} for {k!r} must be ≤100 characters without ',', ']' or '='")
        out[k] = v
    text = json.dumps(out, sort_keys=True, separators=(",", ":"))
    if len(text) > 500:
        raise InvalidInput("metric context is too large (500 characters of JSON at most)")
    return text


def series_key(name: str, context_text: str) -> str:
    """Display key of a series: ``name`` or ``name[k=v,…]`` (keys sorted) — the same in DataFrame columns, REST
    and the search language."""
    ctx = json.loads(context_text) if context_text and context_text != "{}" else {}
    if not ctx:
        return name
    return name + "[" + ",".join(f"{k}={ctx[k]}" for k in sorted(ctx)) + "]"


def tag_value(key: str, value: Any) -> str:
    if value is None:
        raise InvalidInput(f"tag {key!r}: value must not be None (use delete_tag)")
    v = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(v) > MAX_TAG_VALUE:
        raise InvalidInput(f"tag {key!r}: value is {len(v)} characters; the limit is {MAX_TAG_VALUE}")
    return v
