"""How metric points are packed, summarised, read back and downsampled.

A series is stored as a few compressed chunks of up to :data:`CHUNK_POINTS` points each, never a row per point.
A chunk's bytes are one codec byte followed by a zstandard frame holding three byte-shuffled little-endian arrays
of the same length ``n`` (the row stores ``n``):

* steps — int64, delta-encoded (first value absolute), so regular steps compress to almost nothing;
* timestamps — int64 microseconds since the epoch, delta-encoded;
* values — float64 as given (NaN and ±inf round-trip bit for bit).

Byte shuffling puts the i-th byte of every number together, which lets zstd find the repetition in slowly varying
values (exponents, high mantissa bytes). Points are kept in arrival order; readers sort stably by step.

A full chunk whose steps are strictly increasing also stores an *overview*: the minimum and maximum of every
:data:`OVERVIEW_BUCKET` consecutive points (plus its ends and its few non-finite points), encoded as a chunk of
its own (:func:`overview`). Downsampled reads of long series decode overviews instead of every point.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CODEC_ZSTD_SHUFFLE = 1
CHUNK_POINTS = 8192
_ZSTD_LEVEL = 3
#: A chunk's overview keeps the minimum and maximum of every run of this many consecutive points.
OVERVIEW_BUCKET = 32
#: A chunk's overview keeps all its non-finite points when it has at most this many.
OVERVIEW_MAX_SPECIAL = 64
#: Chart reads use overviews when the points to read number at least this many times ``max_points``.
OVERVIEW_READ_FACTOR = 64

_local = threading.local()


def _zstd():
    """This thread's (compressor, decompressor): zstandard's contexts must not be shared between threads."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        import zstandard

        ctx = _local.ctx = (zstandard.ZstdCompressor(level=_ZSTD_LEVEL), zstandard.ZstdDecompressor())
    return ctx


def _unshuffle(buf: bytes, n: int, dtype: str, arrays: int = 1) -> np.ndarray:
    """Undo the byte shuffling (:func:`_shuffled`) of ``arrays`` arrays of ``n`` numbers stored one after the other
    in ``buf``: shape ``(n,)`` for one array, ``(arrays, n)`` for more."""
    planes = np.frombuffer(buf, dtype=np.uint8).reshape(arrays, 8, n)
    out = np.empty((arrays, n, 8), np.uint8)
    for k in range(8):  # one strided column write per byte plane: about twice as fast as a transposed copy
        out[:, :, k] = planes[:, k, :]
    out = out.view(dtype).reshape(arrays, n)
    return out[0] if arrays == 1 else out


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
    """The bytes of one chunk holding ``p`` (see the module's docstring)."""
    return encode_chunks([p])[0]


def encode_chunks(pieces: Sequence[Points]) -> list[bytes]:
    """:func:`encode_chunk` of each piece, for many at once: pieces of one length are encoded together, a block of
    up to :data:`BLOCK_POINTS` points at a time, with a few numpy calls and one compression call a block. Each such
    call on large data releases the interpreter lock, and a thread that released it gets it back only once the thread
    that took it over has run for its switch interval (5 ms): chunk by chunk, a write of 500k points took 30 ms
    alone and 3.6 s beside a busy Python loop (the user's code, logging); 1.6 s in blocks."""
    out: list = [None] * len(pieces)
    for _, block, at in _blocks(pieces):
        for i, frame in zip(at, _frames(block)):
            out[i] = frame
    return out


_CODEC = bytes([CODEC_ZSTD_SHUFFLE])
#: the most points :func:`encode_chunks` and :func:`pack_chunks` encode in one block: eight full chunks. Larger
#: blocks wait less beside a busy thread (500k points in one block: 0.74 s against 1.5 s) but leave the cache and
#: hold more memory (alone 10–20 % slower, +70 MB); one chunk a block waited 2.8 s (docs/benchmarks.md).
BLOCK_POINTS = 8 * CHUNK_POINTS


def _blocks(pieces: Sequence[Points]):
    """``(n, (steps, timestamps, values), positions)`` for blocks of pieces of ``n`` points each: the columns
    stacked into ``(k, n)`` arrays (int64, float64, float64) and where the ``k`` pieces are in ``pieces``."""
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(pieces):
        by_len.setdefault(len(p), []).append(i)
    for n, at in by_len.items():
        step = max(1, BLOCK_POINTS // max(n, 1))
        for lo in range(0, len(at), step):
            part = at[lo:lo + step]
            yield n, tuple(np.stack([np.asarray(getattr(pieces[i], f), dtype=t) for i in part])
                           for f, t in (("steps", np.int64), ("timestamps", np.float64), ("values", np.float64))), part


def _columns(steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The ``(k, 3, n)`` little-endian int64 arrays a block of chunks stores: steps and microseconds delta-encoded
    within each chunk (its first value absolute), values' bits as they are."""
    k, n = steps.shape
    cols = np.empty((k, 3, n), "<i8")
    micros = np.round(times * 1e6).astype(np.int64)
    for c, a in ((0, steps), (1, micros)):
        if n:
            cols[:, c, 0] = a[:, 0]
            np.subtract(a[:, 1:], a[:, :-1], out=cols[:, c, 1:])
    cols[:, 2] = values.astype("<f8", copy=False).view("<i8")
    return cols


def _shuffled(steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each chunk's bytes before compression, ``(k, 24 n)``: its three arrays (:func:`_columns`) byte-shuffled, the
    i-th byte of every number together."""
    cols = _columns(steps, times, values)
    k, _, n = cols.shape
    return np.ascontiguousarray(cols.view(np.uint8).reshape(k, 3, n, 8).transpose(0, 1, 3, 2)).reshape(k, 24 * n)


def _frames(block: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[bytes]:
    """The stored bytes of each chunk of a block (see :func:`_blocks`)."""
    return [_CODEC + c for c in _compress_all(list(_shuffled(*block)))]


def _compress_all(raws: list) -> list[bytes]:
    """zstd frames of ``raws``, in one call when the installed zstandard can (its C backend)."""
    cctx, _ = _zstd()
    if len(raws) > 1 and all(len(r) for r in raws):
        try:
            return [seg.tobytes() for seg in cctx.multi_compress_to_buffer(raws)]
        except (AttributeError, NotImplementedError):  # another backend: one call per chunk
            pass
    return [cctx.compress(r) for r in raws]


def decode_chunk(data: bytes, n: int) -> Points:
    if not data or data[0] != CODEC_ZSTD_SHUFFLE:
        raise ValueError("unknown metric chunk codec")
    _, dctx = _zstd()
    raw = dctx.decompress(memoryview(data)[1:], max_output_size=24 * n)
    if len(raw) != 24 * n:
        raise ValueError("corrupt metric chunk: expected %d points" % n)
    cols = _unshuffle(raw, n, "<i8", 3)  # the three arrays at once: a small chunk costs little more than one
    steps = np.cumsum(cols[0], dtype=np.int64)
    micros = np.cumsum(cols[1], dtype=np.int64)
    values = cols[2].view("<f8").astype(np.float64)  # a copy: a view would keep all three arrays' memory alive
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


def split_chunks(p: Points, size: int = CHUNK_POINTS, head: Points | None = None) -> list[Points]:
    """The chunks of ``head`` followed by ``p``: views of ``p``, but for the first chunk when ``head`` has points
    (the last, partial chunk a write goes on from), so a long write is not copied to put a few points before it."""
    if head is None or not len(head):
        return [p.slice(i, i + size) for i in range(0, len(p), size)]
    first = size - len(head)
    return [Points.concat([head, p.slice(0, first)]), *split_chunks(p.slice(first, len(p)), size)]


def overview_indices(p: Points) -> np.ndarray | None:
    """Positions of the points of ``p`` that its overview keeps, sorted and unique; None if the steps of ``p`` are
    not strictly increasing (or ``p`` is empty), such a chunk has no overview.

    Per bucket of :data:`OVERVIEW_BUCKET` consecutive points: the first minimum and the first maximum of its finite
    values (NaN and ±inf take no part, as in :func:`downsample`), or the bucket's first point when it has no finite
    value. Also the first and last point, and every non-finite point when there are at most
    :data:`OVERVIEW_MAX_SPECIAL` of them."""
    steps, values = np.asarray(p.steps, dtype=np.int64), np.asarray(p.values, dtype=np.float64)
    return _overview_positions(steps[None], values[None])[0]


def _overview_positions(steps: np.ndarray, values: np.ndarray) -> list[np.ndarray | None]:
    """:func:`overview_indices` of each row of ``(k, n)`` steps and values (``k`` chunks of ``n`` points)."""
    k, n = steps.shape
    if n == 0:
        return [None] * k
    b = OVERVIEW_BUCKET
    nb = -(-n // b)
    finite = np.isfinite(values)
    if n == nb * b and bool(finite.all()):  # the usual full chunks: no masking, no padding
        v = values.reshape(k, nb, b)
        lo, hi = v.argmin(axis=2), v.argmax(axis=2)
    else:
        # the padding of a last partial bucket counts as non-finite; a bucket without finite values is all +inf
        # (resp. -inf) here, so argmin/argmax give its first point, which exists since padding only follows points
        f = np.zeros((k, nb * b), dtype=bool)
        f[:, :n] = finite
        v = np.zeros((k, nb * b), dtype=np.float64)
        v[:, :n] = values
        v, f = v.reshape(k, nb, b), f.reshape(k, nb, b)
        lo = np.argmin(np.where(f, v, np.inf), axis=2)
        hi = np.argmax(np.where(f, v, -np.inf), axis=2)
    base = np.arange(0, nb * b, b, dtype=np.int64)
    rows = np.arange(k)[:, None]
    keep = np.zeros((k, n), dtype=bool)  # a mask gives sorted, unique positions without sorting
    keep[rows, base + lo] = True
    keep[rows, base + hi] = True
    keep[:, 0] = keep[:, n - 1] = True
    special = ~finite
    keep |= special & (special.sum(axis=1) <= OVERVIEW_MAX_SPECIAL)[:, None]
    cols = np.nonzero(keep)[1].astype(np.int64, copy=False)
    rising = np.all(steps[:, 1:] > steps[:, :-1], axis=1).tolist()
    parts = np.split(cols, np.cumsum(keep.sum(axis=1))[:-1])
    return [part if up else None for part, up in zip(parts, rising)]


def _overviews(steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> list[Points | None]:
    """The overview of each row of a ``(k, n)`` block of chunks (see :func:`overview`), gathered in one step."""
    pos = _overview_positions(steps, values)
    has = [j for j, q in enumerate(pos) if q is not None]
    out: list[Points | None] = [None] * len(pos)
    if has:
        counts = [len(pos[j]) for j in has]
        r, c = np.repeat(np.asarray(has, dtype=np.int64), counts), np.concatenate([pos[j] for j in has])
        cut = np.cumsum(counts)[:-1]
        for j, s, t, v in zip(has, *(np.split(a[r, c], cut) for a in (steps, times, values))):
            out[j] = Points(s, t, v)
    return out


def overview(p: Points) -> Points | None:
    """The min/max-preserving subset of a chunk's points chosen by :func:`overview_indices`, or None."""
    idx = overview_indices(p)
    if idx is None:
        return None
    return Points(p.steps[idx], p.timestamps[idx], p.values[idx])


@dataclass(frozen=True)
class Packed:
    """A chunk as the store writes it: its points' count, step range and bytes, and its overview's bytes and count
    (None when it has none)."""

    count: int
    step_min: int
    step_max: int
    data: bytes
    overview: bytes | None
    overview_count: int | None


def pack_chunks(pieces: Sequence[Points], overview_len: int = CHUNK_POINTS) -> list[Packed]:
    """Each (non-empty) piece as a chunk; pieces of ``overview_len`` points get an overview. Vectorised over the
    pieces as :func:`encode_chunks` is, their step ranges and overviews included."""
    if any(len(p) == 0 for p in pieces):
        raise ValueError("a chunk holds at least one point")
    frames: list = [None] * len(pieces)
    ranges: list = [None] * len(pieces)
    ovs: list[Points | None] = [None] * len(pieces)
    blocks = _blocks(pieces)
    lock = threading.Lock()

    def pack() -> None:
        while True:
            with lock:  # the blocks are stacked one at a time, whichever thread asks
                got_block = next(blocks, None)
            if got_block is None:
                return
            n, block, at = got_block
            lo, hi = block[0].min(axis=1).tolist(), block[0].max(axis=1).tolist()
            got = _overviews(*block) if n == overview_len else [None] * len(at)
            for j, (i, frame) in enumerate(zip(at, _frames(block))):
                frames[i], ranges[i], ovs[i] = frame, (lo[j], hi[j]), got[j]

    _on_two_threads(pack, sum(len(p) for p in pieces) >= 2 * BLOCK_POINTS)
    with_ov = [i for i, o in enumerate(ovs) if o is not None]
    ov_data = dict(zip(with_ov, encode_chunks([ovs[i] for i in with_ov])))
    return [Packed(len(p), ranges[i][0], ranges[i][1], frames[i], ov_data.get(i),
                   None if ovs[i] is None else len(ovs[i])) for i, p in enumerate(pieces)]


#: whether a write of at least two blocks packs them on two threads (one more beside the caller's)
PACK_THREADS = min(2, os.cpu_count() or 1)


def _on_two_threads(work, worth_it: bool) -> None:
    """Run ``work()`` on this thread and, when ``worth_it`` and there are cores for it, on a helper thread at once
    (both take blocks until none is left). Compression, shuffling and most numpy calls release the interpreter lock,
    so the two overlap: a 500k-point write 10 % faster alone, 14 % beside a busy loop. The helper's error, if any,
    is raised here."""
    if not worth_it or PACK_THREADS < 2:
        work()
        return
    failed: list[BaseException] = []

    def helper() -> None:
        try:
            work()
        except BaseException as e:  # raised on the caller's thread below
            failed.append(e)

    t = threading.Thread(target=helper, name="mltrack-pack", daemon=True)  # a thread per write: safe across fork
    t.start()
    try:
        work()
    finally:
        t.join()
    if failed:
        raise failed[0]


def use_overviews(n_points: int, max_points: int | None) -> bool:
    """Whether a read of ``n_points`` points downsampled to ``max_points`` should read chunk overviews."""
    return max_points is not None and n_points >= OVERVIEW_READ_FACTOR * max_points


def decode_chunks(rows) -> tuple[Points, int, int]:
    """Decode ``(count, overview_count, blob)`` rows, in order: ``blob`` is the chunk's overview when
    ``overview_count`` is not None, else its data. Returns the concatenated points, the number of points the
    decoded overviews stand for (the sum of their chunks' counts) and the number of points decoded from them."""
    parts, stands_for, from_overviews = [], 0, 0
    for count, ov_count, blob in rows:
        if ov_count is None:
            parts.append(decode_chunk(blob, count))
        else:
            parts.append(decode_chunk(blob, ov_count))
            stands_for += count
            from_overviews += ov_count
    return Points.concat(parts), stands_for, from_overviews


_MINMAX_LTTB: dict = {}


def _minmax_lttb(x: np.ndarray | None, y: np.ndarray, n_out: int) -> np.ndarray:
    """MinMaxLTTB indices of finite ``y`` (float64, contiguous) over ``x`` (int64, strictly increasing, or None for
    positions). The library's public call checks dtypes with regular expressions on every call — a third of the
    time of an overlay of 1,000 short series — so the compiled function it resolves for int64/float64 is looked up
    once and called directly; the public call stays the fallback."""
    key = x is None
    fn = _MINMAX_LTTB.get(key)
    if fn is None:
        from tsdownsample import MinMaxLTTBDownsampler

        ds = MinMaxLTTBDownsampler()
        try:
            if x is None:
                f = ds._switch_mod_with_y(np.dtype(np.float64), ds.mod_single_core)
                fn = lambda x_, y_, n: f(y_, n, ratio=4)  # noqa: E731
            else:
                f = ds._switch_mod_with_x_and_y(np.dtype(np.int64), np.dtype(np.float64), ds.mod_single_core)
                fn = lambda x_, y_, n: f(x_, y_, n, ratio=4)  # noqa: E731
        except Exception:  # another tsdownsample: its public call
            fn = lambda x_, y_, n: ds.downsample(*(() if x_ is None else (x_,)), y_, n_out=n)  # noqa: E731
        _MINMAX_LTTB[key] = fn
    return fn(None if x is None else np.ascontiguousarray(x, dtype=np.int64), np.ascontiguousarray(y, dtype=np.float64),
              n_out)


def _with_indices(idx: np.ndarray, extra: list[int]) -> np.ndarray:
    """``idx`` (sorted, no repeats) with the few positions ``extra`` added where missing, still sorted: a search
    per position instead of ``np.union1d``'s sort of everything (a chart of 1,000 runs downsamples 1,000 series)."""
    for e in extra:
        pos = int(np.searchsorted(idx, e))
        if pos == idx.size or int(idx[pos]) != e:
            idx = np.insert(idx, pos, e)
    return idx


def downsample(p: Points, max_points: int | None) -> tuple[Points, bool]:
    """Keep at most ``max_points`` points, preserving each bucket's extremes (MinMaxLTTB from tsdownsample).

    ``p`` must be sorted by step. Non-finite values are never dropped by the selection's arithmetic: selection runs
    on finite values and the points holding NaN/±inf inside the kept range are added back (they are rare)."""
    n = len(p)
    if max_points is None or n <= max_points:
        return p, False
    if max_points < 3:
        raise ValueError("max_points must be at least 3")
    x = p.steps
    y = p.values
    if len(x) > 1 and not bool(np.all(x[1:] > x[:-1])):
        # duplicate steps: tsdownsample needs a strictly increasing x, so select on positions instead
        x = None
    finite = np.isfinite(y)
    n_out = max(3, max_points - 2)  # room for the global extremes, added below
    if bool(finite.all()):
        idx = _minmax_lttb(x, y, n_out)
        extremes = [int(np.argmin(y)), int(np.argmax(y))]
    else:
        yy = np.where(finite, y, np.nan)
        from tsdownsample import NaNMinMaxLTTBDownsampler

        idx = NaNMinMaxLTTBDownsampler().downsample(*(() if x is None else (x,)), yy, n_out=n_out)
        extremes = [int(np.nanargmin(yy)), int(np.nanargmax(yy))] if bool(finite.any()) else []
        special = np.flatnonzero(~finite)
        if special.size <= max_points // 10:
            idx = np.union1d(idx, special)
    # LTTB picks per bucket; make sure the series' own minimum and maximum are always drawn
    if max_points < 5:  # too few points for first, last, min and max: LTTB's own choice stands
        extremes = []
    idx = _with_indices(np.asarray(idx, dtype=np.int64), extremes)
    if idx.size > max_points:  # only with many non-finite points: keep the ends and extremes, thin the rest
        keep = set(extremes) | {0, n - 1}
        rest = np.array([i for i in idx if i not in keep], dtype=np.int64)
        rest = rest[np.linspace(0, rest.size - 1, max_points - len(keep)).astype(np.int64)]
        idx = np.union1d(rest, np.asarray(sorted(keep), dtype=np.int64))
    idx = np.asarray(idx, dtype=np.int64)
    return Points(p.steps[idx], p.timestamps[idx], p.values[idx]), True
