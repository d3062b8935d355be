"""The role matrix of team mode, generated from the route table: every route of ``ROUTES`` and ``STATIC_ROUTES`` ×
every method its handler serves × every kind of caller, against one real Jupyter server in team mode.

Each (route, method) has a rule in :data:`RULES` (several for ``POST batch``: one per section): the least
standing that may make the request (``authenticated``, ``viewer``/``contributor``/``owner`` of project P, ``admin``,
``self`` — the user the request is about, or an admin — or ``jupyter``: a Jupyter session, not an API key) and a
sample request aimed at P's resources (its run, its artifact, its name), so that the role decides. A route or a
method added to the table without a rule fails :func:`test_every_route_and_method_has_a_rule`, and the matrix
itself, until one is added here; a batch section without a sample fails :func:`test_every_batch_section_has_a_sample`.

Callers: anonymous, an unknown key, a revoked key and an expired key (both of the admin: only the key's state
refuses them) → 401 everywhere; Q's owner (a member of another project), P's viewer, contributor and owner (the
server's own token user) and an admin (a member of nothing). Below the rule → 403 whose message names the role
needed; at or above → the rule's status.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import requests
import tornado.web

from jupyter_mltrack.core import users as U
from jupyter_mltrack.core.access import RANK
from jupyter_mltrack.core.sections import SECTIONS
from jupyter_mltrack.core.store import Store
from jupyter_mltrack.server.handlers import ROUTES, STATIC_ROUTES

from .._server import JupyterServer

P, Q = "pegasus", "quokka"
#: strings that only P's data holds: none may reach Q's member
P_MARKERS = (P, "prun", "p_secret", "p_loss", "p_exp", "p_model", "p_weights", "p_tag", "p_data")
Q_MARKERS = (Q, "qrun", "q_param", "q_loss", "q_exp", "q_model", "q_data")
HELLO = b"hello"
HELLO_SHA = hashlib.sha256(HELLO).hexdigest()
ADMIN_MSG = "needs an admin; {user} is not one"


# -- the callers -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    user: str | None  # None: not authenticated (every request is 401)
    role: str | None = None  # role in P
    admin: bool = False
    jupyter: bool = False  # authenticated by the server's token, not by an API key


CALLERS = [
    Caller("anonymous", None),
    Caller("unknown key", None),
    Caller("revoked key", None),
    Caller("expired key", None),
    Caller("Q's member", "quinn"),
    Caller("viewer", "vera", "viewer"),
    Caller("contributor", "carl", "contributor"),
    Caller("owner", "olga", "owner", jupyter=True),
    Caller("admin", "root", admin=True),
]
KEY_OWNER = "carl"  # whose keys the keys routes are about ("self")


# -- the world: one server, P and Q ----------------------------------------------------------------------------------


@dataclass
class World:
    server: JupyterServer
    store: Store
    headers: dict[str, dict[str, str]]  # caller name → headers
    artifact_id: int
    q_artifact_id: int
    sessions: dict[str, requests.Session] = field(default_factory=dict)

    def request(self, caller: Caller, method: str, path: str, **kw) -> requests.Response:
        s = self.sessions.get(caller.name)
        if s is None:  # one connection per caller, and no cookie ever carried from one request to the next
            s = self.sessions[caller.name] = requests.Session()
            s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        return s.request(method, self.server.url + path, headers=self.headers[caller.name], timeout=60,
                         allow_redirects=False, **kw)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("role-matrix")
    store_dir = folder / "store"
    store_dir.mkdir()
    store = Store(store_dir)
    store.add_user("root", admin=True)
    for name in ("olga", "vera", "carl", "quinn", "dana"):
        store.add_user(name)
    actor = {name: store.actor(name, create=False) for name in ("olga", "quinn")}

    def project(owner: str, name: str, run_ids: list[str], param: str, metric: str, exp: str, art: str, model: str):
        a = actor[owner]
        store.write_batch({
            "experiments": [{"project": name, "name": exp}],
            "runs": [{"id": r, "project": name, "experiments": [exp], "name": f"{r}-name"} for r in run_ids],
            "params": [{"run_id": r, "key": param, "value": 1} for r in run_ids],
            "tags": [{"run_id": run_ids[0], "key": f"{name[0]}_tag", "value": "t"}],
            "metrics": [{"run_id": r, "name": metric, "values": [1.0, 0.5, 0.25]} for r in run_ids],
        }, a)
        sha, size = store.blobs.put_bytes(b"weights of " + name.encode())
        store.write_batch({"artifacts": [{"run_id": run_ids[0], "name": art, "type": "model",
                                          "files": [{"path": "weights.txt", "sha256": sha, "size": size,
                                                     "media_type": "text/plain"}]}]}, a)
        aid = store.find_artifact(run_ids[0], art, actor=a)["id"]
        store.register_model(name, model, aid, actor=a)
        sha, size = store.blobs.put_bytes(b"data of " + name.encode())
        store.write_batch({"datasets": [{"project": name, "name": f"{name[0]}_data", "run_id": run_ids[0],
                                         "kind": "file", "files": [{"path": "data.csv", "sha256": sha,
                                                                    "size": size}]}]}, a)
        return aid

    aid = project("olga", P, ["prun1", "prun2"], "p_secret", "p_loss", "p_exp", "p_weights", "p_model")
    qaid = project("quinn", Q, ["qrun1"], "q_param", "q_loss", "q_exp", "q_weights", "q_model")
    for user, role in (("vera", "viewer"), ("carl", "contributor")):
        store.set_member(P, user, role)
    assert store.list_members(Q) == [{"user": "quinn", "role": "owner"}]

    (folder / "p_job.py").write_text("print('p_job ran')\n")
    store.create_job({"name": "p-job", "script": str(folder / "p_job.py"), "project": P}, actor=actor["olga"])
    store.create_job({"name": "q-job", "script": str(folder / "p_job.py"), "project": Q}, actor=actor["quinn"])
    from jupyter_mltrack.jobs.runner import run_here

    run_here(store, store.run_job("p-job"))  # an execution with a run and a log
    from jupyter_mltrack.core.deployments import DeploymentRows

    # an A/B test of P that is not running (promoting it moves an alias and records it stopped: no process needed)
    DeploymentRows(store).create("p-ab", P, "ab_test", {"name": "p-ab", "project": P, "kind": "ab_test",
                                                        "models": {"p_model@1": 1.0}, "strategy": "weighted"},
                                 actor["olga"])
    # a model service of P, stopped: its model's file is no model, so starting it fails fast (a process, no service)
    DeploymentRows(store).create("p-svc", P, "model", {"name": "p-svc", "project": P, "kind": "model",
                                                       "models": {"p_model@1": 1.0}}, actor["olga"])
    keys = {name: store.create_key(name, label="matrix")["key"] for name in ("root", "vera", "carl", "quinn")}
    revoked = store.create_key("root", label="revoked")
    store.revoke_key(revoked["id"])
    expired = store.db.write(lambda conn: U.create_key(conn, "root", "expired", 1, now=time.time() - 2 * 86400))
    server = JupyterServer(folder, str(store_dir), args=("--MLTrackApp.access_control=True",
                                                         "--MLTrackApp.token_user=olga")).start()
    bearer = lambda key: {"Authorization": f"Bearer {key}"}  # noqa: E731
    headers = {
        "anonymous": {},
        "unknown key": bearer("mltk_987654321_" + "A" * 43),
        "revoked key": bearer(revoked["key"]),
        "expired key": bearer(expired["key"]),
        "Q's member": bearer(keys["quinn"]),
        "viewer": bearer(keys["vera"]),
        "contributor": bearer(keys["carl"]),
        "owner": server.headers,
        "admin": bearer(keys["root"]),
    }
    w = World(server, store, headers, aid, qaid)
    try:
        yield w
    finally:
        for s in w.sessions.values():
            s.close()
        server.stop()
        store.close()


# -- the rules -------------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    path: str  # under the server's base URL
    params: dict[str, str] | None = None
    json: Any = None
    data: bytes | None = None


@dataclass
class Rule:
    need: str  # "authenticated", "viewer", "contributor", "owner" (of P), "admin", "self" (KEY_OWNER), "jupyter"
    sample: Callable[[World, Caller], Sample]
    ok: int = 200  # the status of a caller the rule lets through
    check: Callable[[requests.Response, Caller], None] | None = None  # of an allowed answer
    what: str = ""  # which sample, when a route has several

    def allows(self, c: Caller) -> bool:
        if c.user is None:
            return False
        if self.need == "authenticated":
            return True
        if self.need == "jupyter":
            return c.jupyter
        if c.admin:
            return True
        if self.need == "admin":
            return False
        if self.need == "self":
            return c.user == KEY_OWNER
        return c.role is not None and RANK[c.role] >= RANK[self.need]


A = "mltrack/api/"


def _new_key_of_carl(w: World, c: Caller) -> Sample:
    key = w.store.create_key(KEY_OWNER, label=f"to revoke by {c.name}")
    return Sample(f"{A}keys/{key['id']}")


def _dana_member(w: World, c: Caller) -> Sample:
    w.store.set_member(P, "dana", "viewer")  # each cell removes her afresh
    return Sample(f"{A}members", {"project": P, "user": "dana"})


def _job_to_delete(w: World, c: Caller) -> Sample:
    name = "p-del-" + re.sub(r"\W", "-", c.name)
    w.store.create_job({"name": name, "script": "p_job.py", "project": P}, base=w.server.folder)
    return Sample(f"{A}jobs/{name}")


def _deployment_to_delete(w: World, c: Caller) -> Sample:
    from jupyter_mltrack.core.deployments import DeploymentRows

    name = "p-del-" + re.sub(r"\W", "-", c.name)
    DeploymentRows(w.store).create(name, P, "model", {"name": name, "project": P, "kind": "model",
                                                      "models": {"p_model@1": 1.0}}, w.store.actor("olga"))
    return Sample(f"{A}deployments/{name}", {"project": P})


def _check_deployments(r, c):
    assert {(d["name"], d["project"]) for d in r.json()["deployments"]} >= {("p-ab", P), ("p-svc", P)}
    assert {d["project"] for d in r.json()["deployments"]} == {P}


def _check_jobs(r, c):
    assert [(j["name"], j["project"]) for j in r.json()["jobs"] if j["name"] == "p-job"] == [("p-job", P)]
    assert {j["project"] for j in r.json()["jobs"]} == {P}


def _check_job_log(r, c):
    assert "p_job ran" in r.json()["log"]


def _check_runs(r, c):
    runs = r.json()["runs"]
    assert {x["id"] for x in runs} >= {"prun1", "prun2"} and {x["project"] for x in runs} == {P}


def _check_run(r, c):
    run = r.json()
    assert (run["id"], run["project"], run["params"]) == ("prun1", P, {"p_secret": 1})


def _check_series(r, c):
    assert r.json()["values"] == [1.0, 0.5, 0.25]


def _check_series_many(r, c):
    assert sorted(s["run_id"] for s in r.json()["series"]) == ["prun1", "prun2"]


def _check_models(r, c):
    assert (P, "p_model") in [(m["project"], m["name"]) for m in r.json()["models"]]
    assert {m["project"] for m in r.json()["models"]} == {P}


def _check_experiments(r, c):
    assert (P, "p_exp") in [(x["project"], x["name"]) for x in r.json()["experiments"]]
    assert {x["project"] for x in r.json()["experiments"]} == {P}


def _check_columns(r, c):
    assert "p_secret" in r.json()["params"] and "p_loss" in r.json()["metrics"]


def _check_file(r, c):
    assert r.content == b"weights of " + P.encode()


def _check_me(r, c):
    assert r.json()["user"] == c.user and r.json()["admin"] is c.admin


def _check_keys(r, c):
    keys = r.json()["keys"]
    assert keys and {k["user"] for k in keys} == {KEY_OWNER} and all("key" not in k for k in keys)


def _check_members(r, c):
    assert {(m["user"], m["role"]) for m in r.json()["members"]} >= {
        ("olga", "owner"), ("vera", "viewer"), ("carl", "contributor")}


def _check_new_key(r, c):
    assert r.json()["user"] == KEY_OWNER and r.json()["key"].startswith("mltk_")


def _is(got, want):
    assert got == want, (got, want)


def _check_unknown_route(r, c):
    assert r.json()["error"]["code"] == "not_found"


#: the least role each section of a batch aimed at P needs ("projects+description": a project's description)
BATCH_NEEDS = {section: "contributor" for section in SECTIONS} | {"projects+description": "owner"}


def batch_of(w: World, c: Caller, section: str) -> dict:
    """A batch writing one section to P (or to its runs), named after the caller where it leaves a trace: after
    the matrix, P holds exactly the allowed callers' writes."""
    tag = re.sub(r"\W", "_", c.name)
    if section in ("artifacts", "datasets", "figures"):
        w.store.blobs.put_bytes(HELLO)
    item = {
        "projects": {"name": P},
        "projects+description": {"name": P, "description": f"by {c.name}"},
        "experiments": {"project": P, "name": f"p_exp by {c.name}"},
        "campaigns": {"project": P, "name": f"p_camp by {c.name}", "description": f"by {c.name}"},
        "runs": {"id": f"prun_by_{tag}", "project": P},
        "params": {"run_id": "prun1", "key": f"by {c.name}", "value": 1},
        "tags": {"run_id": "prun1", "key": f"by {c.name}", "value": "x"},
        "metrics": {"run_id": "prun1", "name": f"p_loss by {c.name}", "values": [1.0]},
        "artifacts": {"run_id": "prun1", "name": f"p_weights by {c.name}",
                      "files": [{"path": "hello.txt", "sha256": HELLO_SHA, "size": len(HELLO)}]},
        "inputs": {"run_id": "prun2", "artifact_id": w.artifact_id, "role": f"by {c.name}"},
        "updates": {"run_id": "prun2", "description": f"by {c.name}"},
        "models": {"project": P, "name": f"p_model by {c.name}", "artifact_id": w.artifact_id},
        "datasets": {"project": P, "name": f"p_data by {c.name}", "run_id": "prun1", "kind": "file",
                     "files": [{"path": "hello.txt", "sha256": HELLO_SHA, "size": len(HELLO)}]},
        "aliases": {"project": P, "model": "p_model", "alias": f"by {c.name}", "version": 1},
        "stages": {"project": P, "model": "p_model", "version": 1, "stage": f"by {c.name}"},
        "heartbeat": "prun2",
        "figures": {"run_id": "prun1", "name": f"p_fig by {c.name}", "kind": "image",
                    "files": [{"path": "image.png", "sha256": HELLO_SHA, "size": len(HELLO)}]},
    }[section]
    return {section.split("+")[0]: [item]}


_JOB = A + "jobs/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})"
_DEP = A + "deployments/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})"

#: (route pattern, method) → who may, and a sample request aimed at P (several rules: one cell each)
RULES: dict[tuple[str, str], Rule | list[Rule]] = {
    (A + "status", "GET"): Rule("authenticated", lambda w, c: Sample(A + "status")),
    (A + "projects", "GET"): Rule("authenticated", lambda w, c: Sample(A + "projects")),  # filtered: see below
    # naming an existing project writes to it: a contributor's (a description would need its owner)
    (A + "projects", "POST"): [
        Rule("contributor", lambda w, c: Sample(A + "projects", json={"name": P}), 201),
        Rule("owner", lambda w, c: Sample(A + "projects", json={"name": P, "description": f"by {c.name}"}), 201,
             what="description")],
    (A + "experiments", "GET"): Rule("viewer", lambda w, c: Sample(A + "experiments", {"project": P}),
                                     check=_check_experiments),
    (A + "experiments", "POST"): Rule("contributor", lambda w, c: Sample(
        A + "experiments", json={"project": P, "name": "p_exp"}), 201),
    (A + "runs", "GET"): Rule("viewer", lambda w, c: Sample(A + "runs", {"project": P}), check=_check_runs),
    (A + "columns", "GET"): Rule("viewer", lambda w, c: Sample(A + "columns", {"project": P}), check=_check_columns),
    (A + "runs/(?P<run_id>[A-Za-z0-9_-]{1,32})", "GET"): Rule("viewer", lambda w, c: Sample(A + "runs/prun1"),
                                                              check=_check_run),
    # a run's inline edit and campaigns (server/describe.py): descriptions of runs and campaigns are a contributor's
    (A + "runs/(?P<run_id>[A-Za-z0-9_-]{1,32})", "PATCH"): Rule("contributor", lambda w, c: Sample(
        A + "runs/prun2", json={"description": f"by {c.name}", "tags": {f"by {c.name}": "x"}})),
    (A + "campaigns", "GET"): Rule("viewer", lambda w, c: Sample(A + "campaigns", {"project": P})),
    (A + "campaigns", "POST"): Rule("contributor", lambda w, c: Sample(
        A + "campaigns", json={"project": P, "name": "p_campaign", "description": f"by {c.name}"}), 201),
    (A + "runs/(?P<run_id>[A-Za-z0-9_-]{1,32})/metrics", "GET"): Rule(
        "viewer", lambda w, c: Sample(A + "runs/prun1/metrics", {"name": "p_loss"}), check=_check_series),
    (A + "metrics", "GET"): Rule("viewer", lambda w, c: Sample(A + "metrics", {"runs": "prun1,prun2",
                                                                               "name": "p_loss"}),
                                 check=_check_series_many),
    (A + "models", "GET"): Rule("viewer", lambda w, c: Sample(A + "models", {"project": P}), check=_check_models),
    (A + "models", "POST"): Rule("contributor", lambda w, c: Sample(A + "models", json={
        "project": P, "name": f"p_model2 by {c.name}", "artifact_id": w.artifact_id}), 201),
    (A + "models/resolve", "GET"): Rule("viewer", lambda w, c: Sample(A + "models/resolve", {
        "ref": "p_model@1", "project": P}), check=lambda r, c: _is(r.json()["name"], "p_model")),
    (A + "aliases", "PUT"): Rule("contributor", lambda w, c: Sample(A + "aliases", json={
        "project": P, "model": "p_model", "alias": "champion", "version": 1}),
        check=lambda r, c: _is("champion" in r.json()["aliases"], True)),
    (A + "aliases", "DELETE"): Rule("contributor", lambda w, c: Sample(A + "aliases", {
        "project": P, "name": "p_model", "alias": "gone"}), 204),
    (A + "stages", "PUT"): Rule("contributor", lambda w, c: Sample(A + "stages", json={
        "project": P, "model": "p_model", "version": 1, "stage": "production"})),
    (A + "datasets", "GET"): Rule("viewer", lambda w, c: Sample(A + "datasets", {"project": P}),
                                  check=lambda r, c: _is({d["project"] for d in r.json()["datasets"]}, {P})),
    (A + "datasets/resolve", "GET"): Rule("viewer", lambda w, c: Sample(A + "datasets/resolve", {
        "name": "p_data", "project": P}), check=lambda r, c: _is(r.json()["name"], "p_data")),
    (A + "datasets/diff", "GET"): Rule("viewer", lambda w, c: Sample(A + "datasets/diff", {
        "name": "p_data", "a": "1", "b": "1", "project": P}), check=lambda r, c: _is(r.json()["same"], True)),
    (A + "runs/(?P<run_id>[A-Za-z0-9_-]{1,32})/lineage", "GET"): Rule(
        "viewer", lambda w, c: Sample(A + "runs/prun1/lineage", {"direction": "down"}),
        check=lambda r, c: _is({n["kind"] for n in r.json()["nodes"]} >= {"run", "artifact", "model", "dataset"}, True)),
    (A + "runs/(?P<run_id>[A-Za-z0-9_-]{1,32})/figures", "GET"): Rule(
        "viewer", lambda w, c: Sample(A + "runs/prun1/figures"), check=lambda r, c: _is(type(r.json()["figures"]), list)),
    (A + "diff", "GET"): Rule("viewer", lambda w, c: Sample(A + "diff", {"a": "prun1", "b": "prun2"})),
    (A + "report", "GET"): Rule("viewer", lambda w, c: Sample(A + "report", {"runs": "prun1", "download": "0"})),
    (A + "artifacts/(?P<artifact_id>[0-9]{1,18})/files/(?P<path>.+)", "GET"): Rule(
        "viewer", lambda w, c: Sample(f"{A}artifacts/{w.artifact_id}/files/weights.txt"), check=_check_file),
    (A + "batch", "POST"): [Rule(need, lambda w, c, s=section: Sample(A + "batch", json=batch_of(w, c, s)),
                                 what=section) for section, need in BATCH_NEEDS.items()],
    # content-addressed bytes belong to no project until a batch names them (and anyone may create a project)
    (A + "blobs/(?P<sha256>[0-9a-f]{64})", "PUT"): Rule(
        "authenticated", lambda w, c: Sample(f"{A}blobs/{HELLO_SHA}", data=HELLO), 201),
    (A + "gc", "POST"): Rule("admin", lambda w, c: Sample(A + "gc", json={"dry_run": True})),
    (A + r"openapi\.json", "GET"): Rule("authenticated", lambda w, c: Sample(A + "openapi.json")),
    (A + "me", "GET"): Rule("authenticated", lambda w, c: Sample(A + "me"), check=_check_me),
    (A + "users", "GET"): Rule("admin", lambda w, c: Sample(A + "users")),
    (A + "users", "POST"): Rule("admin", lambda w, c: Sample(A + "users", json={"name": f"new {c.name}"}), 201),
    (A + "keys", "GET"): Rule("self", lambda w, c: Sample(A + "keys", {"user": KEY_OWNER}), check=_check_keys),
    (A + "keys", "POST"): Rule("self", lambda w, c: Sample(A + "keys", json={
        "user": KEY_OWNER, "label": f"by {c.name}", "expires_days": 1}), 201, _check_new_key),
    (A + "keys/(?P<key_id>[0-9]{1,18})", "DELETE"): Rule("self", _new_key_of_carl),
    (A + "members", "GET"): Rule("viewer", lambda w, c: Sample(A + "members", {"project": P}),
                                 check=_check_members),
    (A + "members", "PUT"): Rule("owner", lambda w, c: Sample(A + "members", json={
        "project": P, "user": "dana", "role": "viewer"})),
    (A + "members", "DELETE"): Rule("owner", _dana_member, 204),
    # jobs: a project's viewers read them, its contributors define, run, pause, resume and delete them
    (A + "jobs", "GET"): Rule("viewer", lambda w, c: Sample(A + "jobs", {"project": P}), check=_check_jobs),
    (A + "jobs", "POST"): Rule("contributor", lambda w, c: Sample(A + "jobs", json={
        "name": "p-job", "script": "p_job.py", "project": P}), 201),
    (_JOB, "GET"): Rule("viewer", lambda w, c: Sample(A + "jobs/p-job")),
    (_JOB, "DELETE"): Rule("contributor", _job_to_delete, 204),
    (_JOB + "/run", "POST"): Rule("contributor", lambda w, c: Sample(A + "jobs/p-job/run"), 201),
    (_JOB + "/pause", "POST"): Rule("contributor", lambda w, c: Sample(A + "jobs/p-job/pause")),
    (_JOB + "/resume", "POST"): Rule("contributor", lambda w, c: Sample(A + "jobs/p-job/resume")),
    (_JOB + "/executions", "GET"): Rule("viewer", lambda w, c: Sample(A + "jobs/p-job/executions")),
    (_JOB + "/log", "GET"): Rule("viewer", lambda w, c: Sample(A + "jobs/p-job/log", {
        "execution": str(w.store.job_executions("p-job")[-1]["id"])}), check=_check_job_log),  # the fixture's
    # deployments: a project's viewers list and read them; its contributors deploy (the name taken: 409 once the
    # role let the caller through), stop, start (the service fails to load a file that is no model: recorded failed),
    # restart and delete them
    (A + "deployments", "GET"): Rule("viewer", lambda w, c: Sample(A + "deployments", {"project": P}),
                                     check=_check_deployments),
    (A + "deployments", "POST"): Rule("contributor", lambda w, c: Sample(A + "deployments", json={
        "name": "p-svc", "project": P, "model": "p_model@1"}), 409),
    (_DEP, "GET"): Rule("viewer", lambda w, c: Sample(A + "deployments/p-svc", {"project": P}),
                        check=lambda r, c: _is((r.json()["name"], r.json()["project"]), ("p-svc", P))),
    (_DEP, "DELETE"): Rule("contributor", _deployment_to_delete, 204),
    (_DEP + "/stop", "POST"): Rule("contributor", lambda w, c: Sample(A + "deployments/p-svc/stop", {"project": P}),
                                   check=lambda r, c: _is(r.json()["status"], "stopped")),
    (_DEP + "/start", "POST"): Rule("contributor", lambda w, c: Sample(A + "deployments/p-svc/start",
                                                                       {"project": P}),
                                    check=lambda r, c: _is(r.json()["status"], "failed")),
    (_DEP + "/restart", "POST"): Rule("contributor", lambda w, c: Sample(A + "deployments/p-svc/restart",
                                                                         {"project": P}),
                                      check=lambda r, c: _is(r.json()["status"], "failed")),
    # A/B tests: promoting the winner moves an alias and stops the test, a contributor's
    (A + "deployments/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})/promote", "POST"): Rule(
        "contributor", lambda w, c: Sample(A + "deployments/p-ab/promote", json={"model": "p_model@1"}),
        check=lambda r, c: _is((r.json()["version"], r.json()["deployment"]["status"]), (1, "stopped"))),
    # anything else under the API: 404, after authentication
    **{(A + "(?P<path>.*)", m): Rule("authenticated", lambda w, c: Sample(A + "no/such/route"), 404,
                                     _check_unknown_route)
       for m in ("GET", "POST", "PUT", "DELETE", "PATCH")},
    # the widgets' plotly.js: a page of the Jupyter session (an API key is for the REST API only)
    ("mltrack/static/(?P<name>[A-Za-z0-9_.-]+)", "GET"): Rule(
        "jupyter", lambda w, c: Sample("mltrack/static/plotly.min.js")),
}


def served_methods(handler: type) -> list[str]:
    """The HTTP methods the handler class defines itself (the others are tornado's 405)."""
    return [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
            if getattr(handler, m.lower()) is not getattr(tornado.web.RequestHandler, m.lower())]


def table() -> list[tuple[str, str]]:
    """Every (route pattern, method) the server serves."""
    return [(p, m) for p, h in ROUTES + STATIC_ROUTES for m in served_methods(h)]


def test_every_route_and_method_has_a_rule():
    missing = [(p, m) for p, m in table() if (p, m) not in RULES]
    assert not missing, "\n".join(
        f"route {p!r} serves {m} but has no rule: add one to RULES in tests/server/test_role_matrix.py "
        "(who may, and a sample request aimed at project P)" for p, m in missing)
    stale = sorted(set(RULES) - set(table()))
    assert not stale, f"rules for routes or methods that are not served any more: {stale}"


# -- the matrix ------------------------------------------------------------------------------------------------------


def expected_refusal(rule: Rule, c: Caller, r: requests.Response) -> str | None:
    """What is wrong with a refusal (None: right)."""
    if c.user is None or rule.need == "jupyter":
        if rule.need == "jupyter":  # a page: the login page
            return None if r.status_code == 302 and "/login" in r.headers.get("Location", "") else "not the login page"
        if r.status_code != 401:
            return "not 401"
        err = r.json()["error"]
        return None if err["code"] == "unauthenticated" and "WWW-Authenticate" in r.headers else f"body {err}"
    if r.status_code != 403:
        return "not 403"
    err = r.json()["error"]
    if err["code"] != "forbidden":
        return f"code {err['code']}"
    if rule.need in ("admin", "self"):
        return None if err["message"].endswith(ADMIN_MSG.format(user=c.user)) else f"message {err['message']!r}"
    m = re.search(r"in project '(\w+)' needs the role (\w+); (\w+) is (?:a (\w+)|not a member)$", err["message"])
    if m is None:
        return f"message {err['message']!r} does not name the role needed"
    project, named, user, role = m.groups()
    if (project, user, role) != (P, c.user, c.role):
        return f"message {err['message']!r} is not about {c.user} in {P}"
    # the role named is one the caller lacks, up to the one the rule needs
    if not (RANK.get(c.role, 0) < RANK[named] <= RANK[rule.need]):
        return f"message {err['message']!r} names the role {named}, the rule needs {rule.need}"
    return None


def rules_of(pattern: str, method: str) -> list[Rule]:
    rules = RULES.get((pattern, method), [])
    return rules if isinstance(rules, list) else [rules]


def test_every_batch_section_has_a_sample():
    assert set(BATCH_NEEDS) - {"projects+description"} == set(SECTIONS), (
        "add a sample of each batch section to BATCH_NEEDS and batch_of in tests/server/test_role_matrix.py")


def test_the_role_matrix(world):
    cells = wrong = 0
    failures: list[str] = []
    for pattern, method in table():
        if not rules_of(pattern, method):
            failures.append(f"{method} {pattern}: no rule — add one to RULES")
            continue
        for rule, c in [(rule, c) for rule in rules_of(pattern, method) for c in CALLERS]:
            cells += 1
            s = rule.sample(world, c)
            r = world.request(c, method, s.path, params=s.params, json=s.json, data=s.data)
            where = (f"{method} {s.path} {s.params or ''}{' ' + rule.what if rule.what else ''} as {c.name} "
                     f"(rule: {rule.need}) → {r.status_code}")
            if rule.allows(c):
                problem = None if r.status_code == rule.ok else f"expected {rule.ok}"
                if problem is None and rule.check is not None:
                    try:
                        rule.check(r, c)
                    except AssertionError as e:
                        problem = f"wrong answer {e!r}"
            else:
                problem = expected_refusal(rule, c, r)
            if problem:
                wrong += 1
                failures.append(f"{where}: {problem}: {r.text[:300]}")
    assert not failures, f"{wrong} of {cells} cells wrong:\n" + "\n".join(failures)
    assert cells == sum(len(rules_of(p, m)) for p, m in table()) * len(CALLERS)

    # a refused write stored nothing: P's runs, params, tags, series, artifacts, experiments, models, users, keys
    # and members hold the allowed callers' writes only
    writers = {"contributor", "owner", "admin"}
    by = lambda names: {n.split("by ", 1)[1] for n in names if "by " in n}  # noqa: E731
    run = world.store.get_run("prun1")
    assert by(run["params"]) == by(run["tags"]) == by(m["name"] for m in run["metrics"]) == writers
    assert by(a["name"] for a in run["artifacts"]) == writers
    # one input per (run, artifact): the first allowed caller's (a refused one before it would hold it)
    assert [i["role"] for i in world.store.get_run("prun2")["inputs"]] == ["by contributor"]
    assert by(x["name"] for x in world.store.list_experiments(P)) == writers
    assert by(m["name"] for m in world.store.list_models(P)) == writers
    assert {r["id"] for r in world.store.search_runs(project=P)[0] if not r["source"].startswith("job:")} == {
        "prun1", "prun2"} | {
        f"prun_by_{w}" for w in writers}
    assert world.store.get_run("prun2")["description"] == "by admin"  # the last writer of the matrix
    assert world.store.get_project(P)["description"] == "by admin"
    assert {u["name"] for u in world.store.list_users()} >= {"new admin"}
    assert not {u["name"] for u in world.store.list_users()} & {f"new {c.name}" for c in CALLERS if not c.admin}
    labels = {k["label"] for k in world.store.list_keys(KEY_OWNER)}
    assert {lb for lb in labels if lb.startswith("by ")} == {"by contributor", "by admin"}
    revoked = {k["label"] for k in world.store.list_keys(KEY_OWNER) if k["revoked_at"] is not None}
    assert revoked == {"to revoke by contributor", "to revoke by admin"}
    carl = next(c for c in CALLERS if c.user == KEY_OWNER)
    assert world.request(carl, "GET", A + "me").json()["user"] == "carl"  # its own key still works


# -- lists: another project's member sees nothing of P ---------------------------------------------------------------

LISTS = [
    (A + "projects", None),
    (A + "experiments", None),
    (A + "runs", None),
    (A + "runs", {"view": "table"}),
    (A + "runs", {"filter": "params.p_secret = 1 or id = 'prun1' or metrics.p_loss < 10 or params.q_param = 1"}),
    (A + "runs", {"order_by": "metrics.p_loss DESC"}),
    (A + "columns", None),
    (A + "columns", {"filter": "params.p_secret = 1 or id = 'prun1' or id = 'qrun1'"}),
    (A + "models", None),
    (A + "datasets", None),
    (A + "jobs", None),
]


@pytest.mark.parametrize("path, params", LISTS)
def test_lists_hold_only_what_the_caller_may_read(world, path, params):
    by = {c.name: c for c in CALLERS}
    seen = {}
    for name in ("Q's member", "viewer", "admin"):
        r = world.request(by[name], "GET", path, params=params)
        assert r.status_code == 200, (name, r.text)
        seen[name] = r.text
    for name, others in (("Q's member", P_MARKERS), ("viewer", Q_MARKERS)):
        leaked = [m for m in others if m in seen[name]]
        assert not leaked, f"{path} {params or ''} as {name} shows {leaked}: {seen[name][:500]}"
    # not vacuous: each sees its own project's things, the admin both
    qm = seen["Q's member"]
    assert any(m in qm for m in Q_MARKERS), qm[:500]
    assert any(m in seen["viewer"] for m in P_MARKERS), seen["viewer"][:500]
    assert any(m in seen["admin"] for m in P_MARKERS) and any(m in seen["admin"] for m in Q_MARKERS)
    body = json.loads(qm)
    if "total" in body:
        assert body["total"] == len(body["runs"])


def test_another_projects_member_reaches_nothing_of_p_by_naming_it(world):
    """Naming P's runs next to Q's does not give Q's member a part of the answer: the request is refused."""
    quinn = next(c for c in CALLERS if c.user == "quinn")
    for path, params in ((A + "metrics", {"runs": "qrun1,prun1", "name": "q_loss"}),
                         (A + "report", {"runs": "qrun1,prun1"}),
                         (A + "diff", {"a": "qrun1", "b": "prun1"}),
                         (f"{A}artifacts/{world.artifact_id}/files/weights.txt", None)):
        r = world.request(quinn, "GET", path, params=params)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["message"].endswith(f"in project '{P}' needs the role viewer; quinn is not a member")
    # and its own project's series and file it reads
    r = world.request(quinn, "GET", A + "metrics", params={"runs": "qrun1", "name": "q_loss"})
    assert [s["run_id"] for s in r.json()["series"]] == ["qrun1"] and not [m for m in P_MARKERS if m in r.text]
    r = world.request(quinn, "GET", f"{A}artifacts/{world.q_artifact_id}/files/weights.txt")
    assert r.status_code == 200 and r.content == b"weights of " + Q.encode()
