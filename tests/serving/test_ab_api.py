"""The A/B test's Python API on an embedded store — ``mlt.ab_test`` starts a real service process through the
deploy path, ``mlt.ab_results`` reads its run, ``mlt.promote`` moves the alias and stops it, ``mlt.stop_ab_test``
stops without a winner — and the refusals made in the cell, before anything starts."""

from __future__ import annotations

import time

import pytest
import requests

import jupyter_mltrack as mlt
from jupyter_mltrack.core.errors import InvalidInput, NotFound
from jupyter_mltrack.core.store import Store

from ._ab import make_store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("ab-api"))


@pytest.fixture
def embedded(store_path):
    mlt.set_tracking_uri(store_path)
    yield store_path
    for d in mlt.deployments():
        if d["status"] == "running":
            mlt.undeploy(d["name"])
    mlt.set_tracking_uri(None)


def _wait(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.25)


def test_ab_test_results_and_promote(embedded):
    d = mlt.ab_test("house-ab", models={"house@champion": 0.5, "house@challenger": 0.5}, strategy="round_robin",
                    options={"record_interval": 1})
    assert d["status"] == "running" and d["kind"] == "ab_test" and d["run_id"], d
    assert mlt.get_model_version("house@champion")["version"] == 1
    http = requests.Session()
    served = []
    for _ in range(20):
        a = http.post(d["url"] + "/predict", json={"inputs": [[0.5, 0.1, 0.2]]}, timeout=10).json()
        served.append((a["ref"], a["version"]))
        reward = 1.0 if a["ref"] == "house@challenger" else 0.0
        assert http.post(d["url"] + "/feedback", json={"request_id": a["request_id"], "reward": reward},
                         timeout=10).ok
    assert set(served) == {("house@champion", 1), ("house@challenger", 2)}

    def recorded():
        r = mlt.ab_results("house-ab").set_index("model")
        return r.loc["house@challenger", "reward_count"] == 10 and r.loc["house@champion", "requests"] == 10

    _wait(recorded)  # the run is written every second while the test runs
    res = mlt.ab_results("house-ab").set_index("model")
    assert res.loc["house@challenger", "reward_mean"] == 1.0 and res.loc["house@champion", "reward_mean"] == 0.0
    assert res.loc["house@champion", "errors"] == 0 and res.loc["house@champion", "latency_p99_ms"] > 0

    done = mlt.promote("house-ab", "house@challenger", alias="champion")
    assert (done["name"], done["alias"], done["version"]) == ("house", "champion", 2)
    assert done["deployment"]["status"] == "stopped"
    assert mlt.get_model_version("house@champion")["version"] == 2  # the alias moved
    assert mlt.get_model_version("house@challenger")["version"] == 2
    run = mlt.get_run(d["run_id"])
    assert run.info["status"] == "finished" and run.tags["kind"] == "ab_test"
    assert run.tags["promoted"] == "house@challenger → house@champion (version 2)"
    assert mlt.ab_results("house-ab").set_index("model").loc["house@champion", "requests"] == 10  # after the stop
    mlt.set_alias("house@champion", 1)  # as it was, for the other tests
    mlt.undeploy("house-ab")


def test_stop_ab_test_ends_its_run(embedded):
    d = mlt.ab_test("house-stop", models={"house@champion": 1, "house@challenger": 1}, strategy="sticky")
    assert requests.post(d["url"] + "/predict", json={"inputs": [[0, 0, 0]], "key": "u1"}, timeout=10).ok
    stopped = mlt.stop_ab_test("house-stop")
    assert stopped["status"] == "stopped"
    store = Store(embedded)
    try:
        assert store.get_run(d["run_id"])["status"] == "finished"
    finally:
        store.close()
    with pytest.raises(InvalidInput, match="model"):
        mlt.promote("house-stop", "house@3")  # not one of the test's models
    mlt.undeploy("house-stop")


def test_refusals_in_the_cell(embedded):
    with pytest.raises(InvalidInput, match="strategy"):
        mlt.ab_test("bad", models={"house@champion": 1}, strategy="coin_flip")
    with pytest.raises(InvalidInput, match="epsilon"):
        mlt.ab_test("bad", models={"house@champion": 1}, strategy="epsilon_greedy", options={"epsilon": 3})
    with pytest.raises(InvalidInput, match="weights"):
        mlt.ab_test("bad", models={"house@champion": 0, "house@challenger": 0})
    with pytest.raises(NotFound):
        mlt.ab_test("bad", models={"house@nobody": 1}, project="Houses")
    with pytest.raises(InvalidInput, match="alias"):
        mlt.promote("bad", "house@champion", alias="3")
    assert [d["name"] for d in mlt.deployments()] == []


def test_a_test_created_again_under_its_name_is_a_new_run(embedded):
    first = mlt.ab_test("house-again", models={"house@champion": 1, "house@challenger": 1}, strategy="round_robin")
    mlt.undeploy("house-again")
    second = mlt.ab_test("house-again", models={"house@champion": 3, "house@challenger": 1}, strategy="weighted")
    assert second["run_id"] != first["run_id"]
    mlt.stop_ab_test("house-again")
    run = mlt.get_run(second["run_id"])
    assert run.params["models"] == {"house@champion": 3, "house@challenger": 1}
    assert run.params["strategy"] == "weighted" and run.info["status"] == "finished"
    assert mlt.get_run(first["run_id"]).params["strategy"] == "round_robin"
    mlt.undeploy("house-again")
