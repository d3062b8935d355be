"""A/B tests through a real Jupyter server: ``mlt.ab_test`` in remote mode (``POST deployments`` kind ab_test), the
server's authenticated front door (``mltrack/serve/{name}/predict|feedback|info``), ``POST
deployments/{name}/promote`` and its refusals, and a standalone A/B service recording its run over REST."""

from __future__ import annotations

import time

import pytest
import requests

import jupyter_mltrack as mlt
from jupyter_mltrack.serving.ab import ab_run_id

from .._server import JupyterServer
from ._ab import Service, make_store


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ab-rest")
    store = make_store(folder)
    with JupyterServer(folder, str(store)) as s:
        yield s


@pytest.fixture
def remote(server):
    mlt.set_tracking_uri(server.client_uri)
    yield server
    for d in mlt.deployments():
        mlt.undeploy(d["name"])
    mlt.set_alias("house@champion", 1, project="Houses")
    mlt.set_tracking_uri(None)


def _wait(cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_remote_ab_test_through_the_front_door_then_promote(remote):
    s = remote
    d = mlt.ab_test("house-ab", models={"house@champion": 0.5, "house@challenger": 0.5}, strategy="round_robin",
                    options={"record_interval": 1})
    assert d["status"] == "running" and d["url"] == "/mltrack/serve/house-ab" and d["run_id"]
    http = requests.Session()
    http.headers.update(s.headers)
    front = s.url + "mltrack/serve/house-ab/"
    assert requests.post(front + "predict", json={"inputs": [[1, 2, 3]]}, timeout=10).status_code in (401, 403)
    refs = []
    for _ in range(10):
        a = http.post(front + "predict", json={"inputs": [[1, 2, 3]]}, timeout=10).json()
        refs.append((a["ref"], a["version"]))
        r = http.post(front + "feedback", json={"request_id": a["request_id"], "reward": 1.0}, timeout=10)
        assert r.status_code == 200, r.text
    assert set(refs) == {("house@champion", 1), ("house@challenger", 2)}
    bad = http.post(front + "feedback", json={"request_id": a["request_id"], "reward": "high"}, timeout=10)
    assert bad.status_code == 400 and "reward" in bad.json()["error"]["message"]
    info = http.get(front + "info", timeout=10).json()
    assert {m["model"]: m["requests"] for m in info["router"]["models"]} == {"house@champion": 5,
                                                                              "house@challenger": 5}
    _wait(lambda: mlt.ab_results("house-ab").set_index("model")["reward_count"].sum() == 10)

    api = s.api + "deployments/house-ab/promote"
    for body, status, word in [({"model": "house@nobody"}, 400, "model"), ({"alias": "champion"}, 400, "model"),
                               ({"model": "house@challenger", "alias": "7"}, 400, "alias"),
                               ({"model": "house@challenger", "colour": 1}, 400, "colour")]:
        r = http.post(api, json=body, timeout=30)
        assert r.status_code == status and word in r.json()["error"]["message"], (body, r.text)
    assert http.post(s.api + "deployments/nobody/promote", json={"model": "house@challenger"},
                     timeout=30).status_code == 404
    assert http.post(api + "?project=Other", json={"model": "house@challenger"}, timeout=30).status_code == 404
    assert requests.post(api, json={"model": "house@challenger"}, timeout=30).status_code in (401, 403)

    r = http.post(api + "?project=Houses", json={"model": "house@challenger", "alias": "champion"}, timeout=60)
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["version"], done["alias"], done["name"]) == (2, "champion", "house")
    assert done["deployment"]["status"] == "stopped"
    assert mlt.get_model_version("house@champion")["version"] == 2
    run = mlt.get_run(d["run_id"])
    assert run.info["status"] == "finished" and run.tags["promoted"].startswith("house@challenger")
    assert http.post(front + "predict", json={"inputs": [[1, 2, 3]]}, timeout=10).status_code == 503


def test_remote_stop_ab_test(remote):
    d = mlt.ab_test("house-stop", models={"house@champion": 1, "house@challenger": 1}, strategy="epsilon_greedy",
                    options={"epsilon": 0.2})
    assert mlt.stop_ab_test("house-stop")["status"] == "stopped"
    assert mlt.get_run(d["run_id"]).info["status"] == "finished"


def test_a_standalone_service_records_its_run_over_rest(server, tmp_path):
    """The service is a client like a kernel: given the server's URL (and its token in the environment) it loads
    the models and writes its run through REST batches."""
    with Service(tmp_path, "ab-remote", "weighted", {"house@champion": 0.7, "house@challenger": 0.3},
                 {"seed": 3}, uri=server.url, env={"MLTRACK_TOKEN": server.token}) as svc:
        n = sum(1 for _ in range(30) if svc.predict())
        run_id = ab_run_id("Houses", "ab-remote")

        def recorded():
            r = requests.get(server.api + f"runs/{run_id}", headers=server.headers, timeout=10)
            if r.status_code != 200:
                return False
            last = {m["key"]: m["last"] for m in r.json()["metrics"]}
            return (last.get("requests[model=house@champion]", 0) + last.get("requests[model=house@challenger]", 0)
                    == n)

        _wait(recorded)
    r = requests.get(server.api + f"runs/{run_id}", headers=server.headers, timeout=10).json()
    assert r["status"] == "finished" and r["tags"]["kind"] == "ab_test"
