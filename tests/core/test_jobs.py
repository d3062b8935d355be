"""Job definitions in the store (core/jobs.py) and what a trigger does (core/job_executions.py), on SQLite and
PostgreSQL: checks at definition time naming the field, the DAG, restarts, team roles, triggers, claims, leases."""

from __future__ import annotations

import json
import time

import pytest

from jupyter_mltrack.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from jupyter_mltrack.core.store import Store


def notebook(path, params_src: str | None = "alpha = 0.1\nepochs: int = 3\n", body: str = "print(alpha)"):
    cells = []
    if params_src is not None:
        cells.append({"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": params_src,
                      "outputs": [], "execution_count": None})
    cells.append({"cell_type": "code", "metadata": {}, "source": body, "outputs": [], "execution_count": None})
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                             "display_name": "Python 3"}},
                                "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture
def files(tmp_path):
    nb = notebook(tmp_path / "train.ipynb")
    script = tmp_path / "prep.py"
    script.write_text("print('prep')\n")
    return tmp_path, nb, script


def test_a_job_is_defined_listed_and_survives_a_restart(store_uri, files):
    folder, nb, script = files
    s = Store(store_uri)
    s.create_job({"name": "prep", "script": "prep.py", "params": {"rows": 10}, "project": "P"}, base=folder)
    s.create_job({"name": "other", "script": "prep.py"}, base=folder)
    with pytest.raises(InvalidInput, match="after: job 'other' is in another project than 'P'"):
        s.create_job({"name": "train", "notebook": str(nb), "after": ["other"], "project": "P"})
    job = s.create_job({"name": "train", "notebook": str(nb), "params": {"alpha": 0.5}, "schedule": "0 2 * * *",
                        "timezone": "Europe/Paris", "after": ["prep"], "project": "P", "timeout": 60,
                        "retries": 2, "max_concurrent": 2})
    assert job["notebook"] == str(nb) and job["kind"] == "notebook" and job["after"] == ["prep"]
    assert job["next_run"] is not None and job["next_run"] > time.time()
    s.close()
    s = Store(store_uri)  # a restart: the definitions are the store's
    try:
        jobs = {j["name"]: j for j in s.list_jobs()}
        assert set(jobs) == {"prep", "train", "other"}
        t = jobs["train"]
        assert (t["params"], t["schedule"], t["timezone"], t["timeout"], t["retries"], t["max_concurrent"],
                t["project"], t["paused"]) == ({"alpha": 0.5}, "0 2 * * *", "Europe/Paris", 60.0, 2, 2, "P", False)
        assert jobs["prep"]["script"] == str(script) and jobs["other"]["project"] == "Default"
        assert [j["name"] for j in s.list_jobs(project="P")] == ["prep", "train"]
        # 02:00 in Paris is 00:00 or 01:00 UTC
        assert time.gmtime(t["next_run"]).tm_hour in (0, 1) and time.gmtime(t["next_run"]).tm_min == 0
        assert s.pause_job("train")["paused"] is True and s.pause_job("train")["next_run"] is None
        assert s.pause_job("train", False)["paused"] is False
        with pytest.raises(Conflict, match="upstream of 'train'"):
            s.delete_job("prep")
        s.delete_job("train")
        s.delete_job("prep")
        assert [j["name"] for j in s.list_jobs()] == ["other"]
        with pytest.raises(NotFound, match="no job named 'train'"):
            s.get_job("train")
    finally:
        s.close()


@pytest.mark.parametrize("spec, field", [
    ({"schedule": "61 * * * *"}, "schedule"),
    ({"schedule": "every day"}, "schedule"),
    ({"schedule": "* * * *"}, "schedule"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"notebook": "missing.ipynb"}, "notebook: no file"),
    ({"notebook": None, "script": "missing.py"}, "script: no file"),
    ({"notebook": None}, "exactly one of notebook"),
    ({"script": "prep.py"}, "exactly one of notebook"),
    ({"after": ["nobody"]}, "after: no job named 'nobody'"),
    ({"params": {"gamma": 1}}, "does not declare the parameter 'gamma'"),
    ({"params": {"alpha": float("nan")}}, "param 'alpha'"),
    ({"timeout": -1}, "timeout"),
    ({"retries": 1000}, "retries"),
    ({"max_concurrent": 0}, "max_concurrent"),
    ({"paused": "yes"}, "paused"),
    ({"name": ""}, "name '' must be"),
    ({"name": "a/b"}, "name 'a/b' must be 1-100 letters"),
    ({"color": "red"}, "unknown job field 'color'"),
    ({"after": ["train"]}, "cannot run after itself"),
])
def test_bad_definitions_are_refused_naming_the_field(store, files, spec, field):
    folder, nb, _ = files
    base = {"name": "train", "notebook": "train.ipynb", "params": {"alpha": 1}}
    with pytest.raises(InvalidInput, match=field.replace("(", r"\(").replace("[", r"\[")):
        store.create_job({**base, **spec}, base=folder)
    assert store.list_jobs() == []


def test_a_notebook_without_a_parameters_cell_takes_no_params(store, tmp_path):
    nb = notebook(tmp_path / "plain.ipynb", params_src=None)
    with pytest.raises(InvalidInput, match="declares: none"):
        store.create_job({"name": "plain", "notebook": str(nb), "params": {"x": 1}})
    assert store.create_job({"name": "plain", "notebook": str(nb)})["params"] == {}


def test_cycles_are_refused_and_leave_the_definitions_as_they_were(store, files):
    folder, _, _ = files
    for name, after in (("a", []), ("b", ["a"]), ("c", ["b"])):
        store.create_job({"name": name, "script": "prep.py", "after": after}, base=folder)
    with pytest.raises(InvalidInput, match="cycle, a after c after b after a"):
        store.create_job({"name": "a", "script": "prep.py", "after": ["c"]}, base=folder)
    assert {j["name"]: j["after"] for j in store.list_jobs()} == {"a": [], "b": ["a"], "c": ["b"]}
    # a redefinition replaces the definition
    store.create_job({"name": "c", "script": "prep.py", "after": ["a", "b"], "retries": 3}, base=folder)
    assert store.get_job("c")["after"] == ["a", "b"] and store.get_job("c")["retries"] == 3


def _states(store, trigger_execs):
    names = {e["id"]: e["job"] for e in trigger_execs}
    out = {}
    for name in set(names.values()):
        for e in store.job_executions(name):
            if e["id"] in names:
                out[name] = (e["status"], e["reason"])
    return out


def test_a_trigger_runs_downstream_jobs_after_their_upstream_jobs_succeed(store, files):
    folder, _, _ = files
    #   a → b → d ; a → c → d ; e after x (x not downstream of a)
    for name, after in (("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"]), ("x", []), ("e", ["a", "x"])):
        store.create_job({"name": name, "script": "prep.py", "after": after}, base=folder)
    execs = store.run_job("a")
    st = _states(store, execs)
    assert st == {"a": ("queued", ""), "b": ("pending", ""), "c": ("pending", ""), "d": ("pending", ""),
                  "e": ("skipped", "upstream job 'x' is not part of this trigger")}
    ids = {e["job"]: e["id"] for e in execs}
    got = store.claim_execution("w", 10)
    assert got["execution"]["job"] == "a" and store.claim_execution("w", 10) is None  # b, c wait for a
    store.finish_execution(ids["a"], "finished")
    assert {k: v[0] for k, v in _states(store, execs).items()} == {
        "a": "finished", "b": "queued", "c": "queued", "d": "pending", "e": "skipped"}
    assert store.claim_execution("w", 10)["execution"]["job"] == "b"
    assert store.claim_execution("w", 10)["execution"]["job"] == "c"
    store.finish_execution(ids["b"], "finished")
    store.finish_execution(ids["c"], "failed", "exit status 1")
    assert _states(store, execs)["d"] == ("skipped", "upstream job 'c' failed")


def test_a_failed_upstream_skips_the_whole_downstream_chain(store, files):
    folder, _, _ = files
    for name, after in (("a", []), ("b", ["a"]), ("c", ["b"])):
        store.create_job({"name": name, "script": "prep.py", "after": after}, base=folder)
    execs = store.run_job("a")
    store.claim_execution("w", 5)
    store.finish_execution(execs[0]["id"], "killed", "timed out")
    st = _states(store, execs)
    assert st["b"] == ("skipped", "upstream job 'a' was killed") and st["c"] == ("skipped",
                                                                                "upstream job 'b' was skipped")


def test_a_tick_fires_once_and_jobs_due_together_share_a_trigger(store, files):
    folder, _, _ = files
    for name, after in (("a", []), ("b", []), ("c", ["a", "b"])):
        store.create_job({"name": name, "script": "prep.py", "after": after, "schedule": "* * * * *" if
                          name != "c" else ""}, base=folder)
    ids = {j["name"]: j["id"] for j in store.list_jobs()}
    tick = 1_800_000_000.0
    added = store.fire_tick([ids["a"], ids["b"]], tick)
    assert len(added) == 3  # a, b and c, in one trigger
    assert store.fire_tick([ids["a"], ids["b"]], tick) == []  # a second server firing the same tick: nothing
    assert store.fire_tick([ids["a"]], tick - 60) == []  # nor an earlier one
    assert {e["trigger_id"] for j in "abc" for e in store.job_executions(j)} == {f"schedule:{tick:.0f}"}
    assert store.job_executions("c")[0]["status"] == "pending"
    assert store.skip_tick(ids["a"], tick + 60) and not store.skip_tick(ids["a"], tick + 60)
    assert {j[1] for j in store.scheduled_jobs()} == {"a", "b"}
    store.pause_job("a")
    assert {j[1] for j in store.scheduled_jobs()} == {"b"}


def test_claims_respect_the_job_s_and_the_runner_s_limits(store, files):
    folder, _, _ = files
    store.create_job({"name": "one", "script": "prep.py", "max_concurrent": 1}, base=folder)
    store.create_job({"name": "two", "script": "prep.py", "max_concurrent": 2}, base=folder)
    for _ in range(3):
        store.run_job("one")
        store.run_job("two")
    got = [store.claim_execution("w", 10) for _ in range(5)]
    assert [g["execution"]["job"] for g in got if g] == ["one", "two", "two"]
    assert store.claim_execution("other", 1) is None  # a job's limit holds across runners
    store.finish_execution(got[0]["execution"]["id"], "finished")
    assert store.claim_execution("w", 2) is None  # the runner's own limit: w runs 2
    assert store.claim_execution("other", 1)["execution"]["job"] == "one"


def test_a_lease_has_one_holder_until_it_expires(store):
    assert store.acquire_lease("scheduler", "s1", ttl=30)
    assert not store.acquire_lease("scheduler", "s2", ttl=30)
    assert store.acquire_lease("scheduler", "s1", ttl=30)  # renewed
    store.release_lease("scheduler", "s1")
    assert store.acquire_lease("scheduler", "s2", ttl=0.2)
    time.sleep(0.3)
    assert store.acquire_lease("scheduler", "s1", ttl=30)


def test_a_running_execution_without_heartbeats_ends_killed(store, files):
    folder, _, _ = files
    store.create_job({"name": "a", "script": "prep.py"}, base=folder)
    store.create_job({"name": "b", "script": "prep.py", "after": ["a"]}, base=folder)
    execs = store.run_job("a")
    store.claim_execution("w", 1)
    from jupyter_mltrack.core import job_executions as JE

    assert store.db.write(lambda conn: JE.reap(conn, time.time() + 10)) == 0
    assert store.db.write(lambda conn: JE.reap(conn, time.time() + JE.STALE_AFTER + 1)) == 1
    st = _states(store, execs)
    assert st["a"][0] == "killed" and "no heartbeat" in st["a"][1]
    assert st["b"] == ("skipped", "upstream job 'a' was killed")


def test_team_roles_apply_to_jobs(store, files):
    folder, _, _ = files
    store.add_user("olga")
    store.add_user("vera")
    store.add_user("quinn")
    olga, vera, quinn = (store.actor(n, create=False) for n in ("olga", "vera", "quinn"))
    store.create_job({"name": "p-job", "script": "prep.py", "project": "P"}, base=folder, actor=olga)
    assert store.list_members("P") == [{"user": "olga", "role": "owner"}]  # a new project is its creator's
    store.set_member("P", "vera", "viewer")
    assert [j["name"] for j in store.list_jobs(actor=vera)] == ["p-job"]
    assert store.list_jobs(actor=quinn) == []
    for call in (lambda: store.run_job("p-job", vera), lambda: store.pause_job("p-job", True, vera),
                 lambda: store.delete_job("p-job", vera),
                 lambda: store.create_job({"name": "p-job", "script": "prep.py", "project": "P"}, folder, vera)):
        with pytest.raises(Forbidden, match="needs the role contributor; vera is a viewer"):
            call()
    with pytest.raises(Forbidden, match="quinn is not a member"):
        store.get_job("p-job", quinn)
    with pytest.raises(Forbidden, match="quinn is not a member"):
        store.job_executions("p-job", actor=quinn)
    assert store.get_job("p-job", vera)["user"] == "olga"
    assert len(store.run_job("p-job", olga)) == 1
