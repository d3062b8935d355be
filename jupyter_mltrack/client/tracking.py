"""The process's tracking client: which store this process logs to (a backend) and its one writer.

Everything in the kernel that reads or writes the store asks :func:`get_client` for it — the run API, the widgets,
the magics — so a ``set_tracking_uri`` switches all of them at once.
"""

from __future__ import annotations

import os
import threading

from .backend import Backend, open_backend
from .writer import Writer, register


class TrackingClient:
    """A backend (the local store or a server) and the writer that feeds it."""

    def __init__(self, uri: str | None):
        self.backend: Backend = open_backend(uri)
        self.uri: str = self.backend.uri
        self.writer: Writer = register(Writer(self.backend))


_client: TrackingClient | None = None
_lock = threading.Lock()


def get_client() -> TrackingClient:
    """The process's client, opened on first use (``MLTRACK_URI`` or the default store)."""
    c = _client
    if c is None:
        with _lock:
            if _client is None:
                _set(TrackingClient(None))
            c = _client
    return c


def current_client() -> TrackingClient | None:
    """The client if one was opened, else None (never opens one)."""
    return _client


def _set(client: TrackingClient | None) -> None:
    global _client
    _client = client


def set_tracking_uri(uri: str | os.PathLike | None) -> None:
    """Use another store from now on: a path, a SQLAlchemy URL or ``http(s)://server/`` (see docs). ``None`` goes
    back to ``MLTRACK_URI`` / the default. Open runs are flushed first."""
    with _lock:
        if _client is not None:
            _client.writer.close()
        _set(TrackingClient(os.fspath(uri) if uri is not None else None))


def get_tracking_uri() -> str:
    return get_client().uri


def flush(timeout: float | None = 60.0) -> None:
    """Wait until everything logged so far is stored (raises if the writer could not store something)."""
    if _client is not None:
        _client.writer.flush(timeout=timeout)


def reset() -> None:
    """Flush and close the client's writer and forget the client (the next use opens ``MLTRACK_URI`` again)."""
    with _lock:
        if _client is not None:
            _client.writer.close()
        _set(None)
