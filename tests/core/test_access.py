"""Team mode in the core: users, API keys, project members and their roles — on SQLite and PostgreSQL.

Every read path filters by the caller's memberships and every write checks the caller's role, inside the
transaction; refusals name the role needed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from jupyter_mltrack.core import users as U
from jupyter_mltrack.core.errors import Conflict, Forbidden, InvalidInput, NotFound

from ._helpers import sql


@pytest.fixture
def team(store):
    """alice owns project A (one run), bob owns project B (one run); carol is a user without projects; root is an
    admin."""
    alice, bob = store.actor("alice"), store.actor("bob")
    carol = store.actor("carol")
    store.add_user("root", admin=True)
    root = store.actor("root", create=False)
    store.write_batch({"runs": [{"id": "a1", "project": "A", "name": "alice's run"}],
                       "params": [{"run_id": "a1", "key": "lr", "value": 0.1}],
                       "metrics": [{"run_id": "a1", "name": "loss", "values": [3.0, 2.0, 1.0]}],
                       "artifacts": [{"run_id": "a1", "name": "model", "files": []}]}, alice)
    store.write_batch({"runs": [{"id": "b1", "project": "B"}],
                       "params": [{"run_id": "b1", "key": "lr", "value": 0.2},
                                  {"run_id": "b1", "key": "momentum", "value": 0.9}],
                       "metrics": [{"run_id": "b1", "name": "loss", "values": [5.0]}]}, bob)
    return store, alice, bob, carol, root


# -- users and keys --------------------------------------------------------------------------------------------------


def test_users_are_added_once_and_listed(store):
    store.add_user("dana", email="dana@example.com")
    with pytest.raises(Conflict, match="user 'dana' exists already"):
        store.add_user("dana")
    store.add_user("erin", admin=True)
    assert [(u["name"], u["email"], u["is_admin"]) for u in store.list_users()] == [
        ("dana", "dana@example.com", False), ("erin", "", True)]
    with pytest.raises(InvalidInput, match="user name must not be empty"):
        store.add_user("")
    assert store.actor("frank").name == "frank"  # an identity-provider name is created on first sight
    with pytest.raises(NotFound, match="no user 'ghost'"):
        store.actor("ghost", create=False)
    dana = store.actor("dana")
    with pytest.raises(Forbidden, match="listing users needs an admin; dana is not one"):
        store.list_users(actor=dana)
    with pytest.raises(Forbidden, match="adding a user needs an admin"):
        store.add_user("hal", actor=dana)


def test_an_api_key_acts_as_its_user_and_only_its_hash_is_stored(store):
    store.add_user("dana")
    k = store.create_key("dana", label="ci", expires_days=30)
    token = k["key"]
    assert token.startswith(f"mltk_{k['id']}_") and len(token.split("_", 2)[2]) == 43  # 256 random bits
    assert store.verify_key(token) == U.Actor(store.actor("dana").user_id, "dana", False)
    rows = sql(store, "SELECT key_hash, label FROM api_keys")
    assert rows[0][1] == "ci" and token.split("_", 2)[2] not in repr(rows)
    assert [(x["id"], x["label"], x["revoked_at"]) for x in store.list_keys("dana")] == [(k["id"], "ci", None)]
    assert "key" not in store.list_keys("dana")[0]
    assert 29.9 * 86400 < store.list_keys("dana")[0]["expires_at"] - time.time() <= 30 * 86400

    # one character off, another key id, garbage: no user
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert store.verify_key(wrong) is None
    assert store.verify_key(f"mltk_{k['id'] + 1}_{token.split('_', 2)[2]}") is None
    assert store.verify_key("mltk_") is None and store.verify_key("token") is None

    store.revoke_key(k["id"])
    assert store.verify_key(token) is None
    assert store.list_keys("dana")[0]["revoked_at"] is not None


def test_an_expired_key_is_refused(store):
    store.add_user("dana")
    old = store.db.write(lambda conn: U.create_key(conn, "dana", "old", 1, now=time.time() - 2 * 86400))
    fresh = store.create_key("dana", expires_days=1)
    assert store.verify_key(old["key"]) is None
    assert store.verify_key(fresh["key"]).name == "dana"
    with pytest.raises(InvalidInput, match=r"expires_days must be a number of days in \(0, 3650\]"):
        store.create_key("dana", expires_days=0)


def test_keys_are_managed_by_their_user_or_an_admin(team):
    store, alice, bob, _, root = team
    k = store.create_key("alice", actor=alice)
    with pytest.raises(Forbidden, match="creating the API keys of another user needs an admin; bob is not one"):
        store.create_key("alice", actor=bob)
    with pytest.raises(Forbidden, match="listing the API keys of another user needs an admin"):
        store.list_keys("alice", actor=bob)
    with pytest.raises(Forbidden, match="revoking the API keys of another user needs an admin"):
        store.revoke_key(k["id"], actor=bob)
    assert store.verify_key(k["key"]).name == "alice"
    store.revoke_key(k["id"], actor=root)
    assert store.verify_key(k["key"]) is None


def test_key_use_is_recorded(store):
    store.add_user("dana")
    k = store.create_key("dana")
    assert store.verify_key(k["key"]).name == "dana"
    deadline = time.monotonic() + 10
    while store.list_keys("dana")[0]["last_used_at"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)


# -- roles on writes -------------------------------------------------------------------------------------------------


def test_the_creator_of_a_project_owns_it_and_runs_record_their_user(team):
    store, alice, bob, carol, _ = team
    assert store.list_members("A", actor=alice) == [{"user": "alice", "role": "owner"}]
    store.write_batch({"runs": [{"id": "a2", "project": "A", "user": "mallory"}]}, alice)
    assert store.get_run("a2")["user"] == "alice"  # the server's user, not what the client claimed
    assert store.get_run("a1")["user"] == "alice"
    assert [(p["name"], p["role"]) for p in store.list_projects(alice)] == [("A", "owner")]
    assert store.list_projects(carol) == []


def test_writes_need_the_contributor_role(team):
    store, alice, bob, carol, _ = team
    cases = [
        {"runs": [{"id": "c1", "project": "A"}]},
        {"params": [{"run_id": "a1", "key": "new", "value": 1}]},
        {"tags": [{"run_id": "a1", "key": "t", "value": "x"}]},
        {"metrics": [{"run_id": "a1", "name": "loss", "values": [0.5]}]},
        {"artifacts": [{"run_id": "a1", "name": "other", "files": []}]},
        {"updates": [{"run_id": "a1", "status": "failed"}]},
        {"heartbeat": ["a1"]},
        {"experiments": [{"project": "A", "name": "E"}]},
        {"runs": [{"id": "a1", "project": "A"}]},  # a retried batch declaring an existing run
    ]
    for batch in cases:
        with pytest.raises(Forbidden, match="in project 'A' needs the role contributor; carol is not a member"):
            store.write_batch(batch, carol)
    store.set_member("A", "carol", "viewer", actor=alice)
    with pytest.raises(Forbidden, match="needs the role contributor; carol is a viewer"):
        store.write_batch(cases[1], carol)
    store.set_member("A", "carol", "contributor", actor=alice)
    for batch in cases:
        store.write_batch(batch, carol)
    run = store.get_run("a1", carol)
    assert run["params"]["new"] == 1 and run["tags"] == {"t": "x"} and run["status"] == "failed"
    assert [m["count"] for m in run["metrics"]] == [4]


def test_nothing_of_a_refused_batch_is_written(team):
    store, alice, bob, carol, _ = team
    with pytest.raises(Forbidden):
        store.write_batch({"runs": [{"id": "c9", "project": "C"}],
                           "params": [{"run_id": "c9", "key": "k", "value": 1}, {"run_id": "a1", "key": "x", "value": 2}]},
                          carol)
    with pytest.raises(NotFound):
        store.get_run("c9")
    assert "x" not in store.get_run("a1")["params"]
    assert [p["name"] for p in store.list_projects()] == ["A", "B"]


def test_managing_members_and_descriptions_needs_the_owner(team):
    store, alice, bob, carol, _ = team
    store.set_member("A", "bob", "contributor", actor=alice)
    with pytest.raises(Forbidden, match="managing the members in project 'A' needs the role owner; bob is a contributor"):
        store.set_member("A", "carol", "viewer", actor=bob)
    with pytest.raises(Forbidden, match="changing the description in project 'A' needs the role owner"):
        store.write_batch({"projects": [{"name": "A", "description": "mine now"}]}, bob)
    store.write_batch({"projects": [{"name": "A", "description": "alice's"}]}, alice)
    with pytest.raises(InvalidInput, match="role must be one of owner, contributor, viewer"):
        store.set_member("A", "bob", "admin", actor=alice)
    with pytest.raises(NotFound, match="no user 'nobody'"):
        store.set_member("A", "nobody", "viewer", actor=alice)
    with pytest.raises(Conflict, match="alice is the last owner of project 'A'"):
        store.set_member("A", "alice", "viewer", actor=alice)
    with pytest.raises(Conflict, match="alice is the last owner"):
        store.remove_member("A", "alice", actor=alice)
    store.set_member("A", "bob", "owner", actor=alice)
    store.remove_member("A", "alice", actor=bob)
    assert store.list_members("A", actor=bob) == [{"user": "bob", "role": "owner"}]
    with pytest.raises(Forbidden, match="listing the members in project 'A' needs the role viewer; alice is not a member"):
        store.list_members("A", actor=alice)
    with pytest.raises(NotFound, match="alice is not a member of project 'A'"):
        store.remove_member("A", "alice", actor=bob)


def test_models_and_inputs_check_both_projects(team):
    store, alice, bob, carol, root = team
    art = store.find_artifact("a1", "model")
    with pytest.raises(Forbidden, match="using an artifact in project 'A' needs the role viewer; bob is not a member"):
        store.register_model("B", "m", art["id"], actor=bob)
    with pytest.raises(Forbidden, match="registering a model in project 'A' needs the role contributor"):
        store.register_model("A", "m", art["id"], actor=bob)
    with pytest.raises(Forbidden, match="using an artifact in project 'A'"):
        store.add_run_input("b1", art["id"], actor=bob)
    v = store.register_model("A", "m", art["id"], actor=alice)
    assert (v["name"], v["version"]) == ("m", 1)
    assert store.list_models(actor=bob) == [] and [m["name"] for m in store.list_models(actor=root)] == ["m"]


# -- roles on reads --------------------------------------------------------------------------------------------------


READS = {
    "search_runs": lambda s, a: sorted(r["id"] for r in s.search_runs(actor=a)[0]),
    "search_runs_filter": lambda s, a: sorted(r["id"] for r in s.search_runs(filter="params.lr > 0", actor=a)[0]),
    "search_runs_json": lambda s, a: sorted(
        __import__("json").loads(s.search_runs_json(limit=100, actor=a)[0])[i]["id"]
        for i in range(s.search_runs_json(actor=a)[1])),
    "run_table": lambda s, a: sorted(row[0] for row in s.run_table(actor=a)["base"]),
    "run_frame": lambda s, a: sorted(row[0] for row in s.run_frame(actor=a)["base"]),
    "series_many": lambda s, a: sorted(x["run_id"] for x in s.get_series_many(["a1"], "loss", actor=a))
    if a is None or a.admin or a.name == "alice" else "refused-below",
}


@pytest.mark.parametrize("read", sorted(READS))
def test_every_list_holds_only_what_the_caller_may_read(team, read):
    store, alice, bob, carol, root = team
    fn = READS[read]
    if read == "series_many":
        assert fn(store, alice) == ["a1"] and fn(store, root) == ["a1"]
        with pytest.raises(Forbidden, match="reading metrics in project 'A' needs the role viewer; bob is not a member"):
            store.get_series_many(["a1", "b1"], "loss", actor=bob)
        return
    assert fn(store, alice) == ["a1"]
    assert fn(store, bob) == ["b1"]
    assert fn(store, carol) == []
    assert fn(store, root) == ["a1", "b1"]
    assert fn(store, None) == ["a1", "b1"]


def test_a_filter_never_reaches_another_projects_runs(team):
    store, alice, bob, carol, _ = team
    for f in ("id = 'b1'", "params.lr = 0.2", "name != 'x' or id = 'b1'", "metrics.loss > 0"):
        assert {r["id"] for r in store.search_runs(filter=f, actor=alice)[0]} <= {"a1"}, f
    assert store.run_columns(actor=carol) == {"params": [], "metrics": [], "tags": []}
    assert store.run_columns(actor=alice)["params"] == ["lr"]
    assert store.run_columns(actor=bob)["params"] == ["lr", "momentum"]
    with pytest.raises(Forbidden, match="reading runs in project 'B' needs the role viewer; alice is not a member"):
        store.search_runs(project="B", actor=alice)


def test_single_reads_are_refused_outside_ones_projects(team):
    store, alice, bob, carol, _ = team
    art = store.find_artifact("a1", "model")
    refused = [
        lambda: store.get_run("a1", bob),
        lambda: store.get_series("a1", "loss", actor=bob),
        lambda: store.get_artifact(art["id"], bob),
        lambda: store.find_artifact("a1", "model", actor=bob),
        lambda: store.get_project("A", bob),
        lambda: store.list_members("A", bob),
    ]
    for fn in refused:
        with pytest.raises(Forbidden, match="in project 'A' needs the role viewer; bob is not a member"):
            fn()
    store.set_member("A", "bob", "viewer", actor=alice)
    assert store.get_run("a1", bob)["params"] == {"lr": 0.1}
    assert np.array_equal(store.get_series("a1", "loss", actor=bob)["points"].values, [3.0, 2.0, 1.0])
    assert store.get_project("A", bob)["role"] == "viewer"
    assert [e["project"] for e in store.list_experiments(actor=bob)] == []


def test_gc_needs_an_admin(team):
    store, alice, *_, root = team
    with pytest.raises(Forbidden, match="collecting garbage needs an admin; alice is not one"):
        store.gc(actor=alice)
    assert store.gc(dry_run=True, actor=root)["dry_run"] is True
