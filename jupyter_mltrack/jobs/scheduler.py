"""The job scheduler: fires cron ticks and hands queued executions to an executor — one leader per store.

Each :meth:`Scheduler.tick` (every :attr:`Scheduler.interval` seconds on its thread, or called by a test with a
controllable clock):

1. takes or renews (every :data:`RENEW_EVERY` seconds) the store's ``scheduler`` lease
   (``core/job_executions.acquire_lease``, a write that leaves the store's revision alone); a server without it does
   nothing else, so when several servers share a store one fires and runs jobs, and another takes over within the
   lease's time when it stops;
2. fires the jobs whose next cron time (in the job's time zone, after the last fired tick or the definition) has
   come: jobs due at the same time share one trigger. A tick is fired at most once per job (``fire_tick`` moves
   the job's ``last_tick`` only forward). A tick found more than :data:`MISSED_AFTER` seconds late was missed
   (the server was down): ``missed = "run_once"`` fires the latest missed tick once, ``"skip"`` passes it by;
3. ends ``killed`` the running executions whose runner stopped beating;
4. claims queued executions — within each job's ``max_concurrent`` and this scheduler's ``limit`` — and submits
   them to the executor.

Between ticks it only reads (due times are cached per job, queued and stale executions counted): the store is
written when there is something to do. A "run now" (``POST jobs/{name}/run``) wakes the scheduler so that the
job's run starts at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable

from ..core.jobs import latest_tick, next_tick
from .executors import Executor

LEASE = "scheduler"
LEASE_TTL = 15.0  # seconds: a stopped leader is replaced within this
MISSED_AFTER = 60.0  # seconds late: a tick is missed
MISSED_POLICIES = ("run_once", "skip")
RENEW_EVERY = LEASE_TTL / 3

log = logging.getLogger("jupyter_mltrack.jobs")


class Scheduler:
    def __init__(self, store, executor: Executor, *, limit: int = 4, missed: str = "run_once",
                 clock: Callable[[], float] = time.time, interval: float = 0.5, holder: str | None = None):
        if missed not in MISSED_POLICIES:
            raise ValueError(f"jobs_missed must be one of {', '.join(MISSED_POLICIES)}, not {missed!r}")
        self.store = store
        self.executor = executor
        self.limit = limit
        self.missed = missed
        self.clock = clock
        self.interval = interval
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leader = False
        self.running: list = []  # futures of the executions this scheduler submitted
        self._next: dict[int, tuple[tuple, float]] = {}  # job id → (its schedule's key, its next tick)
        self._jobs: list[tuple] = []
        self._revision: str | None = None
        self._earliest = float("inf")
        self._renew_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one step ----------------------------------------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock()
        if not self.leader or time.monotonic() >= self._renew_at:
            self.leader = self.store.acquire_lease(LEASE, self.holder, LEASE_TTL)
            self._renew_at = time.monotonic() + RENEW_EVERY
        if not self.leader:
            return
        self.fire_due(now)
        queued, stale = self.store.pending_work()  # a read: the store is written only when there is work
        if stale:
            self.store.reap_executions()
            log.warning("jupyter_mltrack: executions whose runner stopped ended killed")
        if queued:
            self.dispatch()

    def fire_due(self, now: float) -> dict[float, list[int]]:
        """Fire (or, missed under "skip", pass by) every job whose next tick has come; tick → job ids fired. The
        jobs are read again only when the store changed (its revision), and each job's next tick is cached."""
        rev = self.store.revision()
        if rev != self._revision:
            self._jobs = self.store.scheduled_jobs()
            self._revision = rev
            nxt: dict[int, tuple[tuple, float]] = {}
            memo: dict[tuple, float] = {}  # jobs fired together share their next tick
            for jid, _name, schedule, tz, last_tick, updated_at in self._jobs:
                key = (schedule, tz, last_tick if last_tick is not None else updated_at)
                cached = self._next.get(jid)
                if cached is None or cached[0] != key:
                    if key not in memo:
                        memo[key] = next_tick(schedule, tz, key[2])
                    cached = (key, memo[key])
                nxt[jid] = cached
            self._next = nxt
            self._earliest = min((v[1] for v in nxt.values()), default=float("inf"))
        if now < self._earliest:
            return {}
        due: dict[float, list[int]] = {}
        latest: dict[tuple[str, str], float] = {}  # jobs of one schedule share their latest tick
        for jid, name, schedule, tz, _last, _upd in self._jobs:
            key, first = self._next[jid]
            if now < first:
                continue
            tick = latest.get((schedule, tz))
            if tick is None:
                tick = latest[(schedule, tz)] = latest_tick(schedule, tz, now)
            if now - tick > MISSED_AFTER or tick > first:  # late, or more than one tick passed: missed
                if self.missed == "skip":
                    log.info("jupyter_mltrack: job %s missed its run of %s: skipped", name, _iso(tick))
                    self.store.skip_tick(jid, tick)
                    continue
                log.info("jupyter_mltrack: job %s missed its run of %s: running it once", name, _iso(tick))
            due.setdefault(tick, []).append(jid)
        for tick, ids in sorted(due.items()):
            self.store.fire_tick(ids, tick)
        return due

    def dispatch(self) -> int:
        """Submit queued executions while this scheduler runs fewer than ``limit``."""
        self.running = [f for f in self.running if not f.done()]
        n = 0
        while len(self.running) < self.limit:
            claimed = self.store.claim_execution(self.holder, self.limit)
            if claimed is None:
                break
            self.running.append(self.executor.submit(claimed))
            n += 1
        return n

    # -- the thread --------------------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> "Scheduler":
        self._thread = threading.Thread(target=self._loop, name="mltrack-jobs-scheduler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a store that is busy or away for a moment: try again at the next tick
                log.exception("jupyter_mltrack: the job scheduler's tick failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def stop(self) -> None:
        """Stop firing; running jobs are terminated (they end ``killed``); the lease is released."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        self.executor.close()
        if self.leader:
            try:
                self.store.release_lease(LEASE, self.holder)
            except Exception:
                pass


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
