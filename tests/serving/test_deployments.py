"""Deployments managed by the server extension, over real HTTP against real Jupyter servers: deploy, list, predict
through the server's front door, stop, start, restart, delete; a server restart adopting the service still running
or recording stopped the one whose process died; team mode's roles; ``mlt.deploy`` embedded."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from jupyter_mltrack.core.store import Store

from .._server import JupyterServer
from ._models import V1, V2, register_house, wait_health

ROWS = {"inputs": [{"sqft": 2, "rooms": 1}]}


def call(server, method, path, key=None, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else server.headers
    return requests.request(method, server.api + path, headers=headers, timeout=180, **kw)


def serve(server, name, endpoint="predict", key=None, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else server.headers
    method = "POST" if endpoint in ("predict", "feedback") else "GET"
    return requests.request(method, f"{server.url}mltrack/serve/{name}/{endpoint}", headers=headers, timeout=60,
                            **kw)


def gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def server(tmp_path, store_dir):
    register_house(str(store_dir))
    s = JupyterServer(tmp_path, str(store_dir)).start()
    yield s
    for d in requests.get(s.api + "deployments", headers=s.headers, timeout=60).json().get("deployments", []):
        if d["status"] == "running":
            call(s, "POST", f"deployments/{d['name']}/stop")
    s.stop()


@pytest.mark.timeout(600)  # several service processes and server starts on a shared machine
def test_deploy_list_predict_stop_start_restart_delete(server):
    r = call(server, "POST", "deployments", json={"name": "house-api", "project": "P", "model": "house@champion"})
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["status"], d["kind"], d["model"], d["version"], d["run_id"]) == ("running", "model", "house", 1, None)
    assert d["models"] == {"house@champion": 1.0} and d["strategy"] is None and d["error"] == ""
    assert d["url"] == "/mltrack/serve/house-api" and d["service_url"] == f"http://127.0.0.1:{d['port']}"
    assert requests.get(d["service_url"] + "/health", timeout=30).json()["name"] == "house-api"

    r = serve(server, "house-api", json=ROWS)
    assert r.status_code == 200 and r.json()["predictions"] == pytest.approx([V1(2, 1)]), r.text
    r = serve(server, "house-api", json={"inputs": [{"sqft": 2}]})  # the service's 4xx comes back as it is
    assert r.status_code == 400 and r.json()["error"]["field"] == "rooms"
    assert serve(server, "house-api", "info").json()["name"] == "house-api"
    assert serve(server, "house-api", "health").json()["status"] == "ok"
    assert serve(server, "house-api", "predict", data=b"{").status_code == 400
    anonymous = requests.post(f"{server.url}mltrack/serve/house-api/predict", json=ROWS, timeout=30)
    assert anonymous.status_code in (401, 403)

    listed = call(server, "GET", "deployments", params={"project": "P"}).json()["deployments"]
    assert [(x["name"], x["status"], x["port"]) for x in listed] == [("house-api", "running", d["port"])]
    assert call(server, "GET", "deployments", params={"project": "Other"}).status_code == 404
    assert call(server, "GET", "deployments/house-api", params={"project": "P"}).json()["pid"] == d["pid"]
    assert call(server, "GET", "deployments/house-api", params={"project": "Q"}).status_code == 404
    assert call(server, "GET", "deployments/nope").status_code == 404

    r = call(server, "POST", "deployments", json={"name": "house-api", "project": "P", "model": "house@1"})
    assert r.status_code == 409
    r = call(server, "POST", "deployments", json={"name": "x", "project": "P", "model": "house@nope"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    r = call(server, "POST", "deployments", json={"name": "bad name", "project": "P", "model": "house"})
    assert r.status_code == 400 and "name" in r.json()["error"]["message"]
    r = call(server, "POST", "deployments", json={"name": "x", "project": "P"})
    assert r.status_code == 400 and "'model'" in r.json()["error"]["message"]

    r = call(server, "POST", "deployments/house-api/stop")
    assert r.status_code == 200 and (r.json()["status"], r.json()["port"], r.json()["pid"]) == ("stopped", None, None)
    assert gone(d["pid"])
    r = serve(server, "house-api", json=ROWS)
    assert r.status_code == 503 and "stopped" in r.json()["error"]["message"]
    r = call(server, "POST", "deployments/house-api/start")
    assert r.json()["status"] == "running" and r.json()["pid"] != d["pid"]
    assert serve(server, "house-api", json=ROWS).status_code == 200

    # the alias moves: a restart serves the new version at once (a running service follows within poll_interval)
    st = Store(server.store_uri)
    st.write_batch({"aliases": [{"project": "P", "model": "house", "alias": "champion", "version": 2}]})
    st.close()
    r = call(server, "POST", "deployments/house-api/restart")
    assert (r.json()["status"], r.json()["version"]) == ("running", 2)
    assert serve(server, "house-api", json=ROWS).json()["predictions"] == pytest.approx([V2(2, 1)])

    r = call(server, "DELETE", "deployments/house-api")
    assert r.status_code == 204
    assert call(server, "GET", "deployments").json()["deployments"] == []
    assert serve(server, "house-api", json=ROWS).status_code == 404




@pytest.mark.timeout(600)  # several service processes and server starts on a shared machine
def test_server_restart_adopts_a_live_service_and_marks_a_dead_one_stopped(server):
    for name in ("keep", "lost"):
        r = call(server, "POST", "deployments", json={"name": name, "project": "P", "model": "house@champion"})
        assert r.json()["status"] == "running", r.text
    keep = call(server, "GET", "deployments/keep").json()
    lost = call(server, "GET", "deployments/lost").json()
    server.stop()  # a clean stop leaves the services running
    assert requests.get(keep["service_url"] + "/health", timeout=30).status_code == 200
    os.killpg(lost["pid"], signal.SIGKILL)
    assert gone(lost["pid"])
    server.start()
    listed = {d["name"]: d for d in call(server, "GET", "deployments").json()["deployments"]}
    assert (listed["keep"]["status"], listed["keep"]["pid"], listed["keep"]["port"]) == \
        ("running", keep["pid"], keep["port"])
    assert listed["lost"]["status"] == "stopped" and listed["lost"]["pid"] is None
    assert "not running when the server started" in listed["lost"]["error"]
    assert serve(server, "keep", json=ROWS).status_code == 200
    assert serve(server, "lost", json=ROWS).status_code == 503
    # a service that dies while the server runs is recorded failed
    os.killpg(keep["pid"], signal.SIGKILL)
    assert gone(keep["pid"])
    d = call(server, "GET", "deployments/keep").json()
    assert d["status"] == "failed" and "exited" in d["error"]


@pytest.fixture
def team_server(tmp_path, store_dir):
    """A team-mode server whose own token acts as alice (owner of P); bob is a viewer of P, carol no member."""
    register_house(str(store_dir))
    store = Store(store_dir)
    keys = {}
    for name in ("bob", "carol"):
        store.add_user(name)
        keys[name] = store.create_key(name, label="laptop")["key"]
    store.add_user("alice")
    store.set_member("P", "alice", "owner")
    store.set_member("P", "bob", "viewer")
    server = JupyterServer(tmp_path, str(store_dir), args=("--MLTrackApp.access_control=True",
                                                           "--MLTrackApp.token_user=alice")).start()
    try:
        yield server, keys
    finally:
        for d in call(server, "GET", "deployments").json().get("deployments", []):
            if d["status"] == "running":
                call(server, "POST", f"deployments/{d['name']}/stop")
        server.stop()
        store.close()


@pytest.mark.timeout(600)  # several service processes and server starts on a shared machine
def test_team_mode_viewers_predict_contributors_deploy(team_server):
    server, keys = team_server
    bob, carol = keys["bob"], keys["carol"]
    body = {"name": "house-api", "project": "P", "model": "house@champion"}
    r = call(server, "POST", "deployments", bob, json=body)
    assert r.status_code == 403 and "needs the role contributor; bob is a viewer" in r.json()["error"]["message"]
    r = call(server, "POST", "deployments", json=body)  # alice, the owner
    assert r.status_code == 201 and r.json()["status"] == "running", r.text

    assert serve(server, "house-api", key=bob, json=ROWS).status_code == 200  # a viewer may predict
    assert [d["name"] for d in call(server, "GET", "deployments", bob).json()["deployments"]] == ["house-api"]
    for action in ("stop", "restart", "start"):
        r = call(server, "POST", f"deployments/house-api/{action}", bob)
        assert r.status_code == 403 and "needs the role contributor" in r.json()["error"]["message"], action
    assert call(server, "DELETE", "deployments/house-api", bob).status_code == 403

    r = serve(server, "house-api", key=carol, json=ROWS)  # no member of P: refused, the service never called
    assert r.status_code in (403, 404) and "carol is not a member" in r.json()["error"]["message"]
    assert serve(server, "house-api", "info", key=carol).status_code in (403, 404)
    assert call(server, "GET", "deployments", carol).json()["deployments"] == []
    assert call(server, "GET", "deployments/house-api", carol).status_code in (403, 404)
    assert serve(server, "house-api", key="mltk_wrong", json=ROWS).status_code == 401

    assert call(server, "POST", "deployments/house-api/stop").json()["status"] == "stopped"


def test_embedded_deploy_list_undeploy(tracking, store_dir):
    """Embedded: mlt.deploy starts the service process itself and records it in the store."""
    R = tracking
    register_house(str(store_dir))
    d = R.deploy("house@champion", name="house-api", poll_interval=0.2)
    try:
        assert (d["status"], d["project"], d["version"]) == ("running", "P", 1), d["error"]
        assert d["url"] == f"http://127.0.0.1:{d['port']}"
        r = requests.post(d["url"] + "/predict", json=ROWS, timeout=30)
        assert r.json()["predictions"] == pytest.approx([V1(2, 1)])
        assert [x["name"] for x in R.deployments()] == ["house-api"]
        R.set_alias("house@champion", 2)  # the service follows the alias within its poll interval
        deadline = time.monotonic() + 60
        while requests.get(d["url"] + "/health", timeout=30).json()["models"][0]["version"] != 2:
            assert time.monotonic() < deadline, "the service did not follow the alias"
            time.sleep(0.2)
        assert R.get_deployment("house-api")["version"] == 2  # read from the service, recorded
    finally:
        R.undeploy("house-api")
    assert gone(d["pid"])
    assert R.deployments() == []
