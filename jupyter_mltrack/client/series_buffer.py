"""The points of one series not yet handed to the writer's sink (client/writer.py), in fixed-size blocks.

A block holds ``cap`` points as three typed views of one ``bytearray``: steps (int64), times and values (float64).
A point is written by item assignment at index ``n`` (``steps[n] = step``: C-level, no resize) and counts once
``n`` is moved past it, after its step, time and value are in. The writer copies out the points between ``taken``
and the ``n`` it reads (``take``), so a point written while it copies is left for the next pass, never half taken.
A full block is sealed into ``full`` and a new one started (twice as large, up to ``MAX_BLOCK``): the writer reads
sealed blocks to their end and drops them, so the memory a series holds is what is not yet stored plus one block.

Only one thread writes to a buffer's blocks: the thread that made the series (``first``) lock-free, from
``Run.log_metric``; any other thread logging to it, to its own buffer in ``lanes`` under the writer's lock. So a
block is only ever started or sealed by the thread that writes to it (``note``, ``append``, ``extend``), or under the
lock for a buffer no thread writes to without it (``owner`` 0), which the writer may also shrink (``release``).
Steps are shared: every thread reads and sets ``last_step`` with no call in between (one step under the GIL), so
two points never get one step by default.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..core.errors import InvalidInput

if TYPE_CHECKING:  # numpy is imported by the writer thread's first take, not by ``import jupyter_mltrack``
    import numpy as np

#: Lock-free writes (``Run.log_metric``) rely on the GIL running a few bytecodes without a call in between as one
#: step; where it is disabled (free-threaded builds) every write takes the writer's lock.
LOCK_FREE = getattr(sys, "_is_gil_enabled", lambda: True)()

#: the first block of a series holds this many points; each next one twice as many, up to ``MAX_BLOCK``
FIRST_BLOCK = 16
#: the largest block (48 KiB): the lock-free path calls the writer's bookkeeping (``Writer.note``) at least this often
MAX_BLOCK = 2048

_EMPTY = memoryview(bytearray(0))


def _views(raw: memoryview, cap: int) -> tuple[memoryview, memoryview, memoryview]:
    return raw[: 8 * cap].cast("q"), raw[8 * cap: 16 * cap].cast("d"), raw[16 * cap:].cast("d")


class _Sealed:
    """A full block (or a bulk write) waiting for the writer: points ``taken`` to ``n`` of ``raw``."""

    __slots__ = ("raw", "cap", "taken", "n")

    def __init__(self, raw: memoryview, cap: int, taken: int, n: int):
        self.raw, self.cap, self.taken, self.n = raw, cap, taken, n


class SeriesBuffer:
    """One series' points not yet taken by the writer (see the module's docstring)."""

    __slots__ = ("key", "last_step", "first", "owner", "lanes", "dirty", "check_at", "counted",
                 "raw", "cap", "steps", "times", "values", "n", "taken", "full", "held")

    def __init__(self, key: tuple[str, str, str], next_step: int, thread: int):
        self.key = key
        self.last_step = next_step - 1  # the step a point logged without one follows
        self.lanes: dict[int, SeriesBuffer] = {}
        self.clear(thread)

    def clear(self, thread: int) -> None:
        """Empty, written by ``thread`` (a forked child's buffers: the parent's points belong to the parent)."""
        self.first = thread
        self.owner = thread if LOCK_FREE else 0
        self.lanes.clear()
        self.dirty = False
        self.check_at = 0  # the lock-free path calls Writer.note when ``n`` reaches it (never past ``cap``)
        self.counted = 0  # how many of the points are in the writer's pending count
        self.full: list[_Sealed] = []
        self.held = 0  # points in ``full`` not yet taken
        self._start(FIRST_BLOCK)

    def _start(self, cap: int) -> None:
        self.raw = memoryview(bytearray(24 * cap)) if cap else _EMPTY
        self.cap = cap
        self.steps, self.times, self.values = _views(self.raw, cap)
        self.n = self.taken = 0

    def _seal(self, cap: int) -> None:
        """Hand the block written so far to the writer and start one of ``cap`` points (the writing thread only)."""
        if self.n > self.taken:
            self.full.append(_Sealed(self.raw, self.cap, self.taken, self.n))
            self.held += self.n - self.taken
        self._start(cap)

    def grow(self) -> None:
        """The block is full: seal it, start a larger one (the writing thread, under the writer's lock)."""
        self._seal(min(MAX_BLOCK, max(FIRST_BLOCK, 2 * self.cap)))

    def pending(self) -> int:
        """Points written and not yet taken."""
        return self.held + self.n - self.taken

    def append(self, step: int, value: float, t: float) -> None:
        """Write one point (a thread writing under the writer's lock). ValueError for a step past 64 bits."""
        n = self.n
        if n >= self.cap:
            self.grow()
            n = 0
        self.steps[n] = step
        self.times[n] = t
        self.values[n] = value
        self.n = n + 1

    def extend(self, steps, values, times) -> None:
        """Write many points (int64 and float64 numpy arrays of one length; a thread writing under the lock):
        one sealed block of their own, after the points written before them."""
        k = len(values)
        if not k:
            return
        raw = memoryview(bytearray(24 * k))
        raw[: 8 * k] = memoryview(steps).cast("B")
        raw[8 * k: 16 * k] = memoryview(times).cast("B")
        raw[16 * k:] = memoryview(values).cast("B")
        if self.n:  # the points written before go first
            self._seal(self.cap)
        self.full.append(_Sealed(raw, k, 0, k))
        self.held += k
        self.check_at = 0  # the lock-free writer looks again at its next point

    def take(self, budget: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copy out at most ``budget`` points, oldest first (the writer, under the lock): steps (int64), times and
        values (float64), three rows of one array sized once (growing arrays would copy the points again and
        again)."""
        import numpy as np

        spans = []
        keep: list[_Sealed] = []
        for part in [*self.full, None]:  # None: the block being written
            if part is None:
                raw, cap, a, b = self.raw, self.cap, self.taken, self.n
            else:
                raw, cap, a, b = part.raw, part.cap, part.taken, part.n
            b = min(b, a + budget)
            if b > a:
                spans.append((raw, cap, a, b))
                budget -= b - a
            if part is None:
                self.taken = b
            else:
                self.held -= b - part.taken
                part.taken = b
                if b < part.n:
                    keep.append(part)
        self.full = keep
        out = np.empty((3, sum(b - a for _, _, a, b in spans)), np.int64)
        at = 0
        for raw, cap, a, b in spans:
            out[:, at: at + b - a] = np.frombuffer(raw, np.int64).reshape(3, cap)[:, a:b]
            at += b - a
        return out[0], out[1].view(np.float64), out[2].view(np.float64)

    def release(self) -> None:
        """Drop the block of a buffer every write to which takes the lock, once all of it is taken (the writer,
        under the lock): a finished or idle lane keeps no memory. The next write starts a small block."""
        if self.owner == 0 and not self.full and self.n == self.taken and self.cap:
            self._start(0)


def step_overflow(buf: SeriesBuffer) -> InvalidInput:
    """The error for a point logged without a step after the series reached the last 64-bit step."""
    return InvalidInput(f"metric {buf.key[1]!r}: the step after {buf.last_step} would pass the 64-bit range; "
                        "give steps explicitly")
