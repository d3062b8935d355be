"""Campaigns and descriptions from Python: mlt.set_description (run, campaign, experiment, project),
mlt.campaigns, mlt.create_campaign — locally and against a server (HttpBackend)."""

from __future__ import annotations

import pytest

from jupyter_mltrack.client.backend import HttpBackend
from jupyter_mltrack.core.errors import Conflict, InvalidInput

from .._server import JupyterServer


def test_set_description_of_each_thing(tracking, store):
    mlt = tracking
    with mlt.start_run(project="P", experiment="e", campaign="sweep") as run:
        mlt.set_description("hypothesis: a deeper forest helps")  # the active run
        mlt.set_description("more data beats a better model", campaign="sweep")  # the campaign's project
        mlt.set_description("the baseline", experiment="e")  # the active run's project
    mlt.set_description("house prices", project="P")
    mlt.set_description("final", run=run)
    assert store.get_run(run.id)["description"] == "final"
    assert store.campaign_named("sweep")["description"] == "more data beats a better model"
    assert store.experiment_named("P", "e")["description"] == "the baseline"
    assert store.project_named("P")["description"] == "house prices"
    mlt.set_description("", project="P")
    assert store.project_named("P")["description"] == ""
    with pytest.raises(InvalidInput, match="no active run"):
        mlt.set_description("x")
    with pytest.raises(InvalidInput, match="give one of run, campaign, experiment or project, not run and campaign"):
        mlt.set_description("x", run=run, campaign="sweep")
    with pytest.raises(InvalidInput, match="description must be a string"):
        mlt.set_description(None, project="P")  # type: ignore[arg-type]


def test_campaigns_are_created_and_listed(tracking, store):
    mlt = tracking
    c = mlt.create_campaign("ablation", project="P", description="does dropout matter?")
    assert (c["name"], c["project"], c["run_count"]) == ("ablation", "P", 0)
    with mlt.start_run(project="P", campaign="ablation"):
        pass
    df = mlt.campaigns("P")
    assert list(df["name"]) == ["ablation"] and list(df["run_count"]) == [1]
    assert list(df["description"]) == ["does dropout matter?"]
    store.create_project("Q")
    assert mlt.campaigns("Q").empty and list(mlt.campaigns("Q").columns)[:3] == ["id", "name", "description"]
    with pytest.raises(Conflict, match="belongs to project 'P'"):
        mlt.create_campaign("ablation", project="Q")
    with pytest.raises(InvalidInput, match="campaign"):
        mlt.create_campaign("")


def test_campaigns_through_a_server(tmp_path, store_dir, store):
    store.create_campaign("P", "sweep", "over HTTP")
    with JupyterServer(tmp_path, str(store_dir)) as server:
        http = HttpBackend(server.url, server.token)
        assert [(c["name"], c["description"]) for c in http.list_campaigns("P")] == [("sweep", "over HTTP")]
        assert http.list_campaigns("P") == http.list_campaigns()
