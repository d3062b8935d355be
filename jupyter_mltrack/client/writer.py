"""Buffer + background flush: logging calls never wait for the store.

Calls append to a bounded in-memory buffer (metric points go into per-series blocks, ``series_buffer.py``;
everything else into an ordered list of items). One background thread per process flushes at least every
``interval`` seconds, when the buffer passes ``flush_points``, when asked (``flush()``), at run end and at
interpreter exit. Each flush is one batch written in one transaction by a *sink*: the local store (embedded mode)
or the server's batch endpoint (remote mode).

Each batch carries an id unique to the writer (``<session>-<n>``); the store applies a batch id once, so a batch
resent after a timeout whose first copy was in fact committed (a busy store, a restarted server) is not doubled.

Failures: transient ones (database busy, network, HTTP 5xx) keep the data and retry with back-off; the buffer's
cap then applies back-pressure (the logging call waits) instead of growing without bound. A batch the sink refuses
for good (a param conflict, an unknown run) is reported on stderr and on the next API call, the refused items are
saved to ``~/.mltrack/rejected/`` as JSON, and the rest of the batch is written. Nothing is dropped silently.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import sys
import threading
import time
import traceback
import weakref
from typing import TYPE_CHECKING, Any, Callable

from ..core.sections import RUN_SECTIONS, SECTIONS
from ..core.errors import Conflict, Forbidden, InvalidInput, MLTrackError, NotFound
from .series_buffer import SeriesBuffer, step_overflow

if TYPE_CHECKING:  # concurrent.futures costs ~5 ms of import: taken when write_now is first called
    from concurrent.futures import Future

#: Runs that are open keep a heartbeat so that a dead kernel's runs read as "crashed" (``core/run_shape.py``'s
#: STALE_AFTER: a run whose heartbeat is older reads as crashed; 45 s, so a crash shows within a minute).
HEARTBEAT_EVERY = 10.0

#: the package's folder: a warning for the user is raised at the first frame outside it
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


_start_lock = threading.Lock()


class WriterError(MLTrackError):
    """The background writer could not store something; the message says what and where it was saved."""

    code = "writer"


class Writer:
    def __init__(self, sink, interval: float = 1.0, max_points: int = 2_000_000, flush_points: int = 500_000):
        self.sink = sink
        self.interval = interval
        self.max_points = max_points
        self.flush_points = flush_points
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._done = threading.Condition(self._lock)
        self._items: dict[str, list] = {k: [] for k in SECTIONS if k not in ("metrics", "heartbeat")}
        self._calls: list[tuple[dict, Future]] = []  # batches written at once, after the buffer (write_now)
        self._deferred: list[Callable[[], dict]] = []
        self._nitems = 0
        self._bufs: dict[tuple[str, str, str], SeriesBuffer] = {}
        self._dirty: list[SeriesBuffer] = []
        self._pending_points = 0
        self._generation = 0  # bumped on every enqueue
        self._flushed_generation = 0
        self._flush_requested = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.open_runs: set[str] = set()
        self._last_heartbeat = 0.0
        self.errors: list[str] = []  # reported errors, newest last
        self.unreported: list[str] = []  # errors not yet warned about in a cell (flush() raises them)
        self.passing: list[str] = []  # passing problems: warned about, never raised
        self._watchers: weakref.WeakSet = weakref.WeakSet()  # told when there is something to warn about (watch)
        self._watch_lock = threading.Lock()  # a run may start on one thread while another tells the watchers
        self._last_failure: BaseException | None = None
        self.stats = {"batches": 0, "points": 0, "retries": 0, "duplicates": 0, "busy_seconds": 0.0}
        self.passes = 0  # flushes begun: deferred jobs of one pass run together (they may share what they gather)
        # every batch gets an id, unique to this writer: sent again after a timeout, the store applies it once
        self._session = os.urandom(10).hex()
        self._batch_ids = itertools.count(1)

    # -- producer side (any thread) -------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        """Start the one writer thread of this process (several producer threads may ask at once)."""
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with _start_lock:
            if self._pid != os.getpid():  # forked: start fresh, the parent's buffer is the parent's
                self.__init__(self.sink, self.interval, self.max_points, self.flush_points)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mltrack-writer", daemon=True)
                self._thread.start()

    def add(self, section: str, item: dict) -> None:
        with self._lock:
            self._items[section].append(item)
            self._nitems += 1
            self._generation += 1
        if self._thread is None:
            self._ensure_thread()

    def defer(self, fn: Callable[[], dict]) -> None:
        """Run ``fn`` on the writer thread before the next flush; it returns batch sections to add."""
        with self._lock:
            self._deferred.append(fn)
            self._generation += 1
        if self._thread is None:
            self._ensure_thread()

    def write_now(self, batch: dict, timeout: float | None = 60.0) -> dict:
        """Write ``batch`` on the writer thread right after everything buffered before it, and return what the sink
        answered (raising what it raised). For the few writes whose caller needs the result — registering a
        model, creating a project — so that they too go through the one writer, in order."""
        from concurrent.futures import Future

        fut: Future = Future()
        with self._lock:
            self._calls.append((batch, fut))
            self._generation += 1
            self._flush_requested = True
            self._wake.notify_all()
        self._ensure_thread()
        return fut.result(timeout)

    def series(self, run_id: str, name: str, context: str, next_step: int = 0) -> SeriesBuffer:
        """The buffer of a series; a new one is written lock-free by the calling thread."""
        key = (run_id, name, context)
        with self._lock:
            buf = self._bufs.get(key)
            if buf is None:
                buf = self._bufs[key] = SeriesBuffer(key, next_step, threading.get_ident())
        return buf

    def retire(self, bufs) -> None:
        """The calling thread's run has ended: the buffers it wrote lock-free take the lock from now on, so the
        writer may drop their blocks once it has taken them (``SeriesBuffer.release``)."""
        me = threading.get_ident()
        with self._lock:
            for buf in bufs:
                if buf.owner == me:
                    buf.owner = 0

    def _lane(self, buf: SeriesBuffer) -> SeriesBuffer:
        """The buffer the calling thread writes to (under the lock): the series' own, or its lane of a series
        another thread made."""
        me = threading.get_ident()
        if me == buf.first:
            return buf
        lane = buf.lanes.get(me)
        if lane is None:
            lane = buf.lanes[me] = SeriesBuffer(buf.key, 0, me)
            lane.owner = 0
        return lane

    def _mark(self, buf: SeriesBuffer, n: int) -> int:
        """``n`` more points in ``buf`` (under the lock): queue it for the next flush; the pending count."""
        if not buf.dirty:
            buf.dirty = True
            self._dirty.append(buf)
        self._pending_points += n
        self._generation += 1
        return self._pending_points

    def add_point(self, buf: SeriesBuffer, step: int | None, value: float, t: float) -> None:
        """Write one point, under the lock (any thread). ``step`` None: the series' next step."""
        with self._lock:
            lane = self._lane(buf)
            if step is None:
                if buf.last_step >= 2**63 - 1:
                    raise step_overflow(buf)
                step = buf.last_step = buf.last_step + 1
            elif step > buf.last_step:
                buf.last_step = step
            lane.append(step, value, t)  # (``counted`` is the owner's, for ``note``: no owner writes here)
            n = self._mark(lane, 1)
        if n >= self.flush_points:
            self._backpressure()

    def note(self, buf: SeriesBuffer) -> None:
        """Bookkeeping for points the owner wrote without the lock (``Run.log_metric``), called when ``buf.n``
        reaches ``buf.check_at``: start a new block when this one is full, queue the buffer, count its points,
        nudge or hold back the producer as ``add_point`` does, and say when to look again."""
        with self._lock:
            if buf.n >= buf.cap:
                buf.grow()
            have = buf.pending()
            n = self._mark(buf, have - buf.counted)
            buf.counted = have
            # the next look: at the end of the block, at the flush threshold (the writer is woken there), then at
            # the cap (the producer waits)
            room = self.flush_points - n if n < self.flush_points else self.max_points - n
            buf.check_at = buf.n + max(1, min(buf.cap - buf.n, room))
        if n >= self.flush_points:
            self._backpressure()

    def add_points(self, buf: SeriesBuffer, steps, values, times) -> None:
        """Bulk write (numpy arrays or sequences of equal length)."""
        import numpy as np

        steps = np.ascontiguousarray(steps, dtype=np.int64)
        values = np.ascontiguousarray(values, dtype=np.float64)
        times = np.ascontiguousarray(times, dtype=np.float64)
        with self._lock:
            lane = self._lane(buf)
            lane.extend(steps, values, times)
            if len(steps):
                buf.last_step = max(buf.last_step, int(steps.max()))
            lane.counted += len(values)
            n = self._mark(lane, len(values))
        if n >= self.flush_points:
            self._backpressure()

    def _backpressure(self) -> None:
        self._ensure_thread()
        with self._lock:
            self._flush_requested = True
            self._wake.notify()
            # past the cap, wait for the writer to drain (bounded memory); below it, just nudge it
            while self._pending_points >= self.max_points and not self._closing:
                self._done.wait(1.0)

    def flush(self, timeout: float | None = 60.0, raise_errors: bool = True) -> None:
        """Wait until everything enqueued so far is stored. Raises :class:`WriterError` if it could not be."""
        self._ensure_thread()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._generation += 1  # points appended without the lock did not bump it: they are taken by any pass after
            target = self._generation
            self._flush_requested = True
            self._wake.notify()
            while self._flushed_generation < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._done.wait(min(left, 0.5) if left is not None else 0.5)
            ok = self._flushed_generation >= target
        if raise_errors:
            self.raise_errors()
            if not ok:
                raise WriterError(
                    "jupyter_mltrack: the writer has not stored everything yet"
                    + (f" ({self._last_failure})" if self._last_failure else "")
                    + "; it keeps retrying in the background"
                )

    def watch(self, obj: Any) -> None:
        """Call ``obj.writer_alert(on)`` whenever the writer gets problems to warn about (``on``) or has warned
        about them all: a live run's ``log_metric`` then checks one flag of its own instead of the writer's lists."""
        with self._watch_lock:
            self._watchers.add(obj)
        obj.writer_alert(bool(self.unreported or self.passing))

    def _alerted(self) -> None:
        """Tell the watchers whether there is something to warn about, after either list changed (any thread: a
        report that comes in while the watchers are told it is all warned about is told again)."""
        on = bool(self.unreported or self.passing)
        with self._watch_lock:
            watchers = list(self._watchers)
        for obj in watchers:
            obj.writer_alert(on)
        if not on and (self.unreported or self.passing):
            for obj in watchers:
                obj.writer_alert(True)

    def raise_errors(self) -> None:
        if self.unreported:
            msgs, self.unreported = self.unreported, []
            self._alerted()
            raise WriterError("\n".join(msgs))

    def warn_errors(self) -> None:
        """Called by API functions: surface writer problems in the user's cell, once each, as warnings raised at
        the user's line (the first frame outside this package, however deep the API call that noticed them)."""
        if self.unreported or self.passing:
            import warnings

            msgs, self.unreported = self.unreported, []
            passing, self.passing = self.passing, []
            self._alerted()
            level, frame = 1, sys._getframe(0)
            while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
                level, frame = level + 1, frame.f_back
            for m in passing + msgs:
                warnings.warn(m, RuntimeWarning, stacklevel=level)

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is None or not self._thread.is_alive():
            if self._has_data():
                self._ensure_thread()
            else:
                return
        try:
            self.flush(timeout=timeout, raise_errors=False)
        finally:
            with self._lock:
                self._closing = True
                self._wake.notify()
            self._thread.join(timeout=5)
        if self.unreported:
            for m in self.unreported:
                print(m, file=sys.stderr)
            self.unreported = []
            self._alerted()

    # -- writer thread --------------------------------------------------------------------------------------------

    def _has_data(self) -> bool:
        return bool(self._nitems or self._dirty or self._deferred or self._calls)

    def _take(self) -> tuple[dict, int | None, list, list]:
        """What the next pass writes: the items, the deferred jobs and at most ``flush_points`` points (a faster
        producer makes more passes, not bigger batches: the memory of a write stays bounded). The generation it
        completes, or None when points logged before it are left for the next pass — then the calls that followed
        them wait too, and the next pass starts at once."""
        if self._dirty:  # the takes copy points with numpy: its first import is not made under the lock
            import numpy  # noqa: F401
        with self._lock:
            gen = self._generation
            items, self._items = self._items, {k: [] for k in self._items}
            self._nitems = 0
            deferred, self._deferred = self._deferred, []
            metrics = []
            npts = 0
            budget = self.flush_points
            still: list[SeriesBuffer] = []
            for buf in self._dirty:
                if budget <= 0:
                    still.append(buf)  # still queued, not taken
                    continue
                # not dirty, and noted at its next point: an owner writing without the lock from now on queues the
                # buffer again. Then the points written so far (a point being written is not yet counted in ``n``:
                # it stays for the next pass).
                buf.dirty = False
                buf.check_at = 0
                steps, times, values = buf.take(budget)
                n = len(values)
                if n:
                    metrics.append({
                        "run_id": buf.key[0], "name": buf.key[1], "context": buf.key[2],
                        "steps": steps, "timestamps": times, "values": values,
                    })
                    npts += n
                    budget -= n
                buf.counted = 0
                if buf.pending():  # left over, or written while it was taken
                    buf.dirty = True
                    still.append(buf)
                else:
                    buf.release()
            self._dirty = still
            partial = budget <= 0 and bool(still)
            # what is left counts towards the cap (the producer waits past it)
            left = 0
            for buf in still:
                buf.counted = buf.pending()
                left += buf.counted
            self._pending_points = left
            if partial:
                calls = []
                self._flush_requested = True
            else:
                calls, self._calls = self._calls, []
            self._done.notify_all()
        batch = dict(items)
        batch["metrics"] = metrics
        batch["_points"] = npts
        return batch, None if partial else gen, deferred, calls

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._closing and not self._flush_requested:
                    self._wake.wait(self.interval)
                closing = self._closing
                self._flush_requested = False
            try:
                self._flush_once()
            except BaseException as e:  # never let the thread die silently
                self.report(f"jupyter_mltrack: writer error: {e!r}\n{traceback.format_exc(limit=5)}")
            if closing:
                return

    def _flush_once(self) -> None:
        now = time.time()
        heartbeat = []
        if self.open_runs and now - self._last_heartbeat >= HEARTBEAT_EVERY:
            heartbeat = sorted(self.open_runs)
        with self._lock:
            empty = not self._has_data()
            gen = self._generation
        if empty and not heartbeat:
            with self._lock:
                self._flushed_generation = max(self._flushed_generation, gen)
                self._done.notify_all()
            return
        t0 = time.perf_counter()
        self.passes += 1
        batch, gen, deferred, calls = self._take()
        for fn in deferred:
            try:
                extra = fn() or {}
                for k, v in extra.items():
                    batch.setdefault(k, []).extend(v)
            except Exception as e:
                self.report(f"jupyter_mltrack: could not capture {getattr(fn, '__name__', 'data')}: {e!r}")
        batch["heartbeat"] = heartbeat
        npts = batch.pop("_points")
        if any(batch.values()):
            batch["id"] = self._new_batch_id()
            self._write_with_retry(batch)
        for call, fut in calls:  # after the buffer they followed
            try:
                fut.set_result(self.sink.write({"id": self._new_batch_id(), **call}))
            except BaseException as e:  # raised in the caller
                fut.set_exception(e)
        with self._lock:  # only now: a split batch is flushed when every part of it is
            if gen is not None:
                self._flushed_generation = max(self._flushed_generation, gen)
            self._done.notify_all()
        if heartbeat:
            self._last_heartbeat = now
        self.stats["busy_seconds"] += time.perf_counter() - t0
        self.stats["batches"] += 1
        self.stats["points"] += npts

    def _new_batch_id(self) -> str:
        return f"{self._session}-{next(self._batch_ids)}"

    def _write_with_retry(self, batch: dict) -> None:
        delay = 0.2
        while True:
            try:
                done = self.sink.write(batch)
                self._last_failure = None
                if isinstance(done, dict) and done.get("duplicate"):  # a resent batch the store had applied
                    self.stats["duplicates"] += 1
                break
            except Conflict as e:
                bad = {(c["run_id"], c["key"]) for c in getattr(e, "items", [])}
                refused = [p for p in batch["params"] if (p["run_id"], p["key"]) in bad]
                batch["params"] = [p for p in batch["params"] if (p["run_id"], p["key"]) not in bad]
                self._reject(refused, str(e))
                if not refused:  # cannot tell which: keep the rest, give up on params
                    self._reject(batch["params"], str(e))
                    batch["params"] = []
            except (InvalidInput, NotFound, Forbidden) as e:  # refused for good (Forbidden: the role is missing)
                parts = _split_by_run(batch)
                if len(parts) <= 1:
                    self._reject(_jsonable_batch(batch), str(e))
                    break
                for i, part in enumerate(parts):  # write what can be written; refuse only the items refused
                    part["id"] = f"{batch['id']}.{i}" if batch.get("id") else self._new_batch_id()
                    self._write_with_retry(part)
                break
            except Exception as e:  # transient: keep the data, retry
                self._last_failure = e
                self.stats["retries"] += 1
                if self.stats["retries"] in (1, 10, 100) or self.stats["retries"] % 1000 == 0:
                    # said, but not raised by flush(): if a retry succeeds nothing was lost
                    self.report(f"jupyter_mltrack: cannot write to the store yet ({e}); retrying, nothing is lost",
                                 raise_later=False)
                with self._lock:
                    self._wake.wait(delay)
                    closing = self._closing
                if closing and delay >= 4:
                    self._reject(_jsonable_batch(batch), f"gave up at exit: {e}")
                    break
                delay = min(delay * 2, 5.0)

    def _reject(self, items, reason: str) -> None:
        if not items:
            return
        path = None
        try:
            from ..core.store import default_home

            d = default_home() / "rejected"
            d.mkdir(parents=True, exist_ok=True)
            path = d / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{int(time.time() * 1e6) % 1_000_000}.json"
            path.write_text(json.dumps(items, default=_json_default, indent=1))
        except Exception:
            path = None
        self.report(
            f"jupyter_mltrack: the store refused data: {reason}"
            + (f" — the refused items were saved to {path}" if path else "")
        )

    def report(self, msg: str, raise_later: bool = True) -> None:
        """Say it on stderr now; warn in the user's next API call; and, unless it was only a passing problem,
        make the next flush() raise it."""
        self.errors.append(msg)
        if raise_later:
            self.unreported.append(msg)
        else:
            self.passing.append(msg)
        self._alerted()
        try:
            print(msg, file=sys.stderr, flush=True)
        except Exception:
            pass


def _json_default(o: Any):
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _jsonable_batch(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if v and k != "id"}


def _split_by_run(batch: dict) -> list[dict]:
    """The batch as one sub-batch per run (parents before children), to isolate a refused item."""
    sections = ("runs",) + RUN_SECTIONS
    by_run: dict[str | None, dict] = {}
    order: list[str | None] = []

    def part(rid: str | None) -> dict:
        if rid not in by_run:
            by_run[rid] = {k: [] for k in sections}
            by_run[rid]["heartbeat"] = []
            order.append(rid)
        return by_run[rid]

    def run_of(item: Any, key: str) -> Any:  # an item without a run id goes with the others that have none
        rid = item.get(key) if isinstance(item, dict) else None
        return rid if isinstance(rid, str) else None

    singles: dict[str | None, list[dict]] = {}
    for r in batch.get("runs", []):
        part(run_of(r, "id"))["runs"].append(r)
    for k in sections[1:]:
        for item in batch.get(k, []):
            rid = run_of(item, "run_id")
            if k in ("artifacts", "figures", "inputs"):  # each on its own: a bad one must not take its run down
                part(rid)
                singles.setdefault(rid, []).append({k: [item]})
            else:
                part(rid)[k].append(item)
    for rid in batch.get("heartbeat", []):
        part(rid)["heartbeat"].append(rid)
    out = []
    for rid in order:
        core = by_run[rid]
        if any(core[k] for k in core):
            out.append(core)
        out.extend(singles.get(rid, []))
    return out


# -- process-wide writer -------------------------------------------------------------------------------------------

_writers: list[Writer] = []


def register(writer: Writer) -> Writer:
    _writers.append(writer)
    return writer


def _after_fork_in_child() -> None:
    """A forked child starts with empty buffers and no writer thread (the parent's belong to the parent); its
    own logging then starts its own writer."""
    global _start_lock
    _start_lock = threading.Lock()
    me = threading.get_ident()
    for w in _writers:
        bufs, watchers = w._bufs, w._watchers
        w.__init__(w.sink, w.interval, w.max_points, w.flush_points)
        for buf in bufs.values():  # the child's runs keep their series, empty and owned by the one thread left
            buf.clear(me)
        w._bufs, w._watchers = bufs, watchers
        w._alerted()  # the parent's problems are the parent's


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _close_all() -> None:
    for w in list(_writers):
        try:
            w.close()
        except Exception as e:  # pragma: no cover
            print(f"jupyter_mltrack: flushing at exit failed: {e!r}", file=sys.stderr)
