"""A/B tests behind real HTTP: a real uvicorn process serving two registered sklearn versions, routed by each
strategy; feedback and its refusals; the test's tracked run (metric series per model context, ended on stop)."""

from __future__ import annotations

import math
import time
from collections import Counter

import pytest

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.serving.ab import ab_run_id

from ._ab import Service, make_store

MODELS = {"house@champion": 0.7, "house@challenger": 0.3}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("ab-http"))


def test_weighted_split_and_which_model_answered(store_path):
    with Service(store_path, "ab-weighted", "weighted", MODELS, {"seed": 1}) as svc:
        n = 1000
        answers = [svc.predict() for _ in range(n)]
        counts = Counter(a["ref"] for a in answers)
        assert abs(counts["house@champion"] / n - 0.7) <= 0.04, counts
        versions = {a["ref"]: (a["model"], a["version"]) for a in answers}
        assert versions == {"house@champion": ("house", 1), "house@challenger": ("house", 2)}
        assert len({a["request_id"] for a in answers}) == n
        router = svc.info()["router"]
        assert router["strategy"] == "weighted"
        stats = {m["model"]: m for m in router["models"]}
        assert stats["house@champion"]["requests"] == counts["house@champion"]
        assert stats["house@champion"]["errors"] == 0 and stats["house@champion"]["latency_p99_ms"] > 0


def test_sticky_same_key_same_model(store_path):
    with Service(store_path, "ab-sticky", "sticky", MODELS) as svc:
        first = {k: svc.predict(key=f"user-{k}")["ref"] for k in range(40)}
        assert len(set(first.values())) == 2  # keys spread over both models
        for k in range(40):
            assert svc.predict(key=f"user-{k}")["ref"] == first[k]
        # the key may also come in the body
        r = svc.http.post(svc.url + "/predict", json={"inputs": [[0, 0, 0]], "key": "user-3"}, timeout=10).json()
        assert r["ref"] == first[3]


def test_round_robin_alternates(store_path):
    with Service(store_path, "ab-rr", "round_robin", MODELS) as svc:
        refs = [svc.predict()["ref"] for _ in range(6)]
        assert set(refs) == set(MODELS) and all(a != b for a, b in zip(refs, refs[1:]))  # alternating


def test_epsilon_greedy_converges_over_http(store_path):
    with Service(store_path, "ab-eps", "epsilon_greedy", {"house@champion": 1, "house@challenger": 1},
                 {"epsilon": 0.1, "seed": 4}) as svc:
        refs = []
        for _ in range(400):
            a = svc.predict()
            refs.append(a["ref"])
            reward = 1.0 if a["ref"] == "house@challenger" else 0.2
            assert svc.feedback({"request_id": a["request_id"], "reward": reward}).status_code == 200
        late = Counter(refs[-100:])
        assert late["house@challenger"] >= 85, late
        stats = {m["model"]: m for m in svc.info()["router"]["models"]}
        assert stats["house@challenger"]["reward_mean"] == 1.0


def test_feedback_refusals_name_the_field(store_path):
    with Service(store_path, "ab-feedback", "weighted", MODELS) as svc:
        rid = svc.predict()["request_id"]
        for body, status, field in [
            ({"reward": 1}, 400, "request_id"),
            ({"request_id": rid}, 400, "reward"),
            ({"request_id": rid, "reward": "NaN"}, 400, "reward"),
            ({"request_id": rid, "reward": 1, "note": "x"}, 400, "note"),
            ({"request_id": "a.1.0.abcdefabcdef", "reward": 1}, 404, "request_id"),
        ]:
            r = svc.feedback(body)
            assert r.status_code == status, (body, r.text)
            err = r.json()["error"]
            assert err["field"] == field and field in err["message"], err
        r = svc.http.post(svc.url + "/feedback", data=b'{"request_id": "' + rid.encode() + b'", "reward": Infinity}',
                          timeout=10)
        assert r.status_code == 400  # not JSON (msgspec refuses Infinity): the body
        assert svc.feedback({"request_id": rid, "reward": 1}).status_code == 200
        assert svc.feedback({"request_id": rid, "reward": 1}).status_code == 409


def _series(store: Store, run_id: str) -> dict:
    return {m["key"]: m for m in store.get_run(run_id)["metrics"]}


def test_the_test_is_a_tracked_run_with_series_per_model_ended_on_stop(store_path):
    svc = Service(store_path, "house-ab", "weighted", MODELS, {"seed": 2})
    try:
        refs = Counter()
        for _ in range(50):
            a = svc.predict()
            refs[a["ref"]] += 1
            svc.feedback({"request_id": a["request_id"], "reward": 1.0 if a["ref"] == "house@champion" else 0.5})
        run_id = svc.info()["router"]["run_id"]
        assert run_id == ab_run_id("Houses", "house-ab")
        store = Store(store_path)
        try:
            deadline = time.monotonic() + 30
            while True:  # written every second (record_interval), live
                keys = _series(store, run_id)
                if keys.get("requests[model=house@champion]", {}).get("last") == refs["house@champion"]:
                    break
                assert time.monotonic() < deadline, keys
                time.sleep(0.3)
            run = store.get_run(run_id)
            assert run["status"] == "running" and run["name"] == "house-ab" and run["project"] == "Houses"
            assert run["tags"]["kind"] == "ab_test"
            assert run["params"]["strategy"] == "weighted" and run["params"]["models"] == MODELS
        finally:
            store.close()
    finally:
        svc.stop()
    store = Store(store_path)
    try:
        run = store.get_run(run_id)
        assert run["status"] == "finished"
        s = _series(store, run_id)
        for ref in MODELS:
            for name in ("requests", "errors", "latency_p50_ms", "latency_p99_ms", "reward_mean", "reward_count"):
                assert f"{name}[model={ref}]" in s, sorted(s)
            assert s[f"requests[model={ref}]"]["last"] == refs[ref]
            assert s[f"reward_count[model={ref}]"]["last"] == refs[ref]
        assert s["reward_mean[model=house@champion]"]["last"] == 1.0
        assert s["reward_mean[model=house@challenger]"]["last"] == 0.5
        assert s["errors[model=house@champion]"]["last"] == 0
        assert not math.isnan(s["latency_p99_ms[model=house@champion]"]["last"])
        # the run table, the search language and the charts see it like any run
        runs, _ = store.search_runs(project="Houses", filter="tags.kind = 'ab_test'")
        assert run_id in {r["id"] for r in runs}
        runs, _ = store.search_runs(project="Houses", filter="metrics.reward_mean[model=house@challenger] < 0.6")
        assert [r["id"] for r in runs] == [run_id]
        points = store.get_series(run_id, "requests", {"model": "house@champion"})["points"]
        assert len(points.steps) >= 2 and list(points.steps) == sorted(set(points.steps))  # a point per write
        assert points.values[-1] == refs["house@champion"]
    finally:
        store.close()


def test_restarted_test_resumes_its_run(store_path):
    with Service(store_path, "ab-resume", "round_robin", MODELS) as svc:
        svc.predict()
    with Service(store_path, "ab-resume", "round_robin", MODELS) as svc:
        run_id = svc.info()["router"]["run_id"]
        store = Store(store_path)
        try:
            deadline = time.monotonic() + 20
            while store.get_run(run_id)["status"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.2)
        finally:
            store.close()
    store = Store(store_path)
    try:
        run = store.get_run(run_id)
        assert run["status"] == "finished"
        runs, _ = store.search_runs(project="Houses", filter="name = 'ab-resume'")
        assert len(runs) == 1  # one run, resumed
    finally:
        store.close()


def test_several_workers_record_into_one_run_each_in_its_context(store_path):
    with Service(store_path, "ab-workers", "round_robin", MODELS, workers=2) as svc:
        pids = set()
        for _ in range(60):
            svc.predict()
            pids.add(svc.http.get(svc.url + "/health", timeout=5).json()["pid"])
        run_id = svc.info()["router"]["run_id"]
    store = Store(store_path)
    try:
        s = _series(store, run_id)
        req = {k: v["last"] for k, v in s.items() if k.startswith("requests[")}
        assert all("worker=" in k for k in req), req
        assert sum(req.values()) == 60  # additive over the workers' contexts
    finally:
        store.close()
