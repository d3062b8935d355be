"""Authentication and authorisation of every route, generated from the route table, under jupyter_server's
DEFAULT settings (``allow_unauthenticated_access`` left as it is: every handler must refuse anonymous requests by
itself) and with a restrictive authorizer (tests/_auth.py): a user without rights gets 403 on every route, a
read-only user 403 on every write. A route added to ``ROUTES`` or ``STATIC_ROUTES`` is covered without editing
this file; a route whose path parameter has no sample value below fails the test until one is added."""

from __future__ import annotations

import json
import re

import pytest
import tornado.web
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler

from jupyter_mltrack.server.handlers import ROUTES, STATIC_ROUTES
from jupyter_mltrack.server.openapi import document

from .. import _auth

#: a value for each named group of the route patterns (each must match its group)
SAMPLES = {"run_id": "abc", "artifact_id": "1", "path": "x.txt", "sha256": "0" * 64, "name": "plotly.min.js",
           "key_id": "1"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODIES = {"GET": None, "DELETE": None, "POST": b"{}", "PUT": b"x", "PATCH": b"{}"}
ALL_ROUTES = ROUTES + STATIC_ROUTES


@pytest.fixture
def jp_server_config(store_dir):
    """The extension on the test's store, jupyter_server's defaults for everything else but the users."""
    from traitlets.config import Config

    return Config({
        "ServerApp": {"jpserver_extensions": {"jupyter_mltrack": True},
                      "identity_provider_class": _auth.TokenUsers, "authorizer_class": _auth.RoleAuthorizer},
        "MLTrackApp": {"store_uri": str(store_dir)},
    })


def sample_url(pattern: str) -> str:
    """The pattern with each named group replaced by its sample; checked to be routed by that pattern."""
    def value(m: re.Match) -> str:
        name = m.group(1)
        if name not in SAMPLES:
            pytest.fail(f"route {pattern!r}: add a sample value for its path parameter {name!r} to SAMPLES")
        return SAMPLES[name]

    url = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", value, pattern).replace("\\.", ".")
    assert re.fullmatch(pattern, url), (pattern, url)
    return url


def served_methods(handler: type) -> list[str]:
    """The HTTP methods the handler class defines itself (the others are tornado's 405)."""
    return [m for m in METHODS if getattr(handler, m.lower()) is not getattr(tornado.web.RequestHandler, m.lower())]


def requests_of_table() -> list[tuple[str, str, type]]:
    out = [(sample_url(p), m, h) for p, h in ALL_ROUTES for m in served_methods(h)]
    assert out, "the route table is empty"
    return out


def is_write(method: str) -> bool:
    return HTTP_METHOD_TO_AUTH_ACTION[method] != "read"


async def send(jp_fetch, url: str, method: str, headers: dict):
    return await jp_fetch(url, method=method, body=BODIES[method], headers=headers, raise_error=False,
                          follow_redirects=False, allow_nonstandard_methods=True)


def test_the_table_has_reads_and_writes():
    """The generated requests cover both kinds and every route (so the loops below are not vacuous)."""
    reqs = requests_of_table()
    assert {r[0] for r in reqs} == {sample_url(p) for p, _ in ALL_ROUTES}
    assert any(is_write(m) for _, m, _ in reqs) and any(not is_write(m) for _, m, _ in reqs)


def test_every_documented_operation_is_served():
    """Each (path, method) of openapi.json is a method its handler defines, and the reverse (catch-all aside)."""
    documented = {(p, m.upper()) for p, ops in document("x")["paths"].items() for m in ops}
    served = set()
    for pattern, handler in ROUTES:
        if pattern.endswith("(?P<path>.*)"):
            continue
        path = "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).replace("\\.", ".")
        served |= {(path, m) for m in served_methods(handler)}
    assert documented == served


async def test_anonymous_requests_are_refused_under_default_settings(jp_fetch, jp_serverapp):
    assert jp_serverapp.allow_unauthenticated_access is True  # jupyter_server's default: handlers must refuse
    await jp_fetch("mltrack", "api", "batch", method="POST", body=json.dumps({"projects": [{"name": "secret"}]}))
    before = _auth.asked_count()
    wrong = []
    for url, method, handler in requests_of_table():
        for headers in ({"Authorization": ""}, {"Authorization": "token not-a-token"}):
            r = await send(jp_fetch, url, method, headers)
            body = r.body or b""
            if issubclass(handler, APIHandler):
                ok = (r.code == 401 and r.headers.get("WWW-Authenticate", "").startswith("token")
                      and json.loads(body)["error"]["code"] == "unauthenticated")
            else:  # a page (the widgets' static file): the login page, or 403 for a write
                ok = (r.code == 302 and "/login" in r.headers["Location"]) or (r.code == 403 and method != "GET")
            if not ok or b"secret" in body or b"plotly" in body:
                wrong.append((method, url, headers["Authorization"], r.code, body[:200]))
    assert not wrong, "\n".join(map(repr, wrong))
    assert _auth.asked_since(before) == []  # refused before any authorisation question


@pytest.mark.parametrize("user", ["nobody", "reader", "writer"])
async def test_each_route_asks_the_authorizer_and_obeys_it(jp_fetch, user):
    """One question per request — (user, the method's action, "mltrack") — and a 403 exactly when refused."""
    wrong = []
    for url, method, handler in requests_of_table():
        before = _auth.asked_count()
        r = await send(jp_fetch, url, method, _auth.header(user))
        action = HTTP_METHOD_TO_AUTH_ACTION[method]
        asked = [a[:3] for a in _auth.asked_since(before)]
        allowed = action in _auth.RIGHTS[user]
        if asked != [(user, action, _auth.RESOURCE)]:
            wrong.append((method, url, "asked", asked))
        if allowed and r.code in (401, 403):
            wrong.append((method, url, "refused", r.code, (r.body or b"")[:200]))
        if not allowed:
            if r.code != 403:
                wrong.append((method, url, "not refused", r.code, (r.body or b"")[:200]))
            elif issubclass(handler, APIHandler) and json.loads(r.body)["error"]["code"] != "forbidden":
                wrong.append((method, url, "body", r.body[:200]))
    assert not wrong, "\n".join(map(repr, wrong))


async def test_a_refused_write_changes_nothing(jp_fetch, server_store):
    """The read-only user's batch, project and blob are refused before anything is stored."""
    rev = server_store.revision()
    batch = {"runs": [{"id": "r1", "project": "p", "name": "x", "status": "running", "start_time": 1.0}]}
    for parts, method, body in ((("batch",), "POST", json.dumps(batch)),
                                (("projects",), "POST", json.dumps({"name": "p"})),
                                (("blobs", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"), "PUT",
                                 b"hello")):
        for user in ("reader", "nobody"):
            r = await jp_fetch("mltrack", "api", *parts, method=method, body=body, headers=_auth.header(user),
                               raise_error=False)
            assert r.code == 403, (parts, user, r.body)
    assert server_store.revision() == rev
    assert server_store.list_projects() == []
    assert not server_store.blobs.exists("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    r = await jp_fetch("mltrack", "api", "batch", method="POST", body=json.dumps(batch),
                       headers=_auth.header("writer"))
    assert r.code == 200
    assert [p["name"] for p in server_store.list_projects()] == ["p"]
