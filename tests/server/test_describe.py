"""Campaigns and descriptions over REST on a real Jupyter server: GET/POST campaigns, descriptions through POST
projects/experiments/campaigns, a run's inline edit (PATCH runs/{run_id}), 4xx naming the field, and the team
roles (contributor for a run, an experiment or a campaign; owner for a project's description)."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from .test_team import call, team_server  # noqa: F401  (the team-mode server fixture)

API = "mltrack/api/"


async def _json(jp_fetch, path, method="GET", body=None, **kw):
    if body is not None:
        body = json.dumps(body)
    r = await jp_fetch(*(API + path).split("/"), method=method, body=body, allow_nonstandard_methods=True, **kw)
    return r.code, json.loads(r.body)


async def _error(jp_fetch, path, method, body, status=400) -> str:
    with pytest.raises(HTTPClientError) as e:
        await _json(jp_fetch, path, method, body)
    assert e.value.code == status, e.value.response.body
    return json.loads(e.value.response.body)["error"]["message"]


async def test_campaigns_and_descriptions_over_rest(jp_fetch):
    await _json(jp_fetch, "batch", "POST", {"runs": [{"id": "r1", "project": "P", "experiments": ["e"],
                                                      "campaigns": ["sweep"]}]})
    code, c = await _json(jp_fetch, "campaigns", "POST", {"project": "P", "name": "ablation",
                                                          "description": "does dropout matter?"})
    assert code == 201 and (c["name"], c["project"], c["description"], c["run_count"]) == (
        "ablation", "P", "does dropout matter?", 0)
    _, listed = await _json(jp_fetch, "campaigns", params={"project": "P"})
    assert [(x["name"], x["run_count"]) for x in listed["campaigns"]] == [("ablation", 0), ("sweep", 1)]
    # descriptions: the same POST routes, a description given replaces (an empty one clears)
    _, p = await _json(jp_fetch, "projects", "POST", {"name": "P", "description": "house prices"})
    assert p["description"] == "house prices"
    _, x = await _json(jp_fetch, "experiments", "POST", {"project": "P", "name": "e", "description": "baseline"})
    assert x["description"] == "baseline"
    _, c = await _json(jp_fetch, "campaigns", "POST", {"project": "P", "name": "sweep", "description": ""})
    assert c["description"] == "" and c["run_count"] == 1
    # a run's inline edit: description, name and tags in one batch
    _, run = await _json(jp_fetch, "runs/r1", "PATCH", {"description": "first try", "name": "rf",
                                                        "tags": {"team": "a"}})
    assert (run["description"], run["name"], run["tags"]) == ("first try", "rf", {"team": "a"})
    _, run = await _json(jp_fetch, "runs/r1", "PATCH", {"tags": {"team": None}})
    assert run["tags"] == {} and run["description"] == "first try"
    _, run = await _json(jp_fetch, "runs/r1", "PATCH", {"tags": {}})  # nothing to change: the run as it is
    assert run["name"] == "rf"
    _, run = await _json(jp_fetch, "runs/r1", "PATCH", {"tags": {"n": 3}})  # stored as JSON text, as in a batch
    assert run["tags"] == {"n": "3"}


@pytest.mark.parametrize("path, method, body, status, words", [
    ("campaigns", "POST", {"name": "c"}, 400, "missing 'project'"),
    ("campaigns", "POST", {"project": "P", "name": "c", "colour": "red"}, 400, "unknown field(s) colour"),
    ("campaigns", "POST", {"project": "P", "name": ""}, 400, "campaign"),
    ("campaigns", "POST", {"project": "P", "name": "c", "description": 3}, 400, "campaigns.description"),
    ("campaigns", "POST", ["c"], 400, "expected"),
    ("runs/r1", "PATCH", {"status": "killed"}, 400, "unknown field 'status'"),
    ("runs/r1", "PATCH", {}, 400, "nothing to change"),
    ("runs/r1", "PATCH", {"tags": "a"}, 400, "tags must be an object"),
    ("runs/r1", "PATCH", {"tags": {"": "x"}}, 400, "tag"),
    ("runs/r1", "PATCH", {"description": 1}, 400, "description must be a string"),
    ("runs/r1", "PATCH", {"name": "n" * 300}, 400, "updates.name"),
    ("runs/nope", "PATCH", {"description": "x"}, 404, "nope"),
    ("projects", "POST", {"name": "P", "description": ["x"]}, 400, "projects.description"),
])
async def test_bad_input_is_a_4xx_naming_the_field(jp_fetch, path, method, body, status, words):
    await _json(jp_fetch, "batch", "POST", {"runs": [{"id": "r1", "project": "P"}]})
    assert words in await _error(jp_fetch, path, method, body, status)


async def test_a_campaign_of_another_project_is_a_409(jp_fetch):
    await _json(jp_fetch, "campaigns", "POST", {"project": "P", "name": "c"})
    assert "belongs to project 'P'" in await _error(jp_fetch, "campaigns", "POST", {"project": "Q", "name": "c"}, 409)


def test_team_roles_for_descriptions_and_campaigns(team_server):  # noqa: F811
    server, store, keys = team_server
    assert call(server, "POST", "batch", json={"runs": [{"id": "a1", "project": "A", "experiments": ["e"],
                                                         "campaigns": ["c"]}]}).status_code == 200  # alice owns A
    for user, role in (("bob", "contributor"), ("carol", "viewer")):
        assert call(server, "PUT", "members", json={"project": "A", "user": user, "role": role}).status_code == 200
    bob, carol = keys["bob"], keys["carol"]
    # a contributor edits runs, experiments and campaigns …
    assert call(server, "PATCH", "runs/a1", bob, json={"description": "bob's", "tags": {"k": "v"}}).status_code == 200
    assert call(server, "POST", "experiments", bob, json={"project": "A", "name": "e",
                                                          "description": "bob's"}).status_code == 201
    assert call(server, "POST", "campaigns", bob, json={"project": "A", "name": "c",
                                                        "description": "bob's"}).status_code == 201
    # … not the project's description (owner), and a viewer nothing
    r = call(server, "POST", "projects", bob, json={"name": "A", "description": "bob's"})
    assert r.status_code == 403 and "needs the role owner; bob is a contributor" in r.json()["error"]["message"]
    for method, path, body in (("PATCH", "runs/a1", {"description": "x"}),
                               ("POST", "campaigns", {"project": "A", "name": "c", "description": "x"}),
                               ("POST", "experiments", {"project": "A", "name": "e", "description": "x"})):
        r = call(server, method, path, carol, json=body)
        assert r.status_code == 403 and "carol is a viewer" in r.json()["error"]["message"], (path, r.text)
    assert call(server, "POST", "projects", json={"name": "A", "description": "alice's"}).status_code == 201
    r = call(server, "GET", "campaigns?project=A", carol)
    assert r.status_code == 200 and [c["description"] for c in r.json()["campaigns"]] == ["bob's"]
    assert store.get_run("a1")["description"] == "bob's"
