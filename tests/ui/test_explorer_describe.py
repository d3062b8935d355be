"""Campaigns and descriptions in the explorer, in Debian's chromium over a real server and store: the experiment and
campaign pickers scope the runs table, the description of what is shown (project, experiment, campaign) sits above
the table and is edited in place; a run's description and tags are edited in its detail (opened from the table).
Every wait is on a condition (the store's answer, an element's state), never on time."""

from __future__ import annotations

import time

import pytest

from .conftest import new_page, open_lab, wait_until

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def described_lab(lab):
    store = lab.store()
    now = time.time()
    try:
        store.write_batch({
            "runs": [{"id": f"d{i}", "name": f"desc-{i}", "project": "Described", "start_time": now - 10 + i,
                      "experiments": ["baseline"] if i < 2 else ["tuned"], "campaigns": ["sweep"] if i % 2 else []}
                     for i in range(4)],
            "tags": [{"run_id": "d1", "key": "team", "value": "a"}, {"run_id": "d1", "key": "old", "value": "x"}],
            "updates": [{"run_id": f"d{i}", "status": "finished", "end_time": now} for i in range(4)],
        })
        store.create_project("Described", "house prices: does more data beat a better model?")
        store.create_campaign("Described", "sweep", "the learning rate matters most")
    finally:
        store.close()
    return lab


@pytest.fixture
def dpage(browser, described_lab, request):
    with new_page(browser, described_lab, request.node.name) as p:
        yield p


def _open(page, lab):
    open_lab(page, lab)
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('mltrack:open-explorer'); }")
    page.wait_for_selector(".jp-mltrack-explorer-project", state="visible")
    page.select_option(".jp-mltrack-explorer-project", "Described")
    page.wait_for_selector('.jp-mltrack-explorer[data-project="Described"]')


def _rows(page) -> list[str]:
    return sorted(page.eval_on_selector_all(".jp-mltrack-explorer-row[data-run-id]",
                                            "els => els.map(e => e.dataset.runId)"))


def _store(lab, read):
    store = lab.store()
    try:
        return read(store)
    finally:
        store.close()


def test_campaign_and_experiment_pickers_and_the_description_above_the_table(dpage, described_lab):
    page, lab = dpage, described_lab
    _open(page, lab)
    wait_until(lambda: _rows(page) == ["d0", "d1", "d2", "d3"], 30, "the project's four runs")
    desc = page.locator(".jp-mltrack-explorer-description")
    wait_until(lambda: "does more data beat" in desc.inner_text(), 30, "the project's description")
    assert desc.get_attribute("data-kind") == "project"
    # the campaign picker scopes the table and shows the campaign's hypothesis
    page.wait_for_selector('.jp-mltrack-explorer-campaign option[value="sweep"]', state="attached")
    page.select_option(".jp-mltrack-explorer-campaign", "sweep")
    wait_until(lambda: _rows(page) == ["d1", "d3"], 30, "the campaign's runs")
    wait_until(lambda: desc.get_attribute("data-kind") == "campaign", 30, "the campaign's description shown")
    assert "the learning rate matters most" in desc.inner_text()
    # the experiment picker (clears the campaign)
    page.select_option(".jp-mltrack-explorer-experiment", "tuned")
    wait_until(lambda: _rows(page) == ["d2", "d3"], 30, "the experiment's runs")
    assert page.input_value(".jp-mltrack-explorer-campaign") == ""
    wait_until(lambda: desc.get_attribute("data-name") == "tuned", 30, "the experiment's description shown")
    # edit the experiment's description in place; it reaches the store and stays shown
    desc.locator(".jp-mltrack-edit").click()
    box = desc.locator("textarea.jp-mltrack-editable-input")
    box.fill("tuned: lr 0.01 and 200 trees")
    desc.locator(".jp-mltrack-save").click()
    wait_until(lambda: _store(lab, lambda s: s.experiment_named("Described", "tuned")["description"])
               == "tuned: lr 0.01 and 200 trees", 30, "the description stored")
    wait_until(lambda: "tuned: lr 0.01 and 200 trees" in desc.inner_text()
               and desc.locator(".jp-mltrack-editable").get_attribute("data-editing") == "false", 30,
               "the saved description shown")
    # back to all runs: the project's description, edited and cleared with Ctrl+Enter
    page.select_option(".jp-mltrack-explorer-experiment", "")
    wait_until(lambda: len(_rows(page)) == 4 and desc.get_attribute("data-kind") == "project", 30, "all runs again")
    desc.locator(".jp-mltrack-edit").click()
    desc.locator("textarea.jp-mltrack-editable-input").fill("")
    desc.locator("textarea.jp-mltrack-editable-input").press("Control+Enter")
    wait_until(lambda: _store(lab, lambda s: s.project_named("Described")["description"]) == "", 30,
               "the project's description cleared")
    wait_until(lambda: "No description yet" in desc.inner_text(), 30, "the placeholder shown")


def test_a_runs_description_and_tags_are_edited_in_its_detail(dpage, described_lab):
    page, lab = dpage, described_lab
    _open(page, lab)
    wait_until(lambda: "d1" in _rows(page), 30, "the runs")
    page.click('.jp-mltrack-explorer-row[data-run-id="d1"] .jp-mltrack-explorer-run-link')
    detail = page.locator('.jp-mltrack-run-detail[data-run-id="d1"]')
    detail.wait_for(state="visible")
    # the description
    described = detail.locator(".jp-mltrack-run-description")
    described.locator(".jp-mltrack-edit").click()
    described.locator("textarea").fill("first try with 100 trees")
    described.locator(".jp-mltrack-save").click()
    wait_until(lambda: _store(lab, lambda s: s.get_run("d1")["description"]) == "first try with 100 trees", 30,
               "the run's description stored")
    wait_until(lambda: "first try with 100 trees" in described.inner_text(), 30, "the description shown")
    # a tag's value changed in place, one removed, one added
    tags = detail.locator(".jp-mltrack-tags-editor")
    tags.locator('tr[data-tag-key="team"] .jp-mltrack-tag-value').click()
    value = tags.locator('tr[data-tag-key="team"] input.jp-mltrack-tag-value-input')
    value.fill("b")
    value.press("Enter")
    wait_until(lambda: _store(lab, lambda s: s.get_run("d1")["tags"]).get("team") == "b", 30, "the tag changed")
    tags.locator('tr[data-tag-key="old"] .jp-mltrack-tag-remove').click()
    wait_until(lambda: "old" not in _store(lab, lambda s: s.get_run("d1")["tags"]), 30, "the tag removed")
    tags.locator(".jp-mltrack-tag-add-key").fill("reviewed")
    tags.locator(".jp-mltrack-tag-add-value").fill("yes")
    tags.locator(".jp-mltrack-tag-add-button").click()
    wait_until(lambda: _store(lab, lambda s: s.get_run("d1")["tags"]) == {"team": "b", "reviewed": "yes"}, 30,
               "the tag added")
    wait_until(lambda: tags.locator('tr[data-tag-key="reviewed"]').count() == 1
               and tags.locator('tr[data-tag-key="old"]').count() == 0, 30, "the tags shown as stored")
    # a bad tag key is refused by the server, and said where it was typed
    tags.locator(".jp-mltrack-tag-add-key").fill("x" * 300)
    tags.locator(".jp-mltrack-tag-add-button").click()
    wait_until(lambda: tags.locator(".jp-mltrack-edit-error").count() == 1, 30, "the refusal shown")
    assert "tag" in tags.locator(".jp-mltrack-edit-error").inner_text()
