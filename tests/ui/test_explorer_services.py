"""Model services in the explorer, in a real JupyterLab and Debian's chromium, with real service processes and real
HTTP: a registered scikit-learn model deployed from the Deploy button of its version, predicting through the
server's front door, stopped, started and deleted from the Services tab; an A/B test's panel counting real predict
requests and rewards per model, and its Promote button moving the alias to the winner."""

from __future__ import annotations

import pytest
import requests

from ..serving._models import V1, register_house
from .conftest import SHOTS, open_lab, wait_until

pytestmark = pytest.mark.ui

ROWS = {"inputs": [{"sqft": 2, "rooms": 1}]}


def _call(lab, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, lab.url + path, headers={"Authorization": f"token {lab.token}"}, timeout=60, **kw)


@pytest.fixture(scope="module")
def serve_lab(lab):
    """Project Serve: house v1 (3·sqft + 2·rooms + 1, @champion) and v2 (10·sqft). Every deployment is deleted at
    the end (their processes outlive the server otherwise)."""
    register_house(str(lab.store_dir), project="Serve")
    yield lab
    for d in _call(lab, "GET", "mltrack/api/deployments").json()["deployments"]:
        _call(lab, "DELETE", f"mltrack/api/deployments/{d['name']}")


def _settled(el, status: str) -> bool:
    """``el`` (a service's row) shows ``status`` and no request for it is under way."""
    return el.count() == 1 and el.get_attribute("data-status") == status and el.get_attribute("data-pending") == ""


def _open_tab(page, lab, tab: str):
    open_lab(page, lab)
    page.wait_for_function("() => window.jupyterapp.commands.hasCommand('mltrack:open-explorer')", timeout=60_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('mltrack:open-explorer'); }")
    page.wait_for_selector(".jp-mltrack-explorer-project", state="visible")
    page.select_option(".jp-mltrack-explorer-project", "Serve")
    page.wait_for_selector('.jp-mltrack-explorer[data-project="Serve"]')
    page.click(f'.jp-mltrack-explorer-tab[data-tab="{tab}"]')


def test_deploy_a_model_version_from_its_button_predict_stop_start_delete(serve_lab, page):
    lab = serve_lab
    page.on("dialog", lambda d: d.accept())  # Delete asks for confirmation
    _open_tab(page, lab, "models")
    v1 = page.locator('.jp-mltrack-models-version[data-model-name="house"][data-model-version="1"]')
    v1.locator(".jp-mltrack-deploy").click()
    v1.locator(".jp-mltrack-deploy-name").fill("house-ui")
    assert v1.locator(".jp-mltrack-deploy-ref").input_value() == "house@1"
    v1.locator(".jp-mltrack-deploy-go").click()
    # "Deploying…" until POST deployments answers (the service answers its health check by then)
    service = v1.locator('.jp-mltrack-version-service[data-deployment="house-ui"]')
    wait_until(lambda: _settled(service, "running"), 150, "the service running")
    assert v1.locator(".jp-mltrack-deploy-go").count() == 0 and v1.locator(".jp-mltrack-service-error").count() == 0
    assert "/mltrack/serve/house-ui/predict" in service.locator(".jp-mltrack-service-url").inner_text()
    port = _call(lab, "GET", "mltrack/api/deployments/house-ui").json()["port"]
    assert f"port {port}" in service.inner_text()

    # a real predict request through the server's front door
    r = _call(lab, "POST", "mltrack/serve/house-ui/predict", json=ROWS)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == pytest.approx([V1(2, 1)]) and r.json()["version"] == 1

    # the Services tab lists it; Stop, Start and Delete act on the real process
    page.click('.jp-mltrack-explorer-tab[data-tab="services"]')
    row = page.locator('.jp-mltrack-service[data-deployment="house-ui"]')
    row.wait_for(timeout=30_000)
    assert row.get_attribute("data-status") == "running" and row.get_attribute("data-kind") == "model"
    assert row.locator(".jp-mltrack-service-serves").inner_text() == "house@1"
    row.locator(".jp-mltrack-service-stop").click()
    wait_until(lambda: _settled(row, "stopped"), 60, "the service stopped")
    assert _call(lab, "GET", "mltrack/api/deployments/house-ui").json()["status"] == "stopped"
    assert _call(lab, "POST", "mltrack/serve/house-ui/predict", json=ROWS).status_code == 503
    row.locator(".jp-mltrack-service-start").click()
    wait_until(lambda: _settled(row, "running"), 150, "the service started again")
    assert _call(lab, "POST", "mltrack/serve/house-ui/predict", json=ROWS).status_code == 200
    row.locator(".jp-mltrack-service-delete").click()
    wait_until(lambda: row.count() == 0, 60, "the deployment deleted")
    assert _call(lab, "GET", "mltrack/api/deployments/house-ui").status_code == 404


def test_ab_panel_counts_real_requests_and_promotes_the_winner(serve_lab, page):
    lab = serve_lab
    r = _call(lab, "POST", "mltrack/api/deployments", json={
        "name": "house-ab", "project": "Serve", "kind": "ab_test", "models": {"house@1": 0.5, "house@2": 0.5},
        "strategy": "round_robin"})
    assert r.status_code == 201, r.text
    run_id = r.json()["run_id"]
    answered = {"house@1": 0, "house@2": 0}
    for i in range(20):
        a = _call(lab, "POST", "mltrack/serve/house-ab/predict", json=ROWS)
        assert a.status_code == 200, a.text
        ref = a.json()["ref"]
        answered[ref] += 1
        if i < 8:  # rewards: the challenger does better
            f = _call(lab, "POST", "mltrack/serve/house-ab/feedback",
                      json={"request_id": a.json()["request_id"], "reward": 1.0 if ref == "house@2" else 0.0})
            assert f.status_code == 200, f.text
    assert answered == {"house@1": 10, "house@2": 10}

    _open_tab(page, lab, "services")
    row = page.locator('.jp-mltrack-service[data-deployment="house-ab"]')
    row.wait_for(timeout=30_000)
    assert row.get_attribute("data-kind") == "ab_test" and row.get_attribute("data-status") == "running"
    assert row.locator(".jp-mltrack-service-serves").inner_text() == "house@1 50 % · house@2 50 %"
    row.locator(".jp-mltrack-ab-toggle").click()
    panel = page.locator('.jp-mltrack-ab-panel[data-deployment="house-ab"]')
    m1 = panel.locator('.jp-mltrack-ab-model[data-model="house@1"]')
    m2 = panel.locator('.jp-mltrack-ab-model[data-model="house@2"]')
    wait_until(lambda: m1.locator(".jp-mltrack-ab-requests").inner_text() == "10", 30, "house@1's requests")
    assert m2.locator(".jp-mltrack-ab-requests").inner_text() == "10"
    assert m1.locator(".jp-mltrack-ab-errors").inner_text() == "0"
    assert float(m1.locator(".jp-mltrack-ab-p50").inner_text()) > 0
    assert float(m2.locator(".jp-mltrack-ab-p99").inner_text()) >= float(m2.locator(".jp-mltrack-ab-p50").inner_text())
    assert m2.locator(".jp-mltrack-ab-reward").inner_text() == "1.000 (n=4)"
    assert m1.locator(".jp-mltrack-ab-reward").inner_text() == "0.000 (n=4)"
    page.screenshot(path=str(SHOTS / "ab_panel.png"))
    # live: more requests show up without reloading
    for _ in range(4):
        assert _call(lab, "POST", "mltrack/serve/house-ab/predict", json=ROWS).status_code == 200
    wait_until(lambda: m1.locator(".jp-mltrack-ab-requests").inner_text() == "12", 30, "the panel to follow")

    # Promote the challenger: house@champion moves to v2 and the test stops (its run's last values stay shown)
    m2.locator(".jp-mltrack-ab-promote").click()
    wait_until(lambda: _settled(row, "stopped"), 60, "the test stopped by the promotion")
    assert _call(lab, "GET", "mltrack/api/models/resolve?ref=house@champion&project=Serve").json()["version"] == 2
    assert lab.api(f"mltrack/api/runs/{run_id}")["tags"].get("promoted")
    wait_until(lambda: m1.locator(".jp-mltrack-ab-requests").inner_text() == "12", 30, "the run's recorded counts")
    assert "its run's last values" in panel.inner_text()
    assert m2.locator(".jp-mltrack-ab-reward").inner_text() == "1.000 (n=4)"  # as mlt.ab_results reads the run
    assert m2.locator(".jp-mltrack-ab-requests").inner_text() == "12"
    # its run's charts: the Metrics tab with the test's run selected
    panel.locator(".jp-mltrack-ab-run").click()
    page.wait_for_selector('.jp-mltrack-explorer-tab[data-tab="metrics"][aria-selected="true"]')
    wait_until(lambda: "1 selected" in page.locator(".jp-mltrack-explorer-count").inner_text(), 30, "the run selected")
