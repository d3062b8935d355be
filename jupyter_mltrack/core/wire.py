"""What crosses the API as JSON: encoding, decoding, and the policy for non-finite numbers — written once here.

JSON has no NaN or infinity. Everywhere a float leaves the store for a client (REST, widgets, reports, the
run-table text fragments), NaN, +inf and -inf travel as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
(:func:`float_to_wire`), and every reader turns those strings back into floats (:func:`float_from_wire`).
SQLite stores a NaN as NULL: a summary value read back as NULL from a series with points is NaN
(:func:`stored_float`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
from typing import Any, Iterable, Mapping

#: The columns of the run table's ``base`` rows (``Store.run_table``, ``Store.run_frame``, the HTTP backend's).
RUN_TABLE_COLUMNS = ("run_id", "name", "status", "start_time", "end_time", "heartbeat_at", "project", "user",
                     "parent_id", "source")
#: The wire strings of the non-finite floats, and back.
NONFINITE_TEXT = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_INF = float("inf")


def float_to_wire(v: float) -> float | str:
    """A float as JSON can carry it: itself when finite, else "NaN", "Infinity" or "-Infinity"."""
    if v != v:
        return "NaN"
    if v == _INF:
        return "Infinity"
    if v == -_INF:
        return "-Infinity"
    return v


def float_from_wire(v: Any) -> Any:
    """The inverse of :func:`float_to_wire`; None (a JSON null where a number belongs) reads as NaN."""
    if v.__class__ is str:
        return NONFINITE_TEXT[v]
    return math.nan if v is None else v


def jsonable(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by its wire string (dicts, lists and tuples walked)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else float_to_wire(obj)
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def cell_value(v: Any) -> Any:
    """A param, tag or metric value for a table cell: numbers as on the wire, lists and dicts as their JSON text."""
    if isinstance(v, float):
        return float_to_wire(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return v


def num_text(v: float | None) -> str:
    """A number as JSON text: None → null, non-finite → its wire string (the run-table fragments are text)."""
    if v is None:
        return "null"
    w = float_to_wire(v)
    return '"%s"' % w if w.__class__ is str else repr(float(v))


def stored_float(v: float | None, count: int | None) -> float | None:
    """A summary float as the database returned it: SQLite keeps NaN as NULL, so NULL in a series that has points
    (``count`` > 0) was a NaN."""
    if v is None and count:
        return math.nan
    return v


def metrics_from_wire(metrics: Iterable[Mapping[str, Any]], fields: Iterable[str] = ("last", "min", "max")) -> None:
    """Decode, in place, the non-finite wire strings of metric summaries (a run's ``metrics`` list)."""
    fields = tuple(fields)
    for m in metrics:
        for k in fields:
            v = m.get(k)
            if v.__class__ is str:
                m[k] = NONFINITE_TEXT[v]  # type: ignore[index]


def series_lists(points) -> dict:
    """A series' arrays (:class:`~jupyter_mltrack.core.series.Points`) as JSON-ready lists, converted in C; only
    non-finite values need a Python pass."""
    import numpy as np

    values = points.values
    vals = values.tolist()
    finite = np.isfinite(values)
    if not bool(finite.all()):
        for i in np.flatnonzero(~finite).tolist():
            vals[i] = float_to_wire(vals[i])
    return {"steps": points.steps.tolist(), "timestamps": points.timestamps.tolist(), "values": vals}


_ENCODER = None


def encode_json(obj: Any) -> bytes:
    """JSON bytes of an object free of non-finite floats, encoded in C (msgspec: about 15× faster than the
    standard library for number arrays, the same shortest round-trip float text). Imported on first use."""
    global _ENCODER
    if _ENCODER is None:
        import msgspec

        _ENCODER = msgspec.json.Encoder()
    return _ENCODER.encode(obj)


def decode_json(text: str | bytes) -> Any:
    """Parse JSON text in C (msgspec), falling back to the standard library."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec is a dependency; plain json is the slow fallback
        return json.loads(text)
    return msgspec.json.decode(text)


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a bulk decode builds many containers at once (10k runs make ~100k
    dicts and lists): it would otherwise rescan the growing heap again and again — a third of the time of a big
    run table. Nothing cyclic is made meanwhile; the collector resumes as it was."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
