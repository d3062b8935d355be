"""Descriptions in a team workspace's explorer, in Debian's chromium: the editor is offered to whom the server would
let change the description (a project's: its owner; an experiment's or a campaign's: a contributor), not to a
viewer; the browser acts as the store user alice (the server's token user)."""

from __future__ import annotations

import pytest

from .conftest import launch_lab, new_page, open_lab, stop_lab, wait_until

pytestmark = pytest.mark.ui

TEAM_ARGS = ("--MLTrackApp.access_control=True", "--MLTrackApp.token_user=alice")


@pytest.fixture(scope="module")
def team_lab(tmp_path_factory):
    lab = launch_lab(tmp_path_factory.mktemp("describe-team-lab"), TEAM_ARGS)
    store = lab.store()
    try:
        bob = store.actor("bob")
        store.actor("alice")
        for project, role in (("Viewed", "viewer"), ("Shared", "contributor")):
            store.write_batch({"runs": [{"id": f"{project.lower()}1", "project": project, "campaigns": [project + "-c"]}]},
                              bob)
            store.create_project(project, f"{project}: bob's hypothesis", actor=bob)
            store.set_member(project, "alice", role, actor=bob)
    finally:
        store.close()
    yield lab
    stop_lab(lab)


def _show(page, project: str, campaign: str = ""):
    page.select_option(".jp-mltrack-explorer-project", project)
    page.wait_for_selector(f'.jp-mltrack-explorer[data-project="{project}"]')
    if campaign:
        page.wait_for_selector(f'.jp-mltrack-explorer-campaign option[value="{campaign}"]', state="attached")
        page.select_option(".jp-mltrack-explorer-campaign", campaign)
    kind = "campaign" if campaign else "project"
    desc = page.locator(".jp-mltrack-explorer-description")
    wait_until(lambda: desc.get_attribute("data-kind") == kind, 30, f"the {kind}'s description")
    return desc


def test_the_editor_is_offered_by_role(browser, team_lab, request):
    with new_page(browser, team_lab, request.node.name) as page:
        open_lab(page, team_lab)
        page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')",
                               timeout=60_000)
        page.evaluate("() => { window.jupyterapp.commands.execute('mltrack:open-explorer'); }")
        page.wait_for_selector(".jp-mltrack-explorer-project", state="visible")
        # a viewer: neither the project's nor the campaign's description is editable
        desc = _show(page, "Viewed")
        wait_until(lambda: "bob's hypothesis" in desc.inner_text(), 30, "the project's description")
        assert desc.get_attribute("data-editable") == "false" and desc.locator(".jp-mltrack-edit").count() == 0
        assert "needs the role owner; you are a viewer" in desc.locator(".jp-mltrack-editable").get_attribute("title")
        desc = _show(page, "Viewed", "Viewed-c")
        assert desc.get_attribute("data-editable") == "false" and desc.locator(".jp-mltrack-edit").count() == 0
        # a contributor: the campaign's, not the project's
        desc = _show(page, "Shared")
        wait_until(lambda: "bob's hypothesis" in desc.inner_text(), 30, "the project's description")
        assert desc.get_attribute("data-editable") == "false"
        desc = _show(page, "Shared", "Shared-c")
        assert desc.get_attribute("data-editable") == "true"
        desc.locator(".jp-mltrack-edit").click()
        desc.locator("textarea").fill("alice's note")
        desc.locator(".jp-mltrack-save").click()
        wait_until(lambda: "alice's note" in desc.inner_text(), 30, "the campaign's description saved and shown")
        store = team_lab.store()
        try:
            assert store.campaign_named("Shared-c")["description"] == "alice's note"
        finally:
            store.close()
