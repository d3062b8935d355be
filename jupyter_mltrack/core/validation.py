"""Checks shared by the client (at call time) and the store (for writes arriving over HTTP): the one validation
layer. Every limit of the write format is a constant here; docs/rest-api.md ("Limits") and the OpenAPI document
state the same numbers (tests/test_docs.py checks them), and a value beyond one is refused with
:class:`InvalidInput` naming the field — before anything is stored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidInput

#: The statuses a run can have.
RUN_STATUSES = ("running", "finished", "failed", "killed", "crashed")
MAX_KEY = 250  # names: params, tags, metrics, artifacts, projects, experiments, runs, models
MAX_TAG_VALUE = 5000
MAX_PARAM_JSON = 64_000
MAX_TEXT = 100_000  # free text: a run's description, error, source
MAX_DEPTH = 32  # nesting of a param value or artifact metadata
MAX_METADATA_JSON = 64_000
MAX_SECONDS = 1e11  # times are seconds since the epoch in [0, 1e11) (year 5138), stored exactly in int64 µs
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # steps, ids, sizes, offsets
MAX_FILE_SIZE = 2**53  # an artifact file's size in bytes
MAX_MEDIA_TYPE = 255
MAX_QUERY = 40_000  # characters of a request's query string (1000 run ids fit; the HTTP server closes at 64 KB)
MAX_IDS = 1000  # run ids in one request (the HTTP client splits longer lists)
_MEDIA_TYPE_PATTERN = (r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
                         r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"\\\x00-\x1f]*\"|[A-Za-z0-9!#$&^_.+-]+))*$")
_CONTEXT_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def _unicode(field: str, value: str) -> str:
    """Text that can be stored: no lone surrogates (JSON's "\\ud800" decodes to one; UTF-8 cannot hold it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} {value!r:.60} holds a lone surrogate, which is not text") from None
    return value


_CONTROL = re.compile(r"[\x00-\x1f]")  # the control characters a name must not hold


def check_key(kind: str, key: Any) -> str:
    """A param, tag or metric name: a non-empty string of at most 250 characters without control characters."""
    if not isinstance(key, str):
        raise InvalidInput(f"{kind} name must be a string, got {type(key).__name__}: {key!r:.60}")
    if not key or not key.strip():
        raise InvalidInput(f"{kind} name must not be empty")
    if len(key) > MAX_KEY:
        raise InvalidInput(f"{kind} name {key[:40]!r}… is {len(key)} characters long; the limit is {MAX_KEY}")
    if _CONTROL.search(key):
        raise InvalidInput(f"{kind} name {key!r} contains a control character")
    return _unicode(f"{kind} name", key)


def check_text(field: str, value: Any, limit: int = MAX_TEXT, nullable: bool = False) -> str | None:
    """A free-text field: a string of at most ``limit`` characters (``None`` only where ``nullable``)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{field} is {len(value)} characters long; the limit is {limit}")
    return _unicode(field, value)


def check_seconds(field: str, value: Any, nullable: bool = False) -> float | None:
    """A time: finite seconds since the epoch, in [0, 1e11)."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field} must be a number of seconds since the epoch, not {value!r:.60}")
    if not (0 <= value < MAX_SECONDS):  # NaN fails this too
        raise InvalidInput(f"{field} must be finite seconds since the epoch between 0 and {MAX_SECONDS:.0e}, "
                           f"not {value!r:.60}")
    return float(value)


def check_int(field: str, value: Any, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    """An integer in [lo, hi] (a whole float such as 1.0 counts, as in JSON; booleans do not)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2.0**63:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer, not {value!r:.60}")
    if not (lo <= value <= hi):
        raise InvalidInput(f"{field} must be between {lo} and {hi}, not {str(value)[:40]}")
    return value


def check_relative_path(field: str, path: Any) -> str:
    """A file path inside an artifact: relative, '/'-separated, without '..', empty parts or control characters."""
    if not isinstance(path, str) or not path:
        raise InvalidInput(f"{field} must be a non-empty string")
    if len(path) > 1000:
        raise InvalidInput(f"{field} is {len(path)} characters long; the limit is 1000")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts) or any(
            ord(c) < 32 for c in path):
        raise InvalidInput(f"{field} {path!r:.80} must be a relative path without '..', '.', empty parts, "
                           "backslashes or control characters")
    return _unicode(field, path)


def check_media_type(field: str, value: Any) -> str:
    """A media type such as ``text/csv`` or ``text/plain; charset=utf-8``."""
    if not isinstance(value, str) or len(value) > MAX_MEDIA_TYPE or not re.match(_MEDIA_TYPE_PATTERN, value):
        raise InvalidInput(f"{field} {value!r:.80} is not a media type such as 'text/csv' "
                           f"(type/subtype, at most {MAX_MEDIA_TYPE} characters)")
    return value


def check_metadata(field: str, value: Any) -> dict:
    """Artifact metadata: a JSON object, at most MAX_DEPTH levels deep and MAX_METADATA_JSON characters."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be an object (a dict), not {type(value).__name__}")
    problem = json_problem(value)
    if problem:
        raise InvalidInput(f"{field} {problem}")
    try:
        text = json.dumps(value, default=str, allow_nan=False)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{field} must be JSON without NaN or infinity") from None
    if len(text) > MAX_METADATA_JSON:
        raise InvalidInput(f"{field} is {len(text)} characters of JSON; the limit is {MAX_METADATA_JSON}")
    return dict(value)


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot be stored as JSON (nested too deep, a non-string key, bytes, a lone surrogate), or None.
    Integers of any size are JSON (kept exactly). Recursive on depth, bounded by :data:`MAX_DEPTH`."""
    if depth > MAX_DEPTH:
        return f"nests more than {MAX_DEPTH} levels"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate, which is not text"
        return None
    if value is None or isinstance(value, (bool, int, float)):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "holds bytes, which JSON cannot (send text)"
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"has a key {k!r:.40} that is not a string"
            p = json_problem(v, depth + 1)
            if p:
                return p
        return None
    if isinstance(value, (list, tuple, set, frozenset)):  # sets are stored as lists
        for v in value:
            p = json_problem(v, depth + 1)
            if p:
                return p
    return None


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
    """Canonical JSON text of a param value; a clear error names the key when it is not JSON-serialisable. Integers
    of any size are kept exactly (search compares those beyond a float's range as no number)."""
    problem = json_problem(value)
    if problem:
        raise InvalidInput(f"param {key!r}: the value {problem}")
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable, allow_nan=False)
    except ValueError as e:
        if "Out of range float" in str(e):
            raise InvalidInput(f"param {key!r}: NaN and infinity are not valid param values (log them as a metric "
                               "or a string)") from None
        raise InvalidInput(f"param {key!r}: {str(e)[:200]}") from None
    except RecursionError:
        raise InvalidInput(f"param {key!r}: the value nests more than {MAX_DEPTH} levels") from None
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
        try:
            f = float(v)
        except OverflowError:  # an integer beyond a float's range: no number to search by
            return None, None
        return (f if math.isfinite(f) else None), None
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
    if isinstance(value, (str, bytes, bytearray)) or value is None:
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
    """A step: an integer (or an integral float) in the 64-bit range."""
    if isinstance(step, bool) or step is None:
        raise InvalidInput(f"metric {name!r}: step {step!r} is not an integer")
    try:
        i = int(step)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"metric {name!r}: step {step!r} is not an integer") from None
    if i != step and not (isinstance(step, float) and step.is_integer()):
        raise InvalidInput(f"metric {name!r}: step {step!r} is not an integer")
    if not (INT64_MIN <= i <= INT64_MAX) or (isinstance(step, float) and abs(step) >= 2.0**63):
        raise InvalidInput(f"metric {name!r}: step {str(step)[:40]} is outside the 64-bit range")
    return i


def steps_array(name: str, arr: Any) -> Any:
    """An array of steps as int64: integral values in the 64-bit range, one dimension."""
    import numpy as np

    a = np.asarray(arr)
    if a.ndim != 1:
        raise InvalidInput(f"metric {name!r}: steps must be a flat list of integers")
    if a.size and a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(np.abs(a) >= 2.0**63) or np.any(np.mod(a, 1) != 0):
            raise InvalidInput(f"metric {name!r}: steps must be integers in the 64-bit range")
        return a.astype(np.int64)
    if a.size and a.dtype.kind not in "iu":
        raise InvalidInput(f"metric {name!r}: steps must be integers")
    if a.dtype.kind == "u" and a.size and a.max() > INT64_MAX:
        raise InvalidInput(f"metric {name!r}: steps must be integers in the 64-bit range")
    return a.astype(np.int64, copy=False)


def times_array(name: str, arr: Any) -> Any:
    """An array of timestamps as float64 seconds: finite, in [0, 1e11), one dimension."""
    import numpy as np

    a = np.asarray(arr, dtype=np.float64)
    if a.ndim != 1:
        raise InvalidInput(f"metric {name!r}: timestamps must be a flat list of numbers")
    if a.size and not (np.all(a >= 0) and np.all(a < MAX_SECONDS)):  # NaN fails too
        raise InvalidInput(f"metric {name!r}: timestamps must be finite seconds since the epoch between 0 and "
                           f"{MAX_SECONDS:.0e}")
    return a


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
        out[k] = _unicode(f"metric context value for {k!r}", v)
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
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"tag {key!r}: value must be text, not bytes")
    v = value if isinstance(value, str) else json.dumps(value, default=str)
    _unicode(f"tag {key!r}: value", v)
    if len(v) > MAX_TAG_VALUE:
        raise InvalidInput(f"tag {key!r}: value is {len(v)} characters; the limit is {MAX_TAG_VALUE}")
    return v


# -- the model lifecycle: aliases, references, datasets, lineage ----------------------------------------------------

DATASET_KINDS = ("file", "folder", "zip", "table")
LINEAGE_DIRECTIONS = ("up", "down")
MAX_LINEAGE_DEPTH = 100
MAX_LINEAGE_NODES = 10_000
MAX_STAGE = 50  # a model version's stage (the column's width)  # a walk stops (``truncated``) past this many nodes


def check_alias(alias: Any) -> str:
    """An alias of a model or dataset version (champion, challenger, …): a name that is not all digits (``house@3``
    is version 3) and holds no '@'."""
    check_key("alias", alias)
    if alias.isascii() and alias.isdigit():
        raise InvalidInput(f"alias {alias!r} must not be a number (name@3 means version 3)")
    if "@" in alias:
        raise InvalidInput(f"alias {alias!r} must not contain '@'")
    return alias


def parse_ref(kind: str, ref: Any) -> tuple[str, str | None, int | None]:
    """``name``, ``name@alias`` or ``name@<version>`` → (name, alias, version); a bare name is its newest version."""
    if not isinstance(ref, str):
        raise InvalidInput(f"{kind} reference must be a string like 'name@alias' or 'name@3', not {ref!r:.60}")
    name, at, tail = ref.rpartition("@")
    if not at:
        return check_key(kind, ref), None, None
    check_key(kind, name)
    if tail.isascii() and tail.isdigit():
        return name, None, check_int(f"{kind} reference {ref!r}: version", int(tail), 1)
    return name, check_alias(tail), None


# -- figures and images (core/figures.py) ---------------------------------------------------------------------------

#: What a logged figure is: a matplotlib figure (PNG + SVG), a plotly figure (its JSON, a PNG when kaleido renders
#: one), an image (PNG) or a confusion matrix (its JSON: labels and counts, plus a PNG).
FIGURE_KINDS = ("matplotlib", "plotly", "image", "confusion_matrix")
MAX_FIGURE_FILES = 10  # files of one logged figure


def check_figure_kind(kind: Any) -> str:
    if kind not in FIGURE_KINDS:
        raise InvalidInput(f"figure kind {kind!r:.40} is not one of {', '.join(FIGURE_KINDS)}")
    return kind


def figure_step(name: str, step: Any) -> int | None:
    """A figure's step: None (a figure without steps) or a 64-bit integer."""
    return None if step is None else check_int(f"figure {name!r}: step", step)


# -- jobs (core/jobs.py) ---------------------------------------------------------------------------------------------

JOB_KINDS = ("notebook", "script")
#: The statuses of a job's execution in one trigger: waiting for upstream jobs, queued, running, then final.
JOB_STATUSES = ("pending", "queued", "running", "finished", "failed", "killed", "skipped")
MAX_JOB_TIMEOUT = 30 * 86400.0  # seconds
MAX_JOB_RETRIES = 100
MAX_RETRY_DELAY = 86400.0  # seconds before the first retry (doubling after each)
MAX_JOB_CONCURRENCY = 1000


def check_cron(field: str, expr: Any) -> str:
    """A cron expression of five fields (minute hour day month weekday), parsed by croniter; '' for none."""
    if expr is None or expr == "":
        return ""
    if not isinstance(expr, str):
        raise InvalidInput(f"{field} must be a cron expression such as '0 2 * * *', not {expr!r:.60}")
    expr = " ".join(expr.split())
    if len(expr.split(" ")) != 5 or len(expr) > 250:
        raise InvalidInput(f"{field} {expr!r:.80} is not a cron expression of five fields "
                           "(minute hour day-of-month month day-of-week), such as '0 2 * * *'")
    from croniter import croniter

    try:
        croniter(expr)
    except Exception as e:  # croniter's errors: CroniterBadCronError, ValueError, KeyError…
        raise InvalidInput(f"{field} {expr!r} is not a valid cron expression: {e}") from None
    return expr


def check_timezone(field: str, tz: Any) -> str:
    """An IANA time zone name such as 'UTC' or 'Europe/Paris'."""
    from zoneinfo import ZoneInfo

    if not isinstance(tz, str) or not tz or len(tz) > 64 or any(ord(c) < 32 for c in tz):
        raise InvalidInput(f"{field} must be a time zone name such as 'UTC' or 'Europe/Paris', not {tz!r:.60}")
    try:
        ZoneInfo(tz)
    except Exception:
        raise InvalidInput(f"{field} {tz!r} is not a known time zone (such as 'UTC' or 'Europe/Paris')") from None
    return tz


def check_number(field: str, value: Any, lo: float, hi: float, nullable: bool = False) -> float | None:
    """A finite number in [lo, hi] (None only where ``nullable``)."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (lo <= value <= hi):
        raise InvalidInput(f"{field} must be a number between {lo:g} and {hi:g}, not {value!r:.60}")
    return float(value)


def check_job_params(field: str, params: Any, declared: "frozenset[str] | None", path: str) -> dict:
    """A job's params: a dict of JSON values; for a notebook (``declared``: the names its ``parameters``-tagged
    cell assigns), only names it declares."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInput(f"{field} must be an object (a dict), not {type(params).__name__}")
    for k, v in params.items():
        check_key("param", k)
        param_json(k, v)
    if declared is not None:
        unknown = sorted(set(params) - declared)
        if unknown:
            have = ", ".join(sorted(declared)) or "none"
            raise InvalidInput(f"{field}: {path} does not declare the parameter {unknown[0]!r} in its "
                               f"'parameters'-tagged cell (it declares: {have})")
    return dict(params)


_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_job_name(field: str, name: Any) -> str:
    """A job's name: 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit (it is a URL segment)."""
    if not isinstance(name, str) or not _JOB_NAME.match(name):
        raise InvalidInput(f"{field} {name!r:.60} must be 1-100 letters, digits, '_', '-' or '.', starting with a "
                           "letter or digit")
    return name


# -- deployments (core/deployments.py, jupyter_mltrack/serving) -----------------------------------------------------

#: A deployment serves one model ("model") or routes among several ("ab_test").
DEPLOYMENT_KINDS = ("model", "ab_test")
DEPLOYMENT_STATUSES = ("running", "stopped", "failed")
MAX_DEPLOYMENT_MODELS = 20  # models of an A/B test
MAX_DEPLOYMENT_OPTIONS_JSON = 16_000


def check_deployment_name(field: str, name: Any) -> str:
    """A deployment's name: the rule of a job's name (it is a URL segment: ``mltrack/serve/{name}/predict``)."""
    return check_job_name(field, name)
