"""The REST handlers against a real Jupyter server (pytest-jupyter) and a real SQLite store."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

import msgpack
import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mltrack.server.handlers import ROUTES, STATIC_ROUTES
from jupyter_mltrack.server.openapi import document

SAMPLE_ARGS = {"run_id": "abc", "artifact_id": "1", "path": "x.txt", "sha256": "0" * 64}


def _sample_url(pattern: str) -> str:
    url = pattern
    for name, value in SAMPLE_ARGS.items():
        url = re.sub(r"\(\?P<%s>[^)]*\)" % name, value, url)
    return url.replace("\\.", ".").replace("(?P<path>.*)", "nothing-here")


async def fetch_json(jp_fetch, *parts, **kw):
    r = await jp_fetch(*parts, **kw)
    return json.loads(r.body)


async def expect_error(jp_fetch, status, *parts, **kw):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(*parts, **kw)
    assert e.value.code == status, e.value.response.body
    body = json.loads(e.value.response.body)
    assert set(body["error"]) >= {"code", "message"}
    return body["error"]


def batch_body(**sections):
    return json.dumps(sections)


async def test_every_route_requires_authentication(jp_fetch):
    for pattern, _handler in ROUTES:
        url = _sample_url(pattern)
        for method, body in (("GET", None), ("POST", b"{}"), ("PUT", b"x")):
            with pytest.raises(HTTPClientError) as e:
                await jp_fetch(url, method=method, body=body, headers={"Authorization": ""},
                               allow_nonstandard_methods=True)
            assert e.value.code == 401, (method, url, e.value.code)  # 403 is for a known user without the right
            assert e.value.response.headers.get("WWW-Authenticate", "").startswith("token")
            assert json.loads(e.value.response.body)["error"]["code"] == "unauthenticated"
            assert b"projects" not in (e.value.response.body or b"")
    # the widgets' static file: a page route, so an anonymous browser is sent to the login page
    for pattern, _handler in STATIC_ROUTES:
        url = re.sub(r"\(\?P<name>[^)]*\)", "plotly.min.js", pattern)
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch(url, headers={"Authorization": ""}, follow_redirects=False)
        assert e.value.code in (302, 403), (url, e.value.code)
        if e.value.code == 302:
            assert "/login" in e.value.response.headers["Location"]


async def test_openapi_lists_every_route(jp_fetch):
    doc = await fetch_json(jp_fetch, "mltrack", "api", "openapi.json")
    assert doc["openapi"].startswith("3.1")
    documented = set(doc["paths"])
    routed = set()
    for pattern, _ in ROUTES:
        if pattern.endswith("(?P<path>.*)"):
            continue  # the JSON 404 catch-all
        p = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).replace("\\.", ".")
        routed.add("/" + p)
    assert documented == routed
    assert document("x")["paths"].keys() == doc["paths"].keys()


async def test_write_and_read_back(jp_fetch):
    body = batch_body(
        runs=[{"id": "r1", "name": "first", "project": "House", "experiments": ["baseline"]}],
        params=[{"run_id": "r1", "key": "lr", "value": 0.1}, {"run_id": "r1", "key": "opt", "value": "adam"}],
        tags=[{"run_id": "r1", "key": "team", "value": "a"}],
        metrics=[
            {"run_id": "r1", "name": "loss", "context": {"subset": "train"}, "steps": [0, 1, 2],
             "values": [1.0, "NaN", 0.5]},
            {"run_id": "r1", "name": "acc", "values": [0.1, "Infinity"]},
        ],
    )
    w = await fetch_json(jp_fetch, "mltrack", "api", "batch", method="POST", body=body)
    assert w["written"]["points"] == 5 and w["written"]["params"] == 2

    projects = (await fetch_json(jp_fetch, "mltrack", "api", "projects"))["projects"]
    assert [p["name"] for p in projects] == ["House"] and projects[0]["run_count"] == 1
    exps = (await fetch_json(jp_fetch, "mltrack", "api", "experiments", params={"project": "House"}))["experiments"]
    assert [e["name"] for e in exps] == ["baseline"]

    runs = await fetch_json(jp_fetch, "mltrack", "api", "runs", params={"filter": "params.opt = 'adam'"})
    assert runs["total"] == 1
    r = runs["runs"][0]
    assert r["params"] == {"lr": 0.1, "opt": "adam"} and r["tags"] == {"team": "a"}
    acc = next(m for m in r["metrics"] if m["name"] == "acc")
    assert acc["last"] == "Infinity" and acc["count"] == 2

    run = await fetch_json(jp_fetch, "mltrack", "api", "runs", "r1")
    assert run["experiments"] == ["baseline"] and run["status"] == "running"

    s = await fetch_json(jp_fetch, "mltrack", "api", "runs", "r1", "metrics",
                         params={"name": "loss", "context": json.dumps({"subset": "train"})})
    assert s["steps"] == [0, 1, 2] and s["values"] == [1.0, "NaN", 0.5] and s["key"] == "loss[subset=train]"

    status = await fetch_json(jp_fetch, "mltrack", "api", "status")
    await jp_fetch("mltrack", "api", "batch", method="POST",
                   body=batch_body(updates=[{"run_id": "r1", "status": "finished", "end_time": 1e9}]))
    status2 = await fetch_json(jp_fetch, "mltrack", "api", "status")
    assert status["revision"] != status2["revision"]
    run = await fetch_json(jp_fetch, "mltrack", "api", "runs", "r1")
    assert run["status"] == "finished"


async def test_paging_and_order(jp_fetch):
    runs = [{"id": f"r{i:02d}", "start_time": 1000.0 + i} for i in range(25)]
    metrics = [{"run_id": f"r{i:02d}", "name": "acc", "values": [i / 25]} for i in range(25)]
    await jp_fetch("mltrack", "api", "batch", method="POST", body=batch_body(runs=runs, metrics=metrics))
    page = await fetch_json(jp_fetch, "mltrack", "api", "runs",
                            params={"limit": 10, "offset": 10, "order_by": "metrics.acc DESC"})
    assert page["total"] == 25 and [r["id"] for r in page["runs"]] == [f"r{i:02d}" for i in range(14, 4, -1)]
    newest = await fetch_json(jp_fetch, "mltrack", "api", "runs", params={"limit": 1})
    assert newest["runs"][0]["id"] == "r24"


async def test_table_view_of_the_run_list(jp_fetch):
    runs = [{"id": f"t{i:02d}", "name": f"n{i}", "project": "P", "experiments": ["e"], "start_time": 1000.0 + i}
            for i in range(12)]
    params = [{"run_id": f"t{i:02d}", "key": "lr", "value": i / 10} for i in range(12)]
    metrics = [{"run_id": f"t{i:02d}", "name": "acc", "context": {"subset": "val"}, "values": [0.0, i / 12]}
               for i in range(12)]
    metrics += [{"run_id": "t00", "name": "loss", "values": ["NaN"]}, {"run_id": "t01", "name": "loss", "values": ["-Infinity"]}]
    updates = [{"run_id": f"t{i:02d}", "status": "finished", "end_time": 2000.0} for i in range(0, 12, 2)]
    await jp_fetch("mltrack", "api", "batch", method="POST",
                   body=batch_body(runs=runs, params=params, metrics=metrics, updates=updates))
    full = await fetch_json(jp_fetch, "mltrack", "api", "runs", params={"limit": 100})
    table = await fetch_json(jp_fetch, "mltrack", "api", "runs", params={"limit": 100, "view": "table"})
    assert table["total"] == full["total"] == 12
    assert [r["id"] for r in table["runs"]] == [r["id"] for r in full["runs"]] == [f"t{i:02d}" for i in range(11, -1, -1)]
    for f, t in zip(full["runs"], table["runs"]):
        assert {k: v for k, v in t.items() if k != "metrics"} == {k: v for k, v in f.items() if k != "metrics"}
        assert t["metrics"] == {m["key"]: m["last"] for m in f["metrics"]}
    by_id = {r["id"]: r for r in table["runs"]}
    assert by_id["t03"]["metrics"] == {"acc[subset=val]": 3 / 12} and by_id["t03"]["params"] == {"lr": 0.3}
    assert by_id["t00"]["metrics"]["loss"] == "NaN" and by_id["t01"]["metrics"]["loss"] == "-Infinity"
    assert by_id["t02"]["status"] == "finished" and by_id["t03"]["status"] == "running"
    # filters, order and paging work the same in both views; a short page tells the total, a full one counts
    page = await fetch_json(jp_fetch, "mltrack", "api", "runs", params={
        "view": "table", "filter": "metrics.acc[subset=val] > 0.5", "order_by": "params.lr", "limit": 3, "offset": 2})
    assert page["total"] == 5 and [r["id"] for r in page["runs"]] == ["t09", "t10", "t11"]
    page = await fetch_json(jp_fetch, "mltrack", "api", "runs", params={"view": "table", "limit": 3, "offset": 30})
    assert page["total"] == 12 and page["runs"] == []
    page = await fetch_json(jp_fetch, "mltrack", "api", "runs", params={"limit": 0})
    assert page["total"] == 12 and page["runs"] == []
    err = await expect_error(jp_fetch, 400, "mltrack", "api", "runs", params={"view": "wide"})
    assert "view" in err["message"]


async def test_downsampled_series(jp_fetch):
    n = 100_000
    vals = np.sin(np.arange(n) / 1000.0)
    vals[5000] = 10.0  # a spike downsampling must keep
    body = msgpack.packb({"runs": [{"id": "big"}], "metrics": [{
        "run_id": "big", "name": "x", "steps": np.arange(n, dtype="<i8").tobytes(),
        "timestamps": np.full(n, 1.7e9, dtype="<f8").tobytes(), "values": vals.astype("<f8").tobytes()}]})
    await jp_fetch("mltrack", "api", "batch", method="POST", body=body,
                   headers={"Content-Type": "application/msgpack"})
    s = await fetch_json(jp_fetch, "mltrack", "api", "runs", "big", "metrics", params={"name": "x", "max_points": 500})
    assert s["downsampled"] and s["total_count"] == n and len(s["values"]) <= 500
    assert max(s["values"]) == 10.0 and s["steps"] == sorted(s["steps"])


async def test_malformed_requests_get_json_4xx(jp_fetch, server_store):
    api = ("mltrack", "api")
    err = await expect_error(jp_fetch, 400, *api, "batch", method="POST", body=b"{not json")
    assert err["code"] == "invalid" and "JSON" in err["message"]
    err = await expect_error(jp_fetch, 400, *api, "batch", method="POST", body=b"\xc1\xc1",
                             headers={"Content-Type": "application/msgpack"})
    assert "msgpack" in err["message"]
    err = await expect_error(jp_fetch, 400, *api, "batch", method="POST", body=b"[]")
    assert err["code"] == "invalid"
    err = await expect_error(jp_fetch, 400, *api, "batch", method="POST",
                             body=batch_body(runs=[{"id": "x y"}]))
    assert "run id" in err["message"]
    err = await expect_error(jp_fetch, 400, *api, "batch", method="POST",
                             body=batch_body(runs=[{"id": "ok"}], metrics=[{"run_id": "ok", "name": "m", "values": ["abc"]}]))
    assert "'abc'" in err["message"]
    # nothing of a refused batch was written
    assert server_store.search_runs()[1] == 0
    err = await expect_error(jp_fetch, 404, *api, "batch", method="POST",
                             body=batch_body(params=[{"run_id": "ghost", "key": "a", "value": 1}]))
    assert "ghost" in err["message"]
    await jp_fetch(*api, "batch", method="POST", body=batch_body(
        runs=[{"id": "r1"}], params=[{"run_id": "r1", "key": "lr", "value": 0.1}]))
    err = await expect_error(jp_fetch, 409, *api, "batch", method="POST", body=batch_body(
        params=[{"run_id": "r1", "key": "lr", "value": 0.2}], tags=[{"run_id": "r1", "key": "t", "value": "v"}]))
    assert err["code"] == "conflict" and err["items"][0]["key"] == "lr"
    assert server_store.get_run("r1")["tags"] == {}  # the whole batch was refused
    await expect_error(jp_fetch, 400, *api, "runs", params={"limit": "many"})
    await expect_error(jp_fetch, 400, *api, "runs", params={"limit": "100000"})
    err = await expect_error(jp_fetch, 400, *api, "runs", params={"filter": "metrics.acc >"})
    assert "search" in err["message"]
    await expect_error(jp_fetch, 404, *api, "runs", "nope")
    await expect_error(jp_fetch, 400, *api, "runs", "r1", "metrics")
    await expect_error(jp_fetch, 404, *api, "runs", "r1", "metrics", params={"name": "nothing"})
    await expect_error(jp_fetch, 400, *api, "runs", "r1", "metrics", params={"name": "x", "max_points": "2"})
    await expect_error(jp_fetch, 404, *api, "experiments", params={"project": "nope"})
    err = await expect_error(jp_fetch, 404, *api, "no", "such", "thing")
    assert "openapi" in err["message"]
    await expect_error(jp_fetch, 400, *api, "projects", method="POST", body=b'{"title": 1}')


async def test_artifacts_upload_and_download(jp_fetch):
    data = b"hello artifact\n" * 1000
    sha = hashlib.sha256(data).hexdigest()
    r = await fetch_json(jp_fetch, "mltrack", "api", "blobs", sha, method="PUT", body=data)
    assert r == {"sha256": sha, "size": len(data)}
    err = await expect_error(jp_fetch, 400, "mltrack", "api", "blobs", "1" * 64, method="PUT", body=data)
    assert "does not match" in err["message"]
    await jp_fetch("mltrack", "api", "batch", method="POST", body=batch_body(
        runs=[{"id": "r1"}],
        artifacts=[{"run_id": "r1", "name": "report", "type": "text",
                    "files": [{"path": "dir/report.txt", "sha256": sha, "size": len(data), "media_type": "text/plain"}]}]))
    run = await fetch_json(jp_fetch, "mltrack", "api", "runs", "r1")
    art = run["artifacts"][0]
    assert art["version"] == 1 and art["files"][0]["path"] == "dir/report.txt"
    resp = await jp_fetch("mltrack", "api", "artifacts", str(art["id"]), "files", "dir/report.txt",
                          params={"download": "1"})
    assert resp.body == data
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    await expect_error(jp_fetch, 404, "mltrack", "api", "artifacts", str(art["id"]), "files", "other.txt")
    # an artifact naming a blob that was never uploaded is refused
    err = await expect_error(jp_fetch, 404, "mltrack", "api", "batch", method="POST", body=batch_body(
        artifacts=[{"run_id": "r1", "name": "x", "files": [{"path": "a", "sha256": "2" * 64, "size": 1}]}]))
    assert "uploaded" in err["message"]


async def test_remote_client_logs_over_http(jp_fetch, jp_serverapp, jp_http_port, jp_base_url, server_store, tmp_path):
    """The kernel-side client in remote mode: the writer posts batches to the server's batch endpoint."""
    import jupyter_mltrack as R
    from jupyter_mltrack.client.tracking import reset

    token = jp_serverapp.identity_provider.token
    R.set_tracking_uri(f"http://127.0.0.1:{jp_http_port}{jp_base_url}?token={token}")
    loop = asyncio.get_running_loop()
    try:
        f = tmp_path / "model.bin"
        f.write_bytes(b"\x00weights" * 100)

        def work():
            with R.start_run("remote", project="Remote", params={"lr": 0.01}, capture_environment=False) as run:
                for i in range(1000):
                    run.log_metric("loss", 1 / (i + 1), context={"subset": "train"})
                run.log_metric("nan", float("nan"))
                run.set_tag("where", "http")
                run.log_artifact(f, type="model")
            R.flush()
            return run.id

        run_id = await loop.run_in_executor(None, work)
        stored = server_store.get_run(run_id)
        assert stored["status"] == "finished" and stored["params"] == {"lr": 0.01}
        assert stored["tags"] == {"where": "http"} and stored["project"] == "Remote"
        s = server_store.get_series(run_id, "loss", {"subset": "train"})
        assert s["total_count"] == 1000 and s["points"].values[-1] == pytest.approx(1 / 1000)
        assert [a["name"] for a in stored["artifacts"]] == ["model.bin"]
        df = await loop.run_in_executor(None, lambda: R.search_runs(project="Remote"))
        assert list(df["run_id"]) == [run_id] and df["metrics.loss[subset=train]"].iloc[0] == pytest.approx(0.001)
        assert np.isnan(df["metrics.nan"].iloc[0])
        hist = await loop.run_in_executor(None, lambda: R.get_run(run_id).metric_history("loss", {"subset": "train"}))
        assert len(hist) == 1000
        # the registry over HTTP: a model version is a batch's "models" item, listed by GET models
        v = await loop.run_in_executor(None, lambda: R.register_model("remote-model", run_id, artifact="model.bin",
                                                                      stage="candidate"))
        assert (v["name"], v["version"], v["run_id"], v["stage"]) == ("remote-model", 1, run_id, "candidate")
        models = await loop.run_in_executor(None, lambda: R.list_models("Remote"))
        assert list(models["version"]) == [1] and server_store.list_models("Remote")[0]["artifact_name"] == "model.bin"
    finally:
        await loop.run_in_executor(None, reset)


async def test_one_metric_of_many_runs(jp_fetch):
    runs = [{"id": f"r{i}"} for i in range(5)]
    metrics = [{"run_id": f"r{i}", "name": "loss", "context": {"subset": "val"}, "values": list(range(10 + i))}
               for i in range(4)]  # r4 has no such series
    await jp_fetch("mltrack", "api", "batch", method="POST", body=batch_body(runs=runs, metrics=metrics))
    r = await fetch_json(jp_fetch, "mltrack", "api", "metrics", params={
        "runs": "r3,r4,r0,nope", "name": "loss", "context": json.dumps({"subset": "val"}), "max_points": 5})
    assert [s["run_id"] for s in r["series"]] == ["r3", "r0"]
    assert r["series"][0]["total_count"] == 13 and len(r["series"][0]["values"]) <= 5
    assert max(r["series"][0]["values"]) == 12 and r["series"][1]["downsampled"]
    await expect_error(jp_fetch, 400, "mltrack", "api", "metrics", params={"name": "loss"})


async def test_plotly_js_is_served_for_the_widgets(jp_fetch):
    r = await jp_fetch("mltrack", "static", "plotly.min.js")
    assert r.headers["Content-Type"].startswith("text/javascript") and b"plotly" in r.body[:2000].lower()
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mltrack", "static", "other.js")
    assert e.value.code == 404


async def test_report_download(jp_fetch):
    await jp_fetch("mltrack", "api", "batch", method="POST", body=batch_body(
        runs=[{"id": "r1", "name": "first"}, {"id": "r2", "name": "second"}],
        params=[{"run_id": "r1", "key": "lr", "value": 0.1}, {"run_id": "r2", "key": "lr", "value": 0.2}],
        metrics=[{"run_id": "r1", "name": "loss", "values": [3, 2, 1]}, {"run_id": "r2", "name": "loss", "values": [4, 2]}]))
    r = await jp_fetch("mltrack", "api", "report", params={"runs": "r1,r2", "title": "Two runs"})
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Disposition"].startswith("attachment; filename=mltrack-2-runs.html")
    body = r.body.decode()
    assert "Two runs" in body and body.count('class="plotly-graph-div"') == 1 and "second" in body
    await expect_error(jp_fetch, 400, "mltrack", "api", "report")
    await expect_error(jp_fetch, 404, "mltrack", "api", "report", params={"runs": "r1,ghost"})


async def test_points_without_steps_continue_their_series(jp_fetch, server_store):
    await jp_fetch("mltrack", "api", "batch", method="POST", body=batch_body(runs=[{"id": "s1"}]))
    for v in (1.0, 2.0, 3.0):
        await jp_fetch("mltrack", "api", "batch", method="POST",
                       body=batch_body(metrics=[{"run_id": "s1", "name": "m", "values": [v]}]))
    await jp_fetch("mltrack", "api", "batch", method="POST",
                   body=batch_body(metrics=[{"run_id": "s1", "name": "m", "values": [4.0, 5.0]},
                                            {"run_id": "s1", "name": "m", "values": [6.0]}]))
    s = server_store.get_series("s1", "m")
    assert s["points"].steps.tolist() == [0, 1, 2, 3, 4, 5] and s["points"].values.tolist() == [1, 2, 3, 4, 5, 6]
