"""The series routes in their binary form (``Accept: application/msgpack``: raw little-endian arrays), JSON staying
the default; the HTTP client reads the binary form, bit for bit what the store holds."""

from __future__ import annotations

import asyncio
import json

import msgpack
import numpy as np
import pytest

from jupyter_mltrack.server.series_format import wants_msgpack

STEPS = np.array([0, 1, 2, 5, 2**62], dtype=np.int64)
VALUES = np.array([0.1, np.nan, np.inf, -np.inf, -0.0])
TIMES = np.array([1.5, 2.25, 1e9, 1.7e9 + 0.125, 0.0])


@pytest.fixture
def seeded(server_store):
    server_store.write_batch({"runs": [{"id": "r1"}, {"id": "r2"}], "metrics": [
        {"run_id": "r1", "name": "loss", "steps": STEPS, "timestamps": TIMES, "values": VALUES},
        {"run_id": "r2", "name": "loss", "context": {"subset": "val"}, "steps": STEPS[:2], "timestamps": TIMES[:2],
         "values": VALUES[:2]},
        {"run_id": "r2", "name": "loss", "steps": STEPS[:3], "timestamps": TIMES[:3], "values": VALUES[:3]}]})
    return server_store


def _bits(a):
    return np.asarray(a).tobytes()


@pytest.mark.parametrize("accept, binary", [
    (None, False), ("application/json", False), ("*/*", False), ("application/msgpack", True),
    ("application/msgpack, application/json;q=0.5", True), ("application/json, application/msgpack;q=0.5", False),
    ("application/msgpack;q=0", False), ("application/x-msgpack", True), ("text/html, application/msgpack", True),
])
def test_accept(accept, binary):
    assert wants_msgpack(accept) is binary


async def test_one_series_binary_and_json(jp_fetch, seeded):
    r = await jp_fetch("mltrack", "api", "runs", "r1", "metrics", params={"name": "loss"},
                       headers={"Accept": "application/msgpack"})
    assert r.headers["Content-Type"] == "application/msgpack" and "Accept" in r.headers["Vary"]
    d = msgpack.unpackb(r.body, raw=False)
    assert d["encoding"] == {"steps": "<i8", "timestamps": "<f8", "values": "<f8"}
    assert _bits(np.frombuffer(d["steps"], "<i8")) == _bits(STEPS.astype("<i8"))
    assert _bits(np.frombuffer(d["values"], "<f8")) == _bits(VALUES.astype("<f8"))  # NaN, ±inf, -0.0 as they are
    assert _bits(np.frombuffer(d["timestamps"], "<f8")) == _bits(TIMES.astype("<f8"))
    j = json.loads((await jp_fetch("mltrack", "api", "runs", "r1", "metrics", params={"name": "loss"})).body)
    assert {k: v for k, v in d.items() if k not in ("steps", "timestamps", "values", "encoding")} == \
        {k: v for k, v in j.items() if k not in ("steps", "timestamps", "values")}
    assert j["values"][1:4] == ["NaN", "Infinity", "-Infinity"]  # JSON stays the default


async def test_many_series_binary(jp_fetch, seeded):
    r = await jp_fetch("mltrack", "api", "metrics", params={"runs": "r1,r2", "name": "loss"},
                       headers={"Accept": "application/msgpack"})
    assert r.headers["Content-Type"] == "application/msgpack"
    series = msgpack.unpackb(r.body, raw=False)["series"]
    assert [(s["run_id"], s["context"]) for s in series] == [("r1", {}), ("r2", {})]
    assert _bits(np.frombuffer(series[1]["values"], "<f8")) == _bits(VALUES[:3])
    r = await jp_fetch("mltrack", "api", "metrics", params={"runs": "r1,r2", "name": "loss"})
    assert r.headers["Content-Type"].startswith("application/json")


async def test_errors_stay_json(jp_fetch, seeded):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mltrack", "api", "runs", "r1", "metrics", headers={"Accept": "application/msgpack"})
    assert e.value.code == 400 and json.loads(e.value.response.body)["error"]["code"] == "invalid"


async def test_the_http_client_reads_the_binary_form(jp_fetch, jp_serverapp, jp_http_port, jp_base_url, seeded,
                                                     monkeypatch):
    from jupyter_mltrack.client import backend as B

    answers = []
    request = B.HttpBackend._request

    def recording(self, method, path, **kw):
        r = request(self, method, path, **kw)
        answers.append(r.headers.get("Content-Type"))
        return r

    monkeypatch.setattr(B.HttpBackend, "_request", recording)
    http = B.HttpBackend(f"http://127.0.0.1:{jp_http_port}{jp_base_url}?token={jp_serverapp.identity_provider.token}")
    one = await asyncio.to_thread(http.get_series, "r1", "loss")
    local = seeded.get_series("r1", "loss")
    for field in ("steps", "timestamps", "values"):
        assert _bits(getattr(one["points"], field)) == _bits(getattr(local["points"], field))
    assert {k: v for k, v in one.items() if k != "points"} == {k: v for k, v in local.items() if k != "points"}
    many = await asyncio.to_thread(http.get_series_many, ["r1", "r2"], "loss", {"subset": "val"})
    assert [s["run_id"] for s in many] == ["r2"] and _bits(many[0]["points"].values) == _bits(VALUES[:2])
    assert answers == ["application/msgpack", "application/msgpack"]
    one["points"].values[0] = 1.0  # writable arrays, as the JSON path gives


def test_the_http_client_still_reads_json():
    """A server without the binary form answers JSON: the client reads both."""
    from jupyter_mltrack.client.backend import _series_from_wire

    d = _series_from_wire({"run_id": "r", "steps": [0, 1], "timestamps": [1.0, 2.0], "values": [0.5, "NaN"]})
    assert d["points"].steps.tolist() == [0, 1] and np.isnan(d["points"].values[1])
