"""Where executions run: threads of this process, each watching a local subprocess (the default), or a Dask
cluster's workers (``c.MLTrackApp.jobs_executor = "dask"`` with ``jobs_dask_address``), each opening the same store
(the shared database and artifact location) and running the subprocess there. A task carries the store's URL
without its password: workers connect with their own credentials (``jobs/credentials.py``)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from .credentials import split_password
from .runner import execute, execute_remote


class Executor(Protocol):
    """Runs claimed executions (``core/job_executions.claim``'s answer) to their end."""

    def submit(self, claimed: dict) -> Any: ...  # a future with done()

    def close(self) -> None: ...


class LocalExecutor:
    """Each execution on a thread of this process, its job in a subprocess."""

    def __init__(self, store, max_workers: int = 4):
        self.store = store
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers, thread_name_prefix="mltrack-job")

    def submit(self, claimed: dict) -> Future:
        return self.pool.submit(execute, self.store, claimed, self.stop)

    def close(self) -> None:
        """Stop: running jobs are terminated and end ``killed``."""
        self.stop.set()
        self.pool.shutdown(wait=True)


class DaskExecutor:
    """Each execution a task on a Dask cluster (``distributed``, imported only here)."""

    def __init__(self, store, address: str):
        from distributed import Client

        self.store = store
        self.client = Client(address, set_as_default=False)
        self.artifacts = store.blobs.location or None
        self.url = split_password(store.location.url)[0]

    def submit(self, claimed: dict):
        return self.client.submit(execute_remote, self.url, self.artifacts, claimed, pure=False,
                                  key=f"mltrack-job-{claimed['execution']['id']}")

    def close(self) -> None:
        self.client.close()


def make_executor(kind: str, store, max_workers: int, dask_address: str = "") -> Executor:
    if kind == "local":
        return LocalExecutor(store, max_workers)
    if kind == "dask":
        if not dask_address:
            raise ValueError("jobs_executor 'dask' needs c.MLTrackApp.jobs_dask_address (tcp://host:8786)")
        return DaskExecutor(store, dask_address)
    raise ValueError(f"jobs_executor must be 'local' or 'dask', not {kind!r}")
