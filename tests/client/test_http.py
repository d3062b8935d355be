"""The client's HTTP sessions (client/http.py) against a real HTTP server on a socket: kept-alive connections, a
connection the server closed meanwhile, bodies (bytes, files, JSON), and what goes through requests instead
(https://, a proxy of the environment)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jupyter_mltrack.client.http import Session


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[dict] = []
        self.connections = 0
        self.close_after = False  # answer with Connection: close (the next request needs a new connection)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def get_request(self):
        self.connections += 1
        return super().get_request()

    def stop(self):
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.server.seen.append({"method": self.command, "path": self.path, "body": body,
                                 "headers": dict(self.headers), "chunked": "Transfer-Encoding" in self.headers})
        out = json.dumps({"path": self.path, "n": len(body)}).encode()
        self.send_response(404 if self.path.startswith("/missing") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        if self.server.close_after:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture
def srv():
    s = Recorder()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for v in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(v, raising=False)


def test_requests_share_one_kept_alive_connection_and_carry_the_default_headers(srv):
    s = Session({"Authorization": "token t"})
    try:
        for i in range(5):
            r = s.request("GET", srv.url + f"x?i={i}", timeout=10)
            assert (r.status_code, r.json()) == (200, {"path": f"/x?i={i}", "n": 0})
            assert r.headers.get("content-type") == "application/json"  # case-insensitive
        assert srv.connections == 1
        assert all(h["headers"]["Authorization"] == "token t" for h in srv.seen)
        r = s.request("GET", srv.url + "missing", timeout=10)
        assert r.status_code == 404 and r.reason == "Not Found"
    finally:
        s.close()


def test_bodies_bytes_json_and_files_with_their_length(srv, tmp_path):
    s = Session()
    try:
        assert s.request("POST", srv.url + "b", data=b"\x00\x01binary", timeout=10,
                         headers={"Content-Type": "application/msgpack"}).json()["n"] == 8
        s.request("POST", srv.url + "j", json={"a": [1, 2]}, timeout=10)
        f = tmp_path / "blob"
        f.write_bytes(b"x" * 100_000)
        with open(f, "rb") as fh:
            fh.read(10)  # sent from where the file stands
            assert s.request("PUT", srv.url + "f", data=fh, timeout=10).json()["n"] == 99_990
        b, j, fl = srv.seen
        assert (b["body"], b["headers"]["Content-Type"]) == (b"\x00\x01binary", "application/msgpack")
        assert json.loads(j["body"]) == {"a": [1, 2]} and j["headers"]["Content-Type"] == "application/json"
        assert fl["headers"]["Content-Length"] == "99990" and not fl["chunked"]
    finally:
        s.close()


def test_a_connection_the_server_closed_is_replaced_and_nothing_is_lost(srv):
    s = Session()
    try:
        srv.close_after = True  # each answer ends its connection
        for i in range(3):
            assert s.request("POST", srv.url + f"p{i}", data=b"x", timeout=10).status_code == 200
        srv.close_after = False
        assert s.request("GET", srv.url + "g", timeout=10).status_code == 200
        assert [h["path"] for h in srv.seen] == ["/p0", "/p1", "/p2", "/g"]  # each once
        assert srv.connections == 4
    finally:
        s.close()


def test_an_idle_connection_dropped_by_the_server_is_noticed_before_sending(srv):
    s = Session()
    try:
        s.request("GET", srv.url + "a", timeout=10)
        s._conn.sock.shutdown(socket.SHUT_RD)  # what a server closing an idle keep-alive connection looks like
        assert s.request("POST", srv.url + "b", data=b"y", timeout=10).status_code == 200
        assert [h["path"] for h in srv.seen] == ["/a", "/b"] and srv.connections == 2
    finally:
        s.close()


def test_a_proxy_of_the_environment_is_used_unless_the_host_is_excluded(srv, monkeypatch):
    """``HTTP_PROXY`` set: the request goes through requests to the proxy (here the recorder, which sees the
    absolute URL); a host in ``NO_PROXY`` is reached directly."""
    monkeypatch.setenv("HTTP_PROXY", srv.url)
    s = Session()
    try:
        r = s.request("GET", "http://tracking.invalid:8888/mltrack/api/status", timeout=10)
        assert r.status_code == 200
        assert srv.seen[-1]["path"] == "http://tracking.invalid:8888/mltrack/api/status"
        assert s._fallback is not None
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        s.request("GET", srv.url + "direct", timeout=10)
        assert srv.seen[-1]["path"] == "/direct"
    finally:
        s.close()


def test_https_goes_through_requests(monkeypatch):
    s = Session()
    with pytest.raises(Exception):
        s.request("GET", "https://127.0.0.1:1/x", timeout=2)
    assert s._fallback is not None  # requests handled it (TLS, its CA bundle settings)


def test_credentials_in_the_url_go_through_requests_as_basic_authentication(srv):
    s = Session()
    try:
        s.request("GET", srv.url.replace("http://", "http://ana:secret@") + "who", timeout=10)
        assert srv.seen[-1]["headers"]["Authorization"] == "Basic YW5hOnNlY3JldA=="  # ana:secret
        assert s._fallback is not None
    finally:
        s.close()
