"""An A/B test is a tracked run of its own: :class:`AbRun` creates it (or resumes it) when the service starts, writes
each model's counts as metric series every ``record_interval`` seconds, and ends it (finished) when the service
stops — through the process's tracking client, exactly as a kernel logs (the store directly in embedded mode, REST
batches in remote mode), so the run table, the charts and the comparison show the test live.

The run: name = the test's name, tags ``kind=ab_test`` and ``deployment=<name>``, params ``models`` (ref → weight),
``strategy`` and ``options``. Its series, one per model and metric, have the context ``{"model": "house@champion"}``:
``requests``, ``errors``, ``reward_count`` (counts since the process started), ``latency_p50_ms``,
``latency_p99_ms`` and ``reward_mean`` (over the same requests); the step is the number of seconds since the run
started. Every worker of a service records into the same run; with several workers (:data:`WORKERS_ENV` > 1) each
adds ``"worker": "<n>"`` to the context, so the counts stay additive: a model's requests are the sum over its
workers' series, its mean reward the reward-count-weighted mean, and its latency quantiles are per worker.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from ..client.run import Run
from ..client.tracking import TrackingClient, current_client, get_client
from .ab_stats import ModelStatsDict

#: Metrics written per model, in this order.
RECORDED = ("requests", "errors", "latency_p50_ms", "latency_p99_ms", "reward_mean", "reward_count")
DEFAULT_RECORD_INTERVAL = 5.0
#: How many uvicorn workers the service runs (set by whoever starts it); above 1 each worker's series get a
#: ``worker`` context, its value :data:`WORKER_ENV` (else the process id).
WORKERS_ENV = "MLTRACK_SERVICE_WORKERS"
WORKER_ENV = "MLTRACK_SERVICE_WORKER"


def tracking_client(uri: str | None) -> TrackingClient:
    """The process's tracking client when it logs where ``uri`` says (or ``uri`` is None), else a client of its own."""
    c = current_client()
    if uri is None:
        return c or get_client()
    if c is not None and (c.uri == uri or c.backend.uri == uri):
        return c
    return TrackingClient(uri)


def worker_label() -> str | None:
    try:
        several = int(os.environ.get(WORKERS_ENV, "1") or 1) > 1
    except ValueError:
        several = False
    return (os.environ.get(WORKER_ENV) or str(os.getpid())) if several else None


class AbRun:
    """The tracked run of one A/B test in this process."""

    def __init__(self, run_id: str, name: str, project: str, params: dict[str, Any], client: TrackingClient,
                 snapshot: Callable[[], list[ModelStatsDict]], interval: float = DEFAULT_RECORD_INTERVAL,
                 deployment: str | None = None):
        self.id = run_id
        self.client = client
        self.snapshot = snapshot
        self.interval = max(1.0, float(interval))
        self.worker = worker_label()
        self.contexts: dict[str, dict[str, str]] = {}
        self.last_step = -1
        self.started = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        w = client.writer
        # the same item from every worker and every restart: the first creates the run, the others change nothing
        w.add("runs", {"id": run_id, "name": name, "project": project, "experiments": [], "campaigns": [],
                       "parent_id": None, "user": "", "source": f"ab_test:{deployment or name}", "description": "",
                       "start_time": self.started, "status": "running"})
        w.add("updates", {"run_id": run_id, "status": "running", "end_time": None, "error": None})  # resumed
        for k, v in params.items():
            w.add("params", {"run_id": run_id, "key": k, "value": v})
        for k, v in (("kind", "ab_test"), ("deployment", deployment or name)):
            w.add("tags", {"run_id": run_id, "key": k, "value": v})
        w.open_runs.add(run_id)  # heartbeats: a service that dies leaves the run "crashed", not "running"
        self.run = Run(run_id, name=name, project=project, client=client, active=True)

    def start(self) -> "AbRun":
        self._thread = threading.Thread(target=self._loop, name="mltrack-ab-record", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        try:  # steps count seconds since the run started: the stored start when the run is resumed
            self.client.writer.flush(timeout=30)
            self.started = float(self.client.backend.get_run(self.id)["start_time"] or self.started)
        except Exception as e:  # the store is away: record on with this process's start
            self.client.writer.report(f"jupyter_mltrack: A/B test run {self.id}: {e!r}", raise_later=False)
        while not self._stop.wait(self.interval):
            self.record()

    def context(self, ref: str) -> dict[str, str]:
        c = self.contexts.get(ref)
        if c is None:
            c = self.contexts[ref] = {"model": ref} if self.worker is None else {"model": ref, "worker": self.worker}
        return c

    def record(self) -> None:
        """Append one point per model and metric (a metric without a value yet — no latency, no reward — is left
        out)."""
        step = max(int(time.time() - self.started), self.last_step + 1)
        self.last_step = step
        for s in self.snapshot():
            ctx = self.context(s["model"])
            for name in RECORDED:
                v = s[name]  # type: ignore[literal-required]
                if v is not None:
                    self.run.log_metric(name, float(v), step=step, context=ctx)

    def close(self, status: str = "finished") -> None:
        """Record the last counts and end the run (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        if self.run.is_active:
            self.record()
            self.run.end(status)
            self.client.writer.flush(timeout=30, raise_errors=False)
