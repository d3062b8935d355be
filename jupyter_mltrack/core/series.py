"""How metric points are packed, summarised, read back and downsampled.

A series is stored as a few compressed chunks of up to :data:`CHUNK_POINTS` points each, never a row per point.
A chunk's bytes are one codec byte followed by a zstandard frame holding three byte-shuffled little-endian arrays
of the same length ``n`` (the row stores ``n``):

* steps — int64, delta-encoded (first value absolute), so regular steps compress to almost nothing;
* timestamps — int64 microseconds since the epoch, delta-encoded;
* values — float64 as given (NaN and ±inf round-trip bit for bit).

Byte shuffling puts the i-th byte of every number together, which lets zstd find the repetition in slowly varying
values (exponents, high mantissa bytes). Points are kept in arrival order; readers sort stably by step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

CODEC_ZSTD_SHUFFLE = 1
CHUNK_POINTS = 8192
_ZSTD_LEVEL = 3

_local = threading.local()


def _zstd():
    """This thread's (compressor, decompressor): zstandard's contexts must not be shared between threads."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        import zstandard

        ctx = _local.ctx = (zstandard.ZstdCompressor(level=_ZSTD_LEVEL), zstandard.ZstdDecompressor())
    return ctx


def _shuffle(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False).view(np.uint8).reshape(-1, 8).T).tobytes()


def _unshuffle(buf: bytes, n: int, dtype: str) -> np.ndarray:
    b = np.frombuffer(buf, dtype=np.uint8).reshape(8, n).T
    return np.ascontiguousarray(b).view(dtype).reshape(n)


@dataclass
class Points:
    """Columns of a series: steps (int64), timestamps (float seconds), values (float64)."""

    steps: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def empty(cls) -> "Points":
        return cls(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64))

    @classmethod
    def concat(cls, parts: list["Points"]) -> "Points":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            np.concatenate([p.steps for p in parts]),
            np.concatenate([p.timestamps for p in parts]),
            np.concatenate([p.values for p in parts]),
        )

    def slice(self, start: int, stop: int) -> "Points":
        return Points(self.steps[start:stop], self.timestamps[start:stop], self.values[start:stop])

    def sorted_by_step(self) -> "Points":
        s = self.steps
        if len(s) < 2 or bool(np.all(s[1:] >= s[:-1])):
            return self
        order = np.argsort(s, kind="stable")
        return Points(s[order], self.timestamps[order], self.values[order])


def encode_chunk(p: Points) -> bytes:
    n = len(p)
    steps = np.asarray(p.steps, dtype=np.int64)
    micros = np.round(np.asarray(p.timestamps, dtype=np.float64) * 1e6).astype(np.int64)
    ds = np.empty(n, np.int64)
    dt = np.empty(n, np.int64)
    if n:
        ds[0] = steps[0]
        np.subtract(steps[1:], steps[:-1], out=ds[1:])
        dt[0] = micros[0]
        np.subtract(micros[1:], micros[:-1], out=dt[1:])
    raw = _shuffle(ds) + _shuffle(dt) + _shuffle(np.asarray(p.values, dtype=np.float64))
    cctx, _ = _zstd()
    return bytes([CODEC_ZSTD_SHUFFLE]) + cctx.compress(raw)


def decode_chunk(data: bytes, n: int) -> Points:
    if not data or data[0] != CODEC_ZSTD_SHUFFLE:
        raise ValueError("unknown metric chunk codec")
    _, dctx = _zstd()
    raw = dctx.decompress(memoryview(data)[1:], max_output_size=24 * n)
    if len(raw) != 24 * n:
        raise ValueError("corrupt metric chunk: expected %d points" % n)
    w = 8 * n
    steps = np.cumsum(_unshuffle(raw[:w], n, "<i8"), dtype=np.int64)
    micros = np.cumsum(_unshuffle(raw[w : 2 * w], n, "<i8"), dtype=np.int64)
    values = _unshuffle(raw[2 * w :], n, "<f8").astype(np.float64, copy=False)
    return Points(steps.astype(np.int64, copy=False), micros / 1e6, values)


@dataclass
class Summary:
    count: int = 0
    last: float | None = None
    last_step: int | None = None
    last_time: float | None = None
    min: float | None = None
    max: float | None = None

    def merged(self, p: Points) -> "Summary":
        """The summary after appending ``p`` (in arrival order). ``last`` is the value of the point with the greatest
        step; among equal steps the one logged last."""
        n = len(p)
        if n == 0:
            return self
        out = Summary(self.count + n, self.last, self.last_step, self.last_time, self.min, self.max)
        steps = p.steps
        # index of the last occurrence of the maximum step
        smax = int(steps.max())
        i = n - 1 - int(np.argmax(steps[::-1] == smax))
        if out.last_step is None or smax >= out.last_step:
            out.last_step = smax
            out.last = float(p.values[i])
            out.last_time = float(p.timestamps[i])
        # min/max ignore NaN but keep ±inf
        vals = p.values[~np.isnan(p.values)]
        if vals.size:
            lo, hi = float(vals.min()), float(vals.max())
            out.min = lo if out.min is None else min(out.min, lo)
            out.max = hi if out.max is None else max(out.max, hi)
        return out


def split_chunks(p: Points, size: int = CHUNK_POINTS) -> list[Points]:
    return [p.slice(i, i + size) for i in range(0, len(p), size)] or []


def downsample(p: Points, max_points: int | None) -> tuple[Points, bool]:
    """Keep at most ``max_points`` points, preserving each bucket's extremes (MinMaxLTTB from tsdownsample).

    ``p`` must be sorted by step. Non-finite values are never dropped by the selection's arithmetic: selection runs
    on finite values and the points holding NaN/±inf inside the kept range are added back (they are rare)."""
    n = len(p)
    if max_points is None or n <= max_points:
        return p, False
    if max_points < 3:
        raise ValueError("max_points must be at least 3")
    from tsdownsample import MinMaxLTTBDownsampler, NaNMinMaxLTTBDownsampler

    x = p.steps
    y = p.values
    if len(x) > 1 and not bool(np.all(x[1:] > x[:-1])):
        # duplicate steps: tsdownsample needs a strictly increasing x, so select on positions instead
        x = None
    finite = np.isfinite(y)
    n_out = max(3, max_points - 2)  # room for the global extremes, added below
    if bool(finite.all()):
        idx = MinMaxLTTBDownsampler().downsample(*(() if x is None else (x,)), y, n_out=n_out)
        extremes = [int(np.argmin(y)), int(np.argmax(y))]
    else:
        yy = np.where(finite, y, np.nan)
        idx = NaNMinMaxLTTBDownsampler().downsample(*(() if x is None else (x,)), yy, n_out=n_out)
        extremes = [int(np.nanargmin(yy)), int(np.nanargmax(yy))] if bool(finite.any()) else []
        special = np.flatnonzero(~finite)
        if special.size <= max_points // 10:
            idx = np.union1d(idx, special)
    # LTTB picks per bucket; make sure the series' own minimum and maximum are always drawn
    if max_points < 5:  # too few points for first, last, min and max: LTTB's own choice stands
        extremes = []
    idx = np.union1d(np.asarray(idx, dtype=np.int64), np.asarray(extremes, dtype=np.int64))
    if idx.size > max_points:  # only with many non-finite points: keep the ends and extremes, thin the rest
        keep = set(extremes) | {0, n - 1}
        rest = np.array([i for i in idx if i not in keep], dtype=np.int64)
        rest = rest[np.linspace(0, rest.size - 1, max_points - len(keep)).astype(np.int64)]
        idx = np.union1d(rest, np.asarray(sorted(keep), dtype=np.int64))
    idx = np.asarray(idx, dtype=np.int64)
    return Points(p.steps[idx], p.timestamps[idx], p.values[idx]), True
