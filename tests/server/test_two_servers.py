"""The team set-up for real: two Jupyter servers (two users) in team mode on one PostgreSQL database and one
S3-compatible object store. What one user logs the other sees — under the roles the project's owner gives."""

from __future__ import annotations

import pytest
import requests

from .._server import JupyterServer

LOG = """
    import sys
    import jupyter_mltrack as mlt
    run = mlt.start_run(sys.argv[1], project=sys.argv[2])
    run.log_param("n_estimators", 100)
    for step, loss in enumerate([0.9, 0.5, 0.3]):
        run.log_metric("loss", loss, step=step)
    run.log_text("the model's weights", name="model", path="model.txt")
    run.end()
    mlt.flush()
    print(run.id)
"""


@pytest.fixture
def two_servers(tmp_path, pg_url, s3_artifacts):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    team = ("--MLTrackApp.access_control=True",)
    a = JupyterServer(tmp_path / "a", pg_url, args=team + ("--MLTrackApp.token_user=alice",))
    b = JupyterServer(tmp_path / "b", pg_url, args=team + ("--MLTrackApp.token_user=bob",))
    with a, b:
        yield a, b


def get(server, path, **params):
    return requests.get(server.api + path, headers=server.headers, params=params, timeout=30)


def test_what_one_logs_the_other_sees_under_roles(two_servers, run_py, s3_server, s3_artifacts):
    a, b = two_servers
    run_id = run_py(LOG, "alice's forest", "forests", env={"MLTRACK_URI": a.client_uri}).stdout.split()[-1]

    # bob, on his own server, is not a member of alice's project: nothing of it shows, and asking is refused
    assert get(b, "runs").json()["total"] == 0
    assert get(b, "projects").json()["projects"] == []
    r = get(b, f"runs/{run_id}")
    assert r.status_code == 403 and r.json()["error"]["message"].endswith(
        "in project 'forests' needs the role viewer; bob is not a member")

    # alice makes him a viewer (on her server): he reads everything — run, series, the artifact's bytes from S3
    r = requests.put(a.api + "members", headers=a.headers, json={"project": "forests", "user": "bob", "role": "viewer"},
                     timeout=30)
    assert r.status_code == 200
    run = get(b, f"runs/{run_id}").json()
    assert (run["user"], run["params"], run["status"]) == ("alice", {"n_estimators": 100}, "finished")
    assert get(b, f"runs/{run_id}/metrics", name="loss").json()["values"] == [0.9, 0.5, 0.3]
    art = next(x for x in run["artifacts"] if x["name"] == "model")
    r = get(b, f"artifacts/{art['id']}/files/model.txt")
    assert r.status_code == 200 and r.content == b"the model's weights"
    bucket = s3_artifacts.split("/")[2]
    sha = art["files"][0]["sha256"]
    assert f"team/artifacts/{sha[:2]}/{sha[2:]}" in s3_server.keys(bucket)  # stored in the object store

    # a viewer may not log into the project
    r = run_py(LOG, "bob's try", "forests", env={"MLTRACK_URI": b.client_uri}, check=False)
    assert r.returncode != 0 and "needs the role contributor; bob is a viewer" in r.stderr
    assert get(a, "runs", project="forests").json()["total"] == 1

    # as a contributor he does, and alice sees his run on her server
    requests.put(a.api + "members", headers=a.headers, json={"project": "forests", "user": "bob",
                                                             "role": "contributor"}, timeout=30)
    bob_run = run_py(LOG, "bob's forest", "forests", env={"MLTRACK_URI": b.client_uri}).stdout.split()[-1]
    seen = {r["id"]: r["user"] for r in get(a, "runs", project="forests").json()["runs"]}
    assert seen == {run_id: "alice", bob_run: "bob"}
    # his own project stays his
    run_py(LOG, "private", "bobs-sandbox", env={"MLTRACK_URI": b.client_uri})
    assert [p["name"] for p in get(a, "projects").json()["projects"]] == ["forests"]
    assert sorted((p["name"], p["role"]) for p in get(b, "projects").json()["projects"]) == [
        ("bobs-sandbox", "owner"), ("forests", "contributor")]


def test_a_team_server_without_a_shared_artifact_location_refuses_to_start(tmp_path, pg_url, monkeypatch):
    monkeypatch.delenv("MLTRACK_ARTIFACTS", raising=False)
    server = JupyterServer(tmp_path, pg_url, args=("--MLTrackApp.access_control=True",))
    with pytest.raises(RuntimeError):
        server.start(timeout=30)
    assert "team mode on <Store postgresql+psycopg://" in server.log()
    assert "needs a shared artifact location: set MLTRACK_ARTIFACTS=s3://bucket/prefix" in server.log()
