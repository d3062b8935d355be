"""Campaigns and descriptions in the store: campaigns of a project, descriptions set and cleared through batches,
a run's inline edit, and who may change what in team mode."""

from __future__ import annotations

import pytest

from jupyter_mltrack.core.describe import describe_batch, run_edit_batch
from jupyter_mltrack.core.errors import Conflict, Forbidden, InvalidInput, NotFound


def test_campaigns_of_a_project(store):
    store.write_batch({"runs": [{"id": "r1", "project": "P", "campaigns": ["sweep"]},
                                {"id": "r2", "project": "Q", "campaigns": ["sweep"]}]})
    store.create_campaign("P", "ablation", "does dropout matter?")
    store.create_project("R")
    assert [(c["name"], c["project"], c["run_count"]) for c in store.list_campaigns("P")] == [
        ("ablation", "P", 0), ("sweep", "P", 1)]
    # a campaign holding a project's runs is listed there too, counting that project's runs only
    assert [(c["name"], c["project"], c["run_count"]) for c in store.list_campaigns("Q")] == [("sweep", "P", 1)]
    assert [(c["name"], c["run_count"]) for c in store.list_campaigns()] == [("ablation", 0), ("sweep", 2)]
    assert store.list_campaigns("R") == []
    assert store.campaign_named("ablation")["description"] == "does dropout matter?"
    with pytest.raises(NotFound, match="no campaign 'nope'"):
        store.campaign_named("nope")
    with pytest.raises(Conflict, match="campaign 'sweep' belongs to project 'P', not 'Q'"):
        store.create_campaign("Q", "sweep", "taken")
    # creating again answers the existing one, its description kept unless one is given
    assert store.create_campaign("P", "ablation")["description"] == "does dropout matter?"


def test_descriptions_are_set_and_cleared(store):
    store.write_batch({"runs": [{"id": "r1", "project": "P", "experiments": ["e"], "campaigns": ["c"]}]})
    for kw in ({"project": "P"}, {"project": "P", "experiment": "e"}, {"project": "P", "campaign": "c"},
               {"run": "r1"}):
        store.write_batch(describe_batch("hypothesis: more data helps", **kw))
    assert store.project_named("P")["description"] == "hypothesis: more data helps"
    assert store.experiment_named("P", "e")["description"] == "hypothesis: more data helps"
    assert store.campaign_named("c")["description"] == "hypothesis: more data helps"
    assert store.get_run("r1")["description"] == "hypothesis: more data helps"
    store.write_batch(describe_batch("", project="P"))  # an empty description clears it
    store.write_batch(describe_batch("", project="P", campaign="c"))
    assert store.project_named("P")["description"] == ""
    assert store.campaign_named("c")["description"] == ""
    store.create_project("P")  # creating again without a description keeps it
    store.write_batch(describe_batch("kept", project="P"))
    assert store.create_project("P")["description"] == "kept"


def test_describe_batch_names_what_is_wrong():
    with pytest.raises(InvalidInput, match="description: project is required"):
        describe_batch("x", experiment="e")
    with pytest.raises(InvalidInput, match="give one of run, campaign, experiment or project"):
        describe_batch("x", run="r", campaign="c")
    with pytest.raises(InvalidInput, match="description must be a string"):
        describe_batch(3, project="P")  # type: ignore[arg-type]


def test_a_run_is_edited_inline_in_one_batch(store):
    store.write_batch({"runs": [{"id": "r1", "project": "P"}], "tags": [{"run_id": "r1", "key": "old", "value": "x"}]})
    run = store.edit_run("r1", {"description": "baseline", "name": "rf-100", "tags": {"team": "a", "old": None}})
    assert (run["description"], run["name"], run["tags"]) == ("baseline", "rf-100", {"team": "a"})
    assert run_edit_batch("r1", {"tags": {"k": "v"}}) == {"tags": [{"run_id": "r1", "key": "k", "value": "v"}]}
    with pytest.raises(InvalidInput, match="unknown field 'status'"):
        store.edit_run("r1", {"status": "killed"})
    with pytest.raises(InvalidInput, match="nothing to change"):
        store.edit_run("r1", {})
    with pytest.raises(InvalidInput, match="tags must be an object"):
        store.edit_run("r1", {"tags": ["a"]})
    with pytest.raises(InvalidInput, match="batch: updates.name"):
        store.edit_run("r1", {"name": "n" * 300})
    with pytest.raises(NotFound):
        store.edit_run("nope", {"description": "x"})


def test_team_roles_for_descriptions_and_campaigns(store):
    alice, bob, carol = store.actor("alice"), store.actor("bob"), store.actor("carol")
    store.write_batch({"runs": [{"id": "a1", "project": "A", "experiments": ["e"], "campaigns": ["c"]}]}, alice)
    store.set_member("A", "bob", "contributor", actor=alice)
    store.set_member("A", "carol", "viewer", actor=alice)
    # a contributor describes runs, experiments and campaigns, and creates campaigns …
    store.write_batch(describe_batch("bob's", run="a1"), bob)
    store.write_batch(describe_batch("bob's", project="A", experiment="e"), bob)
    store.write_batch(describe_batch("bob's", project="A", campaign="c"), bob)
    store.create_campaign("A", "new", "bob's", actor=bob)
    store.edit_run("a1", {"tags": {"k": "v"}}, actor=bob)
    # … but only the owner describes the project
    with pytest.raises(Forbidden, match="changing the description in project 'A' needs the role owner; bob is a "
                                        "contributor"):
        store.write_batch(describe_batch("bob's", project="A"), bob)
    store.write_batch(describe_batch("alice's", project="A"), alice)
    for batch in (describe_batch("x", run="a1"), describe_batch("x", project="A", campaign="c"),
                  describe_batch("x", project="A", experiment="e")):
        with pytest.raises(Forbidden, match="needs the role contributor; carol is a viewer"):
            store.write_batch(batch, carol)
    with pytest.raises(Forbidden, match="carol is a viewer"):
        store.edit_run("a1", {"description": "x"}, actor=carol)
    # a viewer lists the project's campaigns; someone outside it sees none of them
    assert [c["name"] for c in store.list_campaigns("A", carol)] == ["c", "new"]
    dave = store.actor("dave")
    assert store.list_campaigns(actor=dave) == []
    with pytest.raises(Forbidden, match="listing campaigns in project 'A' needs the role viewer"):
        store.list_campaigns("A", dave)


def test_migration_0008_gives_existing_campaigns_their_earliest_runs_project(store):
    from alembic import command
    from sqlalchemy import inspect

    from jupyter_mltrack.core import migrate

    store.write_batch({"runs": [{"id": "late", "project": "B", "start_time": 1.8e9, "campaigns": ["c"]},
                                {"id": "early", "project": "A", "start_time": 1.7e9, "campaigns": ["c"]}]})
    assert store.campaign_named("c")["project"] == "B"  # created by the batch's first run
    with store.engine.connect() as conn:
        command.downgrade(migrate.alembic_config(conn), "0007")
        conn.commit()
    assert "project_id" not in {c["name"] for c in inspect(store.engine).get_columns("campaigns")}
    migrate.upgrade(store.engine)
    assert migrate.current_revision(store.engine) == migrate.HEAD
    assert store.campaign_named("c")["project"] == "A"  # an existing campaign: the project of its earliest run
    # the runs stay in their campaign, both ways (SQLite rebuilds the table: its run links were once dropped with it)
    assert store.campaign_named("c")["run_count"] == 2
    assert store.search_runs(campaign="c")[1] == 2
