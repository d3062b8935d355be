"""The client's HTTP sessions for the REST API: keep-alive connections of the standard library's ``http.client``.

A kernel writing through the Jupyter server that started it sends every batch, blob and snapshot this way. Importing
``requests`` for that cost ~130 ms of the kernel's interpreter in its first tracked run (``http.client``: ~5 ms), a
large part of what tracking cost per run in a short notebook. The standard library covers plain ``http://`` without
a proxy — a server on this machine or the local network. Anything else (``https://``: its CA bundle settings,
``REQUESTS_CA_BUNDLE`` included; a URL an ``HTTP(S)_PROXY`` of the environment applies to; credentials in the URL)
goes through ``requests``, which speaks TLS, proxies and basic authentication as users configure them.
"""

from __future__ import annotations

import http.client
import json as _json
import os
import select
from typing import Any
from urllib.parse import urlsplit

_PROXY_VARS = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
#: failures of a kept-alive connection the server had closed meanwhile: the request is sent again on a new one
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Response:
    """What a request answered: ``status_code``, ``reason``, ``headers`` (case-insensitive ``get``), ``content``."""

    __slots__ = ("status_code", "reason", "headers", "content")

    def __init__(self, status_code: int, reason: str, headers, content: bytes):
        self.status_code, self.reason, self.headers, self.content = status_code, reason, headers, content

    def json(self) -> Any:
        return _json.loads(self.content)


def _proxied(url: str, host: str) -> bool:
    """Whether a proxy of the environment applies to this plain-HTTP URL (then requests sends it)."""
    if not any(os.environ.get(v) for v in _PROXY_VARS):
        return False
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    if "http" not in proxies and "all" not in proxies:
        return False
    return not urllib.request.proxy_bypass_environment(host, proxies)


class Session:
    """One thread's session: default ``headers`` and one kept-alive connection (not shared between threads)."""

    def __init__(self, headers: dict[str, str] | None = None):
        self.headers: dict[str, str] = dict(headers or {})
        self._conn: http.client.HTTPConnection | None = None
        self._netloc: str | None = None
        self._used = False  # the connection answered a request before (so it may have been closed meanwhile)
        self._fallback = None  # a requests.Session, for https:// and proxied URLs

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._netloc, self._used = None, None, False

    def _connection(self, netloc: str, timeout: float) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and (self._netloc != netloc or (conn.sock is not None and _dropped(conn.sock))):
            self.close()
            conn = None
        if conn is None:
            conn = self._conn = http.client.HTTPConnection(netloc, timeout=timeout)
            self._netloc, self._used = netloc, False
        else:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        return conn

    def request(self, method: str, url: str, *, timeout: float, data: Any = None, json: Any = None,
                headers: dict[str, str] | None = None) -> Response:
        """Send ``data`` (bytes or a binary file) or ``json``; answer the whole response. A request on a kept-alive
        connection that the server closed meanwhile is sent again once on a new connection when it is safe to
        (not a POST: batches carry ids, so the writer's resend of a POST is applied once anyway)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or "@" in parts.netloc or _proxied(url, parts.hostname or ""):
            return self._via_requests(method, url, timeout=timeout, data=data, json=json, headers=headers)
        hdrs = {**self.headers, **(headers or {})}
        body = data
        if json is not None:
            body = _json.dumps(json).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        start = None
        if hasattr(body, "read"):  # a file: its length said up front, not sent chunked
            start = body.tell()
            hdrs["Content-Length"] = str(os.fstat(body.fileno()).st_size - start)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        while True:
            conn = self._connection(parts.netloc, timeout)
            reused = self._used
            try:
                conn.request(method, target, body=body, headers=hdrs)
                resp = conn.getresponse()
                content = resp.read()
            except _STALE:
                self.close()
                if not reused or method == "POST":
                    raise
                if start is not None:
                    body.seek(start)
                continue
            except BaseException:
                self.close()
                raise
            self._used = True
            if resp.will_close:
                self.close()
            return Response(resp.status, resp.reason, resp.headers, content)

    def _via_requests(self, method, url, **kw) -> Response:
        if self._fallback is None:
            import requests

            self._fallback = requests.Session()
        self._fallback.headers.update(self.headers)
        r = self._fallback.request(method, url, **kw)
        return Response(r.status_code, r.reason, r.headers, r.content)


def _dropped(sock) -> bool:
    """Whether an idle kept-alive connection was closed by the server (readable with nothing to say: at its end)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
