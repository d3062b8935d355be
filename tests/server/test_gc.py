"""POST mltrack/api/gc against a real Jupyter server (pytest-jupyter) and a real SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from tornado.httpclient import HTTPClientError

GC = ("mltrack", "api", "gc")


def _orphan(store, data: bytes, hours: float = 2.0) -> str:
    sha, _ = store.blobs.put_bytes(data)
    t = time.time() - hours * 3600
    os.utime(store.blobs.path(sha), (t, t))
    return sha


async def _post(jp_fetch, body: bytes | str = b"") -> dict:
    r = await jp_fetch(*GC, method="POST", body=body, allow_nonstandard_methods=True)
    assert r.code == 200
    return json.loads(r.body)


async def test_post_gc_reclaims_unreferenced_blobs(jp_fetch, server_store):
    old = _orphan(server_store, b"o" * 1000)
    young = _orphan(server_store, b"young", hours=0)
    sha, size = server_store.blobs.put_bytes(b"kept")
    server_store.write_batch({"runs": [{"id": "r1", "project": "p"}], "artifacts": [
        {"run_id": "r1", "name": "m", "files": [{"path": "m.bin", "sha256": sha, "size": size}]}]})

    dry = await _post(jp_fetch, json.dumps({"dry_run": True}))
    assert dry == {"blobs_removed": 1, "bytes_freed": 1000, "temp_files_removed": 0, "temp_bytes_freed": 0,
                   "blobs_kept_young": 1, "blob_rows_removed": 0, "dry_run": True}
    assert server_store.blobs.exists(old)

    r = await _post(jp_fetch)  # an empty body: the defaults (one hour, for real)
    assert {**r, "dry_run": True} == dry and r["dry_run"] is False
    assert not server_store.blobs.exists(old) and server_store.blobs.exists(young)

    r = await _post(jp_fetch, json.dumps({"grace_hours": 0}))
    assert (r["blobs_removed"], r["bytes_freed"], r["blobs_kept_young"]) == (1, 5, 0)
    assert not server_store.blobs.exists(young) and server_store.blobs.exists(sha)
    run = json.loads((await jp_fetch("mltrack", "api", "runs", "r1")).body)
    aid = run["artifacts"][0]["id"]
    assert (await jp_fetch("mltrack", "api", "artifacts", str(aid), "files", "m.bin")).body == b"kept"


async def test_post_gc_runs_on_the_write_thread(jp_fetch, server_store, monkeypatch):
    seen = []
    real = server_store.gc

    def spy(*a, **kw):
        seen.append(server_store.db.writer.on_thread())
        return real(*a, **kw)

    monkeypatch.setattr(server_store, "gc", spy)
    await _post(jp_fetch, "{}")
    assert seen == [True]


@pytest.mark.parametrize("body, field", [
    ({"grace_hours": -1}, "grace_hours"),
    ({"grace_hours": "1"}, "grace_hours"),
    ({"grace_hours": True}, "grace_hours"),
    ({"grace_hours": None}, "grace_hours"),
    ({"dry_run": "yes"}, "dry_run"),
    ({"dry_run": 1}, "dry_run"),
    ({"dry_run": True, "grace": 2}, "grace"),
    ([1, 2], "grace_hours"),
])
async def test_post_gc_refuses_bad_fields(jp_fetch, server_store, body, field):
    sha = _orphan(server_store, b"must survive a refused request")
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(*GC, method="POST", body=json.dumps(body))
    assert e.value.code == 400
    err = json.loads(e.value.response.body)["error"]
    assert err["code"] == "invalid" and field in err["message"], err
    assert server_store.blobs.exists(sha)


async def test_post_gc_refuses_a_body_that_is_not_json(jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(*GC, method="POST", body=b"grace_hours=1")
    assert e.value.code == 400


async def test_mlt_gc_over_http(jp_fetch, jp_serverapp, jp_http_port, jp_base_url, server_store):
    """mlt.gc() in remote mode posts to the server, which collects its own store (jp_fetch: the server listens)."""
    import jupyter_mltrack as R
    from jupyter_mltrack.client.tracking import reset

    sha = _orphan(server_store, b"remote orphan")
    token = jp_serverapp.identity_provider.token
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, R.set_tracking_uri,
                               f"http://127.0.0.1:{jp_http_port}{jp_base_url}?token={token}")
    try:
        dry = await loop.run_in_executor(None, lambda: R.gc(dry_run=True))
        assert (dry["blobs_removed"], dry["dry_run"]) == (1, True) and server_store.blobs.exists(sha)
        r = await loop.run_in_executor(None, lambda: R.gc(grace_hours=0.5))
        assert (r["blobs_removed"], r["bytes_freed"], r["dry_run"]) == (1, len(b"remote orphan"), False)
        assert not server_store.blobs.exists(sha)
        with pytest.raises(R.InvalidInput, match="grace_hours"):
            await loop.run_in_executor(None, lambda: R.gc(grace_hours=-3))
    finally:
        await loop.run_in_executor(None, reset)
