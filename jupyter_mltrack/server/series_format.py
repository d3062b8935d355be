"""The binary form of the series routes (``GET runs/{id}/metrics``, ``GET metrics``), chosen by ``Accept``.

A client that sends ``Accept: application/msgpack`` gets the same object as the JSON answer, encoded as msgpack,
with each series' ``steps``, ``timestamps`` and ``values`` as raw little-endian arrays (msgpack ``bin``: int64,
float64 seconds, float64 — NaN and ±inf as they are, no strings). JSON stays the default (curl, browsers).
docs/rest-api.md describes it; ``client/backend.py`` (``HttpBackend``) reads it.
"""

from __future__ import annotations

from typing import Any

MSGPACK = "application/msgpack"
#: the arrays' element types, as numpy spells them (also in the answer, under ``encoding``)
ENCODING = {"steps": "<i8", "timestamps": "<f8", "values": "<f8"}


def wants_msgpack(accept: str | None) -> bool:
    """Whether the ``Accept`` header asks for msgpack (listed, and not with ``q=0``) ahead of JSON."""
    if not accept:
        return False
    best_json, best_pack = 0.0, 0.0
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if media in (MSGPACK, "application/x-msgpack"):
            best_pack = max(best_pack, q)
        elif media in ("application/json", "application/*", "*/*"):
            best_json = max(best_json, q)
    return best_pack > 0 and best_pack >= best_json


def _raw(a, dtype: str) -> bytes:
    import numpy as np

    a = np.ascontiguousarray(a, dtype=np.dtype(dtype))  # "<" in the dtype: little-endian on any machine
    return a.tobytes()


def packed_series(s: dict) -> dict:
    """One series (as the store returns it, with ``points``) with its arrays as raw bytes."""
    p = s.pop("points")
    s["steps"] = _raw(p.steps, ENCODING["steps"])
    s["timestamps"] = _raw(p.timestamps, ENCODING["timestamps"])
    s["values"] = _raw(p.values, ENCODING["values"])
    s["encoding"] = ENCODING
    return s


def encode_msgpack(obj: Any) -> bytes:
    import msgpack

    return msgpack.packb(obj, use_bin_type=True)


