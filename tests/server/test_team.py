"""Team mode over HTTP, on a real Jupyter server: who a request acts as (the token user, an API key), roles on
every route, the team routes, and a script outside Jupyter logging with an API key."""

from __future__ import annotations

import time

import pytest
import requests

from jupyter_mltrack.core import users as U
from jupyter_mltrack.core.store import Store

from .._server import JupyterServer


@pytest.fixture
def team_server(tmp_path, store_dir):
    """A team-mode server whose own token acts as alice; bob and carol log in with API keys; root is an admin."""
    store = Store(store_dir)
    store.add_user("root", admin=True)
    keys = {name: store.create_key(name if name != "root" else "root")["key"]
            for name in ("root",)}
    for name in ("bob", "carol"):
        store.add_user(name)
        keys[name] = store.create_key(name, label="laptop")["key"]
    server = JupyterServer(tmp_path, str(store_dir), args=("--MLTrackApp.access_control=True",
                                                           "--MLTrackApp.token_user=alice")).start()
    try:
        yield server, store, keys
    finally:
        server.stop()
        store.close()


def call(server, method, path, key=None, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else server.headers
    return requests.request(method, server.api + path, headers=headers, timeout=30, **kw)


def test_who_a_request_acts_as(team_server):
    server, store, keys = team_server
    assert call(server, "GET", "me").json() == {"access_control": True, "user": "alice", "admin": False,
                                                "authenticated_by": "jupyter"}
    assert call(server, "GET", "me", keys["bob"]).json() == {"access_control": True, "user": "bob", "admin": False,
                                                             "authenticated_by": "api_key"}
    assert call(server, "GET", "me", keys["root"]).json()["admin"] is True
    assert "alice" in [u["name"] for u in store.list_users()]  # created on first sight


@pytest.mark.parametrize("header", [
    "Bearer mltk_1_" + "A" * 43,  # a well-formed key nobody holds
    "Bearer mltk_garbage",
    "Bearer " + "x" * 40,  # neither a key nor the server's token
])
def test_unknown_keys_are_401(team_server, header):
    server, *_ = team_server
    r = requests.get(server.api + "runs", headers={"Authorization": header}, timeout=30)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthenticated"


def test_revoked_and_expired_keys_are_401(team_server):
    server, store, keys = team_server
    bob_key = store.list_keys("bob")[0]
    assert call(server, "GET", "runs", keys["bob"]).status_code == 200
    r = call(server, "DELETE", f"keys/{bob_key['id']}", keys["bob"])
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = call(server, "GET", "runs", keys["bob"])
    assert (r.status_code, r.json()["error"]["message"]) == (401, "unknown, revoked or expired API key")
    old = store.db.write(lambda conn: U.create_key(conn, "carol", "old", 1, now=time.time() - 2 * 86400))
    assert call(server, "GET", "runs", old["key"]).status_code == 401


def test_roles_over_http(team_server):
    server, store, keys = team_server
    batch = {"runs": [{"id": "a1", "project": "A", "user": "mallory"}],
             "params": [{"run_id": "a1", "key": "lr", "value": 0.1}],
             "metrics": [{"run_id": "a1", "name": "loss", "values": [1.0, 0.5]}]}
    assert call(server, "POST", "batch", json=batch).status_code == 200
    assert [(p["name"], p["role"]) for p in call(server, "GET", "projects").json()["projects"]] == [("A", "owner")]
    assert call(server, "GET", "runs/a1").json()["user"] == "alice"

    bob = keys["bob"]
    assert call(server, "GET", "projects", bob).json() == {"projects": []}
    assert call(server, "GET", "runs", bob).json()["total"] == 0
    assert call(server, "GET", "runs", bob, params={"filter": "id = 'a1'"}).json()["total"] == 0
    for path, params in [("runs/a1", None), ("runs/a1/metrics", {"name": "loss"}), ("metrics", {"runs": "a1", "name": "loss"}),
                         ("runs", {"project": "A"}), ("members", {"project": "A"}), ("report", {"runs": "a1"}),
                         ("diff", {"a": "a1", "b": "a1"})]:
        r = call(server, "GET", path, bob, params=params)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["message"].endswith("in project 'A' needs the role viewer; bob is not a member"), path
    r = call(server, "POST", "batch", bob, json={"params": [{"run_id": "a1", "key": "x", "value": 1}]})
    assert r.status_code == 403 and "needs the role contributor; bob is not a member" in r.json()["error"]["message"]

    # alice makes bob a viewer: he reads, and still may not write
    r = call(server, "PUT", "members", json={"project": "A", "user": "bob", "role": "viewer"})
    assert r.json() == {"project": "A", "user": "bob", "role": "viewer"}
    assert call(server, "GET", "runs/a1", bob).json()["params"] == {"lr": 0.1}
    assert call(server, "GET", "runs/a1/metrics", bob, params={"name": "loss"}).json()["values"] == [1.0, 0.5]
    r = call(server, "POST", "batch", bob, json={"params": [{"run_id": "a1", "key": "x", "value": 1}]})
    assert r.status_code == 403 and r.json()["error"]["message"].endswith("needs the role contributor; bob is a viewer")
    r = call(server, "PUT", "members", bob, json={"project": "A", "user": "carol", "role": "viewer"})
    assert r.status_code == 403 and "needs the role owner; bob is a viewer" in r.json()["error"]["message"]
    assert call(server, "GET", "members", bob, params={"project": "A"}).json()["members"] == [
        {"user": "alice", "role": "owner"}, {"user": "bob", "role": "viewer"}]

    # a contributor writes; the last owner stays
    call(server, "PUT", "members", json={"project": "A", "user": "bob", "role": "contributor"})
    assert call(server, "POST", "batch", bob, json={"params": [{"run_id": "a1", "key": "x", "value": 1}]}).status_code == 200
    r = call(server, "DELETE", "members", params={"project": "A", "user": "alice"})
    assert r.status_code == 409 and "last owner" in r.json()["error"]["message"]
    assert call(server, "DELETE", "members", params={"project": "A", "user": "bob"}).status_code == 204
    assert call(server, "GET", "runs/a1", bob).status_code == 403

    # admins see everything and collect garbage; others may not
    assert call(server, "GET", "runs", keys["root"]).json()["total"] == 1
    assert call(server, "POST", "gc", json={"dry_run": True}).status_code == 403
    assert call(server, "POST", "gc", keys["root"], json={"dry_run": True}).status_code == 200


def test_users_and_keys_routes(team_server):
    server, store, keys = team_server
    r = call(server, "GET", "users")
    assert r.status_code == 403 and r.json()["error"]["message"] == "listing users needs an admin; alice is not one"
    r = call(server, "POST", "users", keys["root"], json={"name": "dana", "email": "d@example.com"})
    assert r.status_code == 201 and r.json()["name"] == "dana"
    assert call(server, "POST", "users", keys["root"], json={"name": "dana"}).status_code == 409
    r = call(server, "POST", "users", keys["root"], json={"name": "erin", "role": "x"})
    assert r.status_code == 400 and "unknown field 'role'" in r.json()["error"]["message"]

    r = call(server, "POST", "keys", json={"label": "ci", "expires_days": 7})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    new = r.json()
    assert new["user"] == "alice" and new["key"].startswith("mltk_")
    listed = call(server, "GET", "keys").json()["keys"]
    assert [k["label"] for k in listed] == ["ci"] and all("key" not in k for k in listed)
    assert call(server, "GET", "me", new["key"]).json()["user"] == "alice"
    r = call(server, "GET", "keys", keys["bob"], params={"user": "alice"})
    assert r.status_code == 403 and "another user needs an admin" in r.json()["error"]["message"]
    r = call(server, "POST", "keys", json={"expires_days": 0})
    assert r.status_code == 400 and "expires_days" in r.json()["error"]["message"]
    r = call(server, "DELETE", f"keys/{new['id']}", keys["bob"])
    assert r.status_code == 403
    assert call(server, "DELETE", f"keys/{new['id']}").status_code == 200
    assert call(server, "GET", "me", new["key"]).status_code == 401
    # the secret is nowhere in the server's log
    assert new["key"].split("_", 2)[2] not in server.log()


def test_a_script_outside_jupyter_logs_with_an_api_key(team_server, run_py):
    server, store, keys = team_server
    code = """
        import jupyter_mltrack as mlt
        run = mlt.start_run("from a script", project="B")
        run.log_param("lr", 0.3)
        run.log_metric("loss", 0.25)
        run.end()
        mlt.flush()
        print(run.id)
    """
    r = run_py(code, env={"MLTRACK_URI": server.url, "MLTRACK_API_KEY": keys["bob"]})
    run_id = r.stdout.strip().splitlines()[-1]
    run = store.get_run(run_id)
    assert (run["user"], run["project"], run["params"], run["status"]) == ("bob", "B", {"lr": 0.3}, "finished")
    assert store.list_members("B") == [{"user": "bob", "role": "owner"}]
    # carol may not write to bob's project: the script fails loudly, nothing is stored
    r = run_py(code, env={"MLTRACK_URI": server.url, "MLTRACK_API_KEY": keys["carol"]}, check=False)
    assert r.returncode != 0 and "needs the role contributor; carol is not a member" in r.stderr
    assert store.search_runs(project="B")[1] == 1


def test_team_routes_say_how_to_switch_team_mode_on(tmp_path, store_dir):
    with JupyterServer(tmp_path, str(store_dir)) as server:
        r = call(server, "GET", "users")
        assert r.status_code == 404 and "--MLTrackApp.access_control=True" in r.json()["error"]["message"]
        me = call(server, "GET", "me").json()
        assert me["access_control"] is False and me["admin"] is None
        # an API key means nothing without team mode
        store = Store(store_dir)
        try:
            store.add_user("bob")
            key = store.create_key("bob")["key"]
        finally:
            store.close()
        assert call(server, "GET", "runs", key).status_code == 401


def test_the_command_line_through_a_server_acts_as_the_caller(team_server, monkeypatch, capsys):
    from jupyter_mltrack.cli import main
    from jupyter_mltrack.client.tracking import reset

    server, store, keys = team_server
    monkeypatch.setenv("MLTRACK_API_KEY", keys["bob"])
    try:
        assert main(["--uri", server.url, "users", "list"]) == 2
        assert capsys.readouterr().err == "mltrack: listing users needs an admin; bob is not one\n"
        assert main(["--uri", server.url, "keys", "create", "bob", "--name", "ci"]) == 0
        key = capsys.readouterr().out.strip()
        assert store.verify_key(key).name == "bob"
        reset()
        monkeypatch.setenv("MLTRACK_API_KEY", keys["root"])
        assert main(["--uri", server.url, "users", "add", "dana"]) == 0
        assert main(["--uri", server.url, "users", "list"]) == 0
        assert capsys.readouterr().out.splitlines()[-4:] == ["bob", "carol", "dana", "root  admin"]
    finally:
        reset()
