"""What the server tells the processes it starts — kernels, terminals, jobs — so that they write through it.

A kernel started by this server inherits the server's environment. When the extension serves a store, it adds
``MLTRACK_SERVER_URL`` (its loopback address), ``MLTRACK_SERVER_TOKEN`` (its token) and ``MLTRACK_SERVER_STORE``
(a fingerprint of the store, no secret in it: ``core/location.store_fingerprint``). A process that would open that
same store by default then talks to this server instead (``client/backend.starting_server``): the store's work —
SQLAlchemy, the SQLite or PostgreSQL writes, the run-table fragments — happens here, on the store's write thread,
not on the kernel's interpreter next to the user's code. ``c.MLTrackApp.kernels_write_through = False`` (or
``MLTRACK_WRITE_THROUGH_SERVER=0`` in a kernel) keeps the store in-process.

Nothing is told when the server cannot be reached over plain HTTP on the loopback interface with a token (a UNIX
socket, TLS, no token): the processes then open the store themselves, as without a server.
"""

from __future__ import annotations

import os
from typing import Callable

SERVER_ENV = ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN", "MLTRACK_SERVER_STORE")


def loopback_url(serverapp) -> str | None:
    """This server's address for processes on the same machine, or None when they cannot use it simply."""
    if getattr(serverapp, "sock", "") or getattr(serverapp, "certfile", "") or not getattr(serverapp, "port", 0):
        return None
    ip = serverapp.ip or "localhost"
    host = "127.0.0.1" if ip in ("localhost", "0.0.0.0", "127.0.0.1", "*") else (
        "[::1]" if ip in ("::", "::1", "[::1]") else ip)
    base = serverapp.base_url if serverapp.base_url.endswith("/") else serverapp.base_url + "/"
    return f"http://{host}:{serverapp.port}{base}"


def tell_children(serverapp, store) -> Callable[[], None]:
    """Put the server's address, token and store fingerprint into the environment its children inherit; returns
    the function that takes them out again (when the extension stops)."""
    from ..core.location import store_fingerprint

    url = loopback_url(serverapp)
    token = getattr(getattr(serverapp, "identity_provider", None), "token", "") or ""
    if url is None or not token:
        return lambda: None
    before = {k: os.environ.get(k) for k in SERVER_ENV}
    os.environ.update(MLTRACK_SERVER_URL=url, MLTRACK_SERVER_TOKEN=token,
                      MLTRACK_SERVER_STORE=store_fingerprint(store.location))

    def restore() -> None:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    return restore
