"""The model lifecycle in the explorer, in a real JupyterLab and Debian's chromium, on a real store: the lineage graph
(reached from the sidebar's run detail and model versions) draws dataset → run → model in columns and walks from a
model version back up to the dataset version."""

from __future__ import annotations

import pytest

from .conftest import open_lab, open_sidebar, wait_until
from .test_lifecycle_ui import _world
from .test_sidebar import _reveal_run

pytestmark = pytest.mark.ui


def _column(graph, node_id: str) -> int:
    return int(graph.locator(f'.jp-mltrack-graph-node[data-node-id="{node_id}"]').get_attribute("data-column"))


def test_lineage_graph_from_the_sidebar_run_and_model_version(lab, page):
    _world(lab)
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
