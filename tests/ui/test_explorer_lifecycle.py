"""The model lifecycle in the explorer, in a real JupyterLab and Debian's chromium, on a real store: the lineage graph
(reached from the sidebar's run detail and model versions) draws dataset → run → model in columns and walks from a
model version back up to the dataset version; the Models view lists versions with aliases and stages, moves an
alias and sets a stage through the REST API, and links to the source run and the version's lineage."""

from __future__ import annotations

import pytest

from .conftest import open_lab, open_sidebar, wait_until
from .test_lifecycle_ui import _world
from .test_sidebar import _reveal_run

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def life(lab):
    """The world of test_lifecycle_ui (data d0 → raw v1 → train t1 → house v1 @champion → score s1), and a second
    version of house from run t2."""
    _world(lab)
    store = lab.store()
    try:
        sha, size = store.blobs.put_bytes(b"weights, second try")
        store.write_batch({"runs": [{"id": "t2", "name": "train-2", "project": "Life", "status": "finished"}],
                           "artifacts": [{"run_id": "t2", "name": "model", "type": "model",
                                          "files": [{"path": "model.joblib", "sha256": sha, "size": size}]}]})
        store.register_model("Life", "house", store.find_artifact("t2", "model")["id"])
    finally:
        store.close()
    return lab


def _column(graph, node_id: str) -> int:
    return int(graph.locator(f'.jp-mltrack-graph-node[data-node-id="{node_id}"]').get_attribute("data-column"))


def test_lineage_graph_from_the_sidebar_run_and_model_version(life, page):
    lab = life
    store = lab.store()
    try:
        raw = store.resolve_dataset("raw")
        house = store.resolve_model("house@1", "Life")
        art = store.find_artifact("t1", "model")["id"]
    finally:
        store.close()
    dataset_id = f"dataset:{raw['dataset_id']}:1"
    model_id = f"model:{house['model_id']}:1"
    open_lab(page, lab)
    open_sidebar(page)
    _reveal_run(page, "t1", "Life").click()
    detail = page.locator('.jp-mltrack-run-detail[data-run-id="t1"]')
    detail.locator(".jp-mltrack-lineage-view .jp-mltrack-open-graph").click()

    view = page.locator('.jp-mltrack-explorer-lineage[data-run-id="t1"]')
    view.wait_for(timeout=30_000)
    graph = view.locator(".jp-mltrack-graph")
    graph.locator(f'[data-node-id="{model_id}"]').wait_for(timeout=30_000)
    # the chain dataset → run → artifact → model, each edge drawn, in columns left to right
    for source, target in ((dataset_id, "run:t1"), ("run:t1", f"artifact:{art}"), (f"artifact:{art}", model_id)):
        assert graph.locator(f'path[data-source="{source}"][data-target="{target}"]').count() == 1, (source, target)
    assert _column(graph, dataset_id) < _column(graph, "run:t1") < _column(graph, model_id)
    assert "raw@1" in graph.locator(f'[data-node-id="{dataset_id}"]').inner_text()
    assert "@champion" in graph.locator(f'[data-node-id="{model_id}"]').inner_text()
    # up and down to the end: the data run upstream, the scoring run downstream
    assert graph.locator('[data-node-id="run:d0"]').count() == 1
    assert graph.locator('[data-node-id="run:s1"]').count() == 1
    # one hop only: the run's direct neighbours
    view.locator(".jp-mltrack-lineage-depth").select_option("1")
    wait_until(lambda: graph.locator('[data-node-id="run:d0"]').count() == 0, 30, "depth 1 to drop the data run")
    assert graph.locator(f'[data-node-id="{dataset_id}"]').count() == 1
    page.screenshot(path=str(lab.root.parent / "lineage-graph.png"))

    # from the model version in the sidebar: the graph centred on it, walked up, reaches the dataset version
    detail.locator('.jp-mltrack-model-version[data-model-name="house"] .jp-mltrack-open-graph').click()
    focused = page.locator(f'.jp-mltrack-explorer-lineage[data-focus="{model_id}"]')
    focused.wait_for(timeout=30_000)
    focused.locator(".jp-mltrack-lineage-direction").select_option("up")
    focused.locator(".jp-mltrack-lineage-depth").select_option("all")
    up = focused.locator(".jp-mltrack-graph")
    up.locator(f'[data-node-id="{dataset_id}"]').wait_for(timeout=30_000)
    assert up.locator('[data-node-id="run:d0"]').count() == 1  # the run that logged the dataset
    assert up.locator('[data-node-id="run:s1"]').count() == 0  # downstream of the model: not "up"
    assert "jp-mod-focus" in up.locator(f'[data-node-id="{model_id}"]').get_attribute("class")
    # clicking a run opens its detail in the sidebar; its centre button centres the graph on it
    up.locator('.jp-mltrack-graph-node[data-node-id="run:d0"]').click()
    page.locator('.jp-mltrack-run-detail[data-run-id="d0"]').wait_for(timeout=30_000)
    up.locator('.jp-mltrack-graph-node[data-node-id="run:d0"] .jp-mltrack-graph-center').click()
    page.locator('.jp-mltrack-explorer-lineage[data-focus="run:d0"]').wait_for(timeout=30_000)


def test_models_view_moves_an_alias_sets_a_stage_and_links_runs_and_lineage(life, page):
    lab = life
    open_lab(page, lab)
    open_sidebar(page)
    # from the sidebar's model version to its row in the explorer's Models view
    _reveal_run(page, "t1", "Life").click()
    page.locator('.jp-mltrack-run-detail[data-run-id="t1"] .jp-mltrack-model-version[data-model-name="house"]'
                 " .jp-mltrack-open-model").click()
    view = page.locator('.jp-mltrack-explorer-models[data-model="house"]')
    view.wait_for(timeout=30_000)
    v1 = view.locator('.jp-mltrack-models-version[data-model-version="1"]')
    v2 = view.locator('.jp-mltrack-models-version[data-model-version="2"]')
    assert "jp-mod-focus" in v1.get_attribute("class")
    assert v1.locator('[data-alias="champion"]').count() == 1 and v2.locator("[data-alias]").count() == 0
    assert v1.locator(".jp-mltrack-models-stage").input_value() == "production"
    assert v2.locator(".jp-mltrack-models-run").inner_text() == "t2"

    # move champion to v2 from the UI: one alias, now on v2
    v2.locator(".jp-mltrack-alias-input").fill("champion")
    v2.locator(".jp-mltrack-alias-set").click()
    wait_until(lambda: v2.locator('[data-alias="champion"]').count() == 1, 30, "champion on v2")
    wait_until(lambda: v1.locator('[data-alias="champion"]').count() == 0, 30, "champion gone from v1")
    v2.locator(".jp-mltrack-models-stage").select_option("staging")
    wait_until(lambda: lab.api("mltrack/api/models/resolve?ref=house@2&project=Life")["stage"] == "staging", 30,
               "the stage stored")
    assert lab.api("mltrack/api/models/resolve?ref=house@champion&project=Life")["version"] == 2

    # a version's lineage, and from its model node back to the Models view
    v1.locator(".jp-mltrack-models-lineage").click()
    graph = page.locator(".jp-mltrack-explorer-lineage .jp-mltrack-graph")
    model_node = graph.locator('.jp-mltrack-graph-node[data-kind="model"]')
    model_node.wait_for(timeout=30_000)
    assert graph.locator('[data-kind="dataset"]').count() == 1
    model_node.click()
    view.wait_for(timeout=30_000)
    assert "jp-mod-focus" in view.locator('.jp-mltrack-models-version[data-model-version="1"]').get_attribute("class")
    # the source run opens in the sidebar
    view.locator('.jp-mltrack-models-version[data-model-version="2"] .jp-mltrack-models-run').click()
    page.locator('.jp-mltrack-run-detail[data-run-id="t2"]').wait_for(timeout=30_000)


def test_jobs_tab_lists_a_projects_jobs_with_their_executions(life, page):
    lab = life
    (lab.root / "wide_job.py").write_text("print('hello from the explorer job', flush=True)\n")
    store = lab.store()
    try:
        store.create_job({"name": "wide-job", "script": str(lab.root / "wide_job.py"), "project": "Life"})
        store.create_job({"name": "elsewhere", "script": str(lab.root / "wide_job.py"), "project": "Other"})
    finally:
        store.close()
    open_lab(page, lab)
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('mltrack:open-explorer'); }")
    page.wait_for_selector(".jp-mltrack-explorer-project", state="visible")
    page.select_option(".jp-mltrack-explorer-project", "Life")
    page.click('.jp-mltrack-explorer-tab[data-tab="jobs"]')
    jobs = page.locator('.jp-mltrack-jobs-wide[data-project="Life"]')
    row = jobs.locator('li[data-job="wide-job"]')
    row.wait_for(timeout=30_000)
    assert jobs.locator('li[data-job="elsewhere"]').count() == 0  # another project's job
    assert row.locator(".jp-mltrack-job-execution").count() == 0
    row.locator("button.jp-mltrack-job-run").click()
    execution = row.locator(".jp-mltrack-job-execution")
    wait_until(lambda: execution.count() == 1 and execution.get_attribute("data-status") == "finished", 90,
               "the execution to finish")
    run_link = execution.locator(".jp-mltrack-job-run-link")
    run_id = run_link.inner_text()
    run_link.click()
    page.locator(f'.jp-mltrack-run-detail[data-run-id="{run_id}"]').wait_for(timeout=30_000)


def test_lineage_tab_shows_the_one_run_selected_in_the_table(life, page):
    lab = life
    open_lab(page, lab)
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('mltrack:open-explorer'); }")
    page.wait_for_selector(".jp-mltrack-explorer-project", state="visible")
    page.select_option(".jp-mltrack-explorer-project", "Life")
    page.click('.jp-mltrack-explorer-row[data-run-id="s1"] input[type="checkbox"]')
    page.click('.jp-mltrack-explorer-tab[data-tab="lineage"]')
    graph = page.locator('.jp-mltrack-explorer-lineage[data-run-id="s1"] .jp-mltrack-graph')
    graph.locator('[data-node-id="run:d0"]').wait_for(timeout=30_000)  # the scoring run's model, back to the data
    assert graph.locator('[data-kind="model"]').count() == 1 and graph.locator('[data-kind="dataset"]').count() == 1
