"""Every bad input a clear 4xx naming the field, and nothing lost: each request below once answered 500, dropped
the connection, or was stored and broke later reads. Each answer must be a JSON 4xx whose message names what is
wrong, and the good data written before must read back unchanged afterwards."""

from __future__ import annotations

import hashlib
import json

import msgpack
import pytest
from tornado.httpclient import HTTPClientError

API = "mltrack/api/"
GOOD = {"runs": [{"id": "good", "name": "good run"}],
        "params": [{"run_id": "good", "key": "lr", "value": 0.1}],
        "metrics": [{"run_id": "good", "name": "loss", "values": [3.0, 2.0, 1.0]}]}


async def _fetch(jp_fetch, path, **kw):
    return await jp_fetch(*(API + path).split("?")[0].split("/"), **kw) if "?" not in path else \
        await jp_fetch(*(API + path.split("?")[0]).split("/"), params=_params(path.split("?", 1)[1]), **kw)


def _params(query: str) -> dict:
    out = {}
    for part in query.split("&"):
        k, _, v = part.partition("=")
        out[k] = v
    return out


async def _error(jp_fetch, path, status=400, **kw) -> str:
    with pytest.raises(HTTPClientError) as e:
        await _fetch(jp_fetch, path, **kw)
    assert e.value.code == status, (path, e.value.code, e.value.response and e.value.response.body[:300])
    body = json.loads(e.value.response.body)
    assert body["error"]["code"] in ("invalid", "too_large", "not_found", "conflict"), body
    return body["error"]["message"]


async def _post_error(jp_fetch, batch, status=400, **kw) -> str:
    body = batch if isinstance(batch, (bytes, str)) else json.dumps(batch)
    return await _error(jp_fetch, "batch", status, method="POST", body=body, **kw)


async def _store_good_run(jp_fetch) -> dict:
    await _fetch(jp_fetch, "batch", method="POST", body=json.dumps(GOOD))
    return json.loads((await _fetch(jp_fetch, "runs/good")).body)


async def _still_good(jp_fetch, before: dict) -> None:
    after = json.loads((await _fetch(jp_fetch, "runs/good")).body)
    assert after["params"] == before["params"] and after["metrics"] == before["metrics"]
    listing = json.loads((await _fetch(jp_fetch, "runs")).body)
    assert [r["id"] for r in listing["runs"]] == ["good"]


def _nested(depth: int, leaf=1):
    v = leaf
    for _ in range(depth):
        v = {"a": v}
    return v


BIG = 10**30
BAD_BATCHES = [
    # integers too large for SQLite
    ({"artifacts": [{"run_id": "good", "name": "a", "files": [{"path": "f", "sha256": "0" * 64, "size": BIG}]}]},
     "size"),
    ({"inputs": [{"run_id": "good", "artifact_id": BIG}]}, "inputs.artifact_id"),
    ({"models": [{"project": "p", "name": "m", "artifact_id": BIG}]}, "models.artifact_id"),
    # a dict or list where a scalar belongs
    ({"updates": [{"run_id": "good", "error": {"x": 1}}]}, "updates.error"),
    ({"updates": [{"run_id": "good", "name": ["x"]}]}, "updates.name"),
    ({"artifacts": [{"run_id": "good", "name": "a", "type": {"x": 1}, "files": []}]}, "artifacts.type"),
    ({"artifacts": [{"run_id": "good", "name": "a", "files": [{"path": "f", "sha256": "0" * 64, "size": [1]}]}]},
     "size"),
    ({"artifacts": [{"run_id": "good", "name": "a", "files": [{"path": "f", "sha256": "0" * 64, "size": -1}]}]},
     "size"),
    ({"artifacts": [{"run_id": "good", "name": "a", "files": [{"path": "f", "sha256": "0" * 64, "size": "3"}]}]},
     "size"),
    ({"artifacts": [{"run_id": "good", "name": "a", "files": [
        {"path": "f", "sha256": "0" * 64, "size": 1, "media_type": "text/plain\r\nX-Evil: 1"}]}]}, "media_type"),
    ({"artifacts": [{"run_id": "good", "name": "a", "metadata": _nested(100), "files": []}]}, "metadata"),
    # huge numbers, wrong shapes
    ('{"params": [{"run_id": "good", "key": "huge", "value": %s}]}' % ("9" * 5000), "4300 digits"),
    ({"params": [{"run_id": "good", "key": "deep", "value": _nested(500)}]}, "param 'deep'"),
    ({"metrics": [{"run_id": "good", "name": "m", "values": [[1, 2]]}]}, "metric 'm' values"),
    ({"metrics": [{"run_id": "good", "name": "m", "values": [1.0], "steps": [1e30]}]}, "steps"),
    ({"metrics": [{"run_id": "good", "name": "m", "values": [1.0], "steps": [2**64]}]}, "steps"),
    ({"metrics": [{"run_id": "good", "name": "m", "values": [1.0], "timestamps": ["NaN"]}]}, "timestamps"),
    ({"metrics": [{"run_id": "good", "name": "m", "values": [1.0], "timestamps": [1e300]}]}, "timestamps"),
    ({"metrics": [{"run_id": "good", "name": "m", "values": ["1e999"]}]}, "is not a number"),
    # runs that would be stored wrong
    ({"runs": [{"id": "r2", "start_time": "Infinity"}]}, "runs.start_time"),
    ({"runs": [{"id": "r2", "start_time": 1e300}]}, "runs.start_time"),
    ({"runs": [{"id": "r2", "name": "n" * 10_000}]}, "runs.name"),
    ({"runs": [{"id": "r2", "description": "d" * 200_000}]}, "runs.description"),
    ({"runs": [{"id": "rün"}]}, "run id"),
    ({"runs": [{"id": "r2", "parent_id": "r2"}]}, "own parent"),
    ({"runs": [{"id": "r2", "status": "sleeping"}]}, "runs.status"),
    ({"updates": [{"run_id": "good", "end_time": "NaN"}]}, "updates.end_time"),
    ({"heartbeat": None}, "'heartbeat' must be a list"),
    ({"runs": [{"id": "r2", "name": None}]}, "runs.name must not be null"),
    ({"id": "x" * 200, "runs": [{"id": "r2"}]}, "batch: id"),
    ({"id": None, "runs": [{"id": "r2"}]}, "batch: id"),
    ('{"tags": [{"run_id": "good", "key": "k\\udc00", "value": "v"}]}', "lone surrogate"),
    ('{"runs": [{"id": "r2", "description": "\\ud800"}]}', "runs.description"),
]


@pytest.mark.parametrize("batch,field", BAD_BATCHES, ids=[f[:30] for _, f in BAD_BATCHES])
async def test_a_bad_batch_is_a_400_naming_the_field(jp_fetch, batch, field):
    before = await _store_good_run(jp_fetch)
    message = await _post_error(jp_fetch, batch)
    assert field in message, message
    await _still_good(jp_fetch, before)


async def test_a_400_digit_param_is_stored_exactly_and_every_read_still_answers(jp_fetch):
    big = int("9" * 400)
    await _fetch(jp_fetch, "batch", method="POST", body=json.dumps(
        {"runs": [{"id": "big"}], "params": [{"run_id": "big", "key": "seed", "value": big}],
         "updates": [{"run_id": "big", "status": "finished", "end_time": 2e9}]}))
    assert json.loads((await _fetch(jp_fetch, "runs/big")).body)["params"] == {"seed": big}
    for path in ("runs", "runs?view=table", "columns", "runs?filter=params.seed > 1"):
        await _fetch(jp_fetch, path)


async def test_bodies_that_broke_the_parser(jp_fetch):
    before = await _store_good_run(jp_fetch)
    deep = b"[" * 100_000 + b"]" * 100_000
    assert "nests too deeply" in await _post_error(jp_fetch, deep)
    packed = msgpack.packb({"runs": [{1: "x"}]})
    assert "string keys" in await _post_error(jp_fetch, packed, headers={"Content-Type": "application/msgpack"})
    await _still_good(jp_fetch, before)


BAD_QUERIES = [
    ("runs?offset=" + "9" * 25, "offset"),
    ("runs?offset=" + str(2**63), "offset"),
    ("runs?offset=", "offset"),
    ("runs?limit=-1", "limit"),
    ("runs?view=wide", "view"),
    ("runs?offset=%x", "not '%x'"),  # a '%' in a message is itself
    ("runs?filter=" + "(" * 5000 + "params.lr > 0" + ")" * 5000, "nest"),
    ("runs?filter=" + "not " * 5000 + "params.lr > 0", "nest"),
    ("runs?filter=" + " or ".join(f"params.lr > {i}" for i in range(1000)), "conditions"),
    ("runs?filter=params.lr > " + "9" * 400, "out of range"),
    ("runs?order_by=" + ",".join(["params.lr"] * 3000), "order_by"),
    ("metrics?name=loss&runs=" + ",".join(f"r{i}" for i in range(1001)), "the limit is 1000"),
    ("metrics?name=loss&runs=good,,good", "runs"),
    ("metrics?name=loss&runs=good&step_max=" + str(2**64), "step_max"),
    ("report?runs=" + ",".join(f"r{i}" for i in range(1001)), "runs"),
    ("runs?offset=\x1b8", "control character"),  # tornado's own readers would read 8
    ("runs?limit=\t10", "control character"),
    ("metrics?runs=good&name=\x01loss", "control character"),
]


@pytest.mark.parametrize("path,field", BAD_QUERIES, ids=[p[:40] for p, _ in BAD_QUERIES])
async def test_a_bad_query_is_a_4xx_naming_the_parameter(jp_fetch, path, field):
    before = await _store_good_run(jp_fetch)
    message = await _error(jp_fetch, path)
    assert field in message, message
    await _still_good(jp_fetch, before)


@pytest.mark.parametrize("param", ["project", "experiment"])
async def test_a_huge_numeric_project_is_a_name_not_an_overflow(jp_fetch, param):
    await _store_good_run(jp_fetch)
    with pytest.raises(HTTPClientError) as e:
        await _fetch(jp_fetch, f"runs?{param}=" + "9" * 30)
    assert e.value.code in (400, 404), e.value.code


async def test_a_query_string_over_the_limit_is_a_414(jp_fetch):
    from jupyter_mltrack.core.validation import MAX_QUERY

    message = await _error(jp_fetch, "runs?filter=" + "x" * MAX_QUERY, status=414)
    assert str(MAX_QUERY) in message


async def test_the_documented_maximum_of_run_ids_is_answered(jp_fetch):
    from jupyter_mltrack.core.validation import MAX_IDS

    await _store_good_run(jp_fetch)
    ids = ["good"] + [f"r{i:031d}" for i in range(MAX_IDS - 1)]  # 32-character ids: the longest query
    r = await _fetch(jp_fetch, "metrics?name=loss&runs=" + ",".join(ids))
    series = json.loads(r.body)["series"]
    assert [s["run_id"] for s in series] == ["good"]


async def test_an_artifact_whose_size_is_not_its_bytes_is_refused(jp_fetch):
    before = await _store_good_run(jp_fetch)
    data = b"hello"
    sha = hashlib.sha256(data).hexdigest()
    await _fetch(jp_fetch, f"blobs/{sha}", method="PUT", body=data)
    art = {"run_id": "good", "name": "a", "files": [{"path": "f.txt", "sha256": sha, "size": 50}]}
    assert "size 50" in await _post_error(jp_fetch, {"artifacts": [art]})
    art["files"][0]["size"] = len(data)
    await _fetch(jp_fetch, "batch", method="POST", body=json.dumps({"artifacts": [art]}))
    aid = json.loads((await _fetch(jp_fetch, "runs/good")).body)["artifacts"][0]["id"]
    r = await _fetch(jp_fetch, f"artifacts/{aid}/files/f.txt")
    assert r.body == data and r.headers["Content-Length"] == "5"
    await _still_good(jp_fetch, before)


async def test_unknown_methods_say_which_are_allowed(jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await _fetch(jp_fetch, "batch", method="DELETE")
    assert e.value.code == 405 and e.value.response.headers["Allow"] == "POST"


async def test_projects_and_experiments_are_checked_like_batch_items(jp_fetch):
    assert "project name" in await _error(jp_fetch, "projects", method="POST", body=json.dumps({"name": ""}))
    assert "description" in await _error(jp_fetch, "projects", method="POST",
                                         body=json.dumps({"name": "p", "description": 5}))
    assert "unknown field" in await _error(jp_fetch, "projects", method="POST",
                                           body=json.dumps({"name": "p", "owner": "me"}))
    assert "missing 'project'" in await _error(jp_fetch, "experiments", method="POST", body=json.dumps({"name": "e"}))
    r = await _fetch(jp_fetch, "projects", method="POST", body=json.dumps({"name": "p", "description": "d"}))
    assert r.code == 201 and json.loads(r.body)["name"] == "p"


async def test_the_http_client_splits_long_id_lists(jp_fetch, jp_serverapp, jp_http_port, jp_base_url, monkeypatch):
    import asyncio

    from jupyter_mltrack.client import backend as B
    from jupyter_mltrack.core.validation import MAX_IDS

    await _store_good_run(jp_fetch)
    sent: list[int] = []
    request = B.HttpBackend._request

    def counting(self, method, path, **kw):
        if path.startswith("metrics?"):
            sent.append(len(self.api + path))
        return request(self, method, path, **kw)

    monkeypatch.setattr(B.HttpBackend, "_request", counting)
    http = B.HttpBackend(f"http://127.0.0.1:{jp_http_port}{jp_base_url}?token={jp_serverapp.identity_provider.token}")
    ids = [f"r{i:031d}" for i in range(2 * MAX_IDS + 500)] + ["good"]  # well past the server's limit
    series = await asyncio.to_thread(http.get_series_many, ids, "loss")
    assert [s["run_id"] for s in series] == ["good"]
    assert len(sent) == -(-len(ids) // B.IDS_PER_REQUEST) and max(sent) < 40_000


async def test_projects_named_with_digits_are_names(jp_fetch):
    await _store_good_run(jp_fetch)  # project 1 is "Default"
    r = await _fetch(jp_fetch, "projects", method="POST", body=json.dumps({"name": "1"}))
    assert json.loads(r.body)["name"] == "1"
    r = await _fetch(jp_fetch, "experiments", method="POST", body=json.dumps({"project": "1", "name": "e1"}))
    assert json.loads(r.body)["name"] == "e1"
    r = await _fetch(jp_fetch, "projects", method="POST", body=json.dumps({"name": "Default"}))
    assert json.loads(r.body)["name"] == "Default"


async def test_automatic_steps_never_pass_int64(jp_fetch):
    await _store_good_run(jp_fetch)
    top = 2**63 - 1
    await _fetch(jp_fetch, "batch", method="POST", body=json.dumps(
        {"metrics": [{"run_id": "good", "name": "edge", "values": [1.0], "steps": [top]}]}))
    message = await _post_error(jp_fetch, {"metrics": [{"run_id": "good", "name": "edge", "values": [2.0]}]})
    assert "64-bit" in message and "edge" in message
    series = json.loads((await _fetch(jp_fetch, "runs/good/metrics?name=edge")).body)
    assert series["steps"] == [top] and series["values"] == [1.0]


async def test_whole_floats_are_integers_as_json_says(jp_fetch):
    await _store_good_run(jp_fetch)
    data = b"abc"
    sha = hashlib.sha256(data).hexdigest()
    await _fetch(jp_fetch, f"blobs/{sha}", method="PUT", body=data)
    art = {"run_id": "good", "name": "a", "files": [{"path": "a.txt", "sha256": sha, "size": 3.0}]}
    await _fetch(jp_fetch, "batch", method="POST", body=json.dumps({"artifacts": [art]}))
    aid = json.loads((await _fetch(jp_fetch, "runs/good")).body)["artifacts"][0]["id"]
    r = await _fetch(jp_fetch, "batch", method="POST", body=json.dumps(  # used by another run (no lineage cycle)
        {"runs": [{"id": "user"}], "inputs": [{"run_id": "user", "artifact_id": float(aid)}]}))
    assert json.loads(r.body)["written"]["inputs"] == 1
    assert "inputs.artifact_id" in await _post_error(jp_fetch, {"inputs": [{"run_id": "good", "artifact_id": 1.5}]})


async def test_msgpack_bytes_are_not_text(jp_fetch):
    before = await _store_good_run(jp_fetch)
    for batch, field in (({"tags": [{"run_id": "good", "key": "k", "value": b"\x00\xff"}]}, "bytes"),
                         ({"artifacts": [{"run_id": "good", "name": "a", "metadata": {"k": b"x"}, "files": []}]},
                          "bytes")):
        message = await _post_error(jp_fetch, msgpack.packb(batch, use_bin_type=True),
                                    headers={"Content-Type": "application/msgpack"})
        assert field in message
    await _still_good(jp_fetch, before)
