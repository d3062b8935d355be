"""GET runs/{run_id}/figures on a real Jupyter server: figures logged remotely through it (the client's HTTP
backend), listed, their bytes fetched through the artifact route, 404s, and team mode's viewer rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from .test_team import call, team_server  # noqa: F401 (the team-mode server fixture)


@pytest.fixture
def remote(module_server, monkeypatch):
    """The client logging through the module's server."""
    import jupyter_mltrack as R
    from jupyter_mltrack.client.tracking import reset

    monkeypatch.setenv("MLTRACK_URI", module_server.client_uri)
    R.set_tracking_uri(module_server.client_uri)
    yield R
    while R.active_run() is not None:
        R.active_run().end("killed")
    reset()


def get(server, path, **kw):
    return requests.get(server.api + path, headers=server.headers, timeout=30, **kw)


def test_figures_logged_over_http_are_listed_and_fetched(remote, module_server):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([1, 2, 3])
    with remote.start_run("figs", capture_environment=False) as run:
        for step in (0, 10):
            remote.log_image(np.full((3, 4), step * 20, dtype=np.uint8), "samples", step=step, context={"set": "val"})
        remote.log_figure(fig, "curve")
        remote.log_confusion_matrix([0, 1, 1], [0, 1, 0], labels=[0, 1])
    assert {f["key"] for f in run.figures} == {"samples[set=val]", "curve", "confusion_matrix"}  # Run.figures, remote

    r = get(module_server, f"runs/{run.id}/figures")
    assert r.status_code == 200, r.text
    figs = {f["key"]: f for f in r.json()["figures"]}
    assert [(f["name"], f["kind"]) for f in r.json()["figures"]] == [
        ("confusion_matrix", "confusion_matrix"), ("curve", "matplotlib"), ("samples", "image")]
    samples = figs["samples[set=val]"]
    assert samples["context"] == {"set": "val"} and [s["step"] for s in samples["steps"]] == [0, 10]
    f = samples["steps"][1]["files"][0]
    assert (f["path"], f["media_type"]) == ("image.png", "image/png")
    png = get(module_server, f["url"])
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG") and len(png.content) == f["size"]
    svg = get(module_server, f"artifacts/{figs['curve']['steps'][0]['artifact_id']}/files/figure.svg")
    assert svg.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in svg.content
    cm = get(module_server, f"artifacts/{figs['confusion_matrix']['steps'][0]['artifact_id']}/files/matrix.json")
    assert json.loads(cm.content) == {"labels": [0, 1], "counts": [[1, 0], [1, 1]], "normalize": None}

    # the run itself lists no figure artifacts
    assert get(module_server, f"runs/{run.id}").json()["artifacts"] == []
    # the server's report draws them (report/figures.py)
    report = get(module_server, "report", params={"runs": run.id, "download": "0"}).text
    assert '<figure class="mltrack-figure" data-figure="confusion_matrix"' in report
    assert 'data-figure="samples[set=val]"' in report and "data:image/png;base64," in report


def test_figures_404s(module_server):
    r = get(module_server, "runs/no-such-run/figures")
    assert r.status_code == 404 and r.json()["error"]["message"] == "no run 'no-such-run'"
    r = get(module_server, "artifacts/999999/files/image.png")
    assert r.status_code == 404
    assert get(module_server, "runs/" + "x" * 40 + "/figures").status_code == 404  # not a run id: no route


def test_figures_need_the_viewer_role_in_team_mode(team_server, tmp_path):  # noqa: F811
    import hashlib

    server, store, keys = team_server
    png = b"\x89PNG fake bytes"
    sha = hashlib.sha256(png).hexdigest()
    assert call(server, "PUT", f"blobs/{sha}", data=png).status_code in (200, 201)
    batch = {"runs": [{"id": "f1", "project": "A"}],
             "figures": [{"run_id": "f1", "name": "img", "kind": "image", "step": 1,
                          "files": [{"path": "image.png", "sha256": sha, "size": len(png), "media_type": "image/png"}]}]}
    assert call(server, "POST", "batch", json=batch).status_code == 200
    figs = call(server, "GET", "runs/f1/figures").json()["figures"]
    url = figs[0]["steps"][0]["files"][0]["url"]

    bob = keys["bob"]
    for path in ("runs/f1/figures", url):
        r = call(server, "GET", path, bob)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["message"].endswith("in project 'A' needs the role viewer; bob is not a member")
    r = call(server, "POST", "batch", bob, json={**batch, "runs": []})
    assert r.status_code == 403 and "needs the role contributor" in r.json()["error"]["message"]

    call(server, "PUT", "members", json={"project": "A", "user": "bob", "role": "viewer"})
    assert call(server, "GET", "runs/f1/figures", bob).json()["figures"] == figs
    assert call(server, "GET", url, bob).content == png
