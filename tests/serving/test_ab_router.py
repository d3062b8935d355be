"""The A/B router on its own (serving/ab.py, strategies.py, ab_stats.py): each strategy's routing, request ids and
feedback, the stats. The same router behind real HTTP is tests/serving/test_ab_http.py."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter

import pytest

from jupyter_mltrack.core.errors import Conflict, InvalidInput, NotFound
from jupyter_mltrack.serving.ab import Router, check_ab_options
from jupyter_mltrack.serving.spec import ServiceSpec

MODELS = {"house@champion": 0.7, "house@challenger": 0.3}


def router(strategy: str, models=None, **options) -> Router:
    spec = ServiceSpec(name="house-ab", project="P", kind="ab_test", models=dict(models or MODELS),
                       strategy=strategy, options={"record": False, **options}).validate()
    return Router(spec, {})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weighted_split_of_10000_within_2_percent(seed):
    r = router("weighted", seed=seed)
    n = 10_000
    counts = Counter(r.choose()[0] for _ in range(n))
    for ref, w in MODELS.items():
        assert abs(counts[ref] / n - w) <= 0.02, counts


def test_weighted_three_models_weights_normalised():
    r = router("weighted", models={"a": 2, "b": 1, "c": 1}, seed=7)
    n = 10_000
    counts = Counter(r.choose()[0] for _ in range(n))
    for ref, w in {"a": 0.5, "b": 0.25, "c": 0.25}.items():
        assert abs(counts[ref] / n - w) <= 0.02, counts


def test_a_model_of_weight_zero_gets_nothing_in_any_strategy():
    models = {"a": 1, "b": 0, "c": 1}
    for strategy in ("weighted", "round_robin", "sticky", "epsilon_greedy"):
        r = router(strategy, models=models, seed=3, epsilon=1.0)
        assert "b" not in {r.choose(f"k{i}")[0] for i in range(2000)}, strategy


def test_the_seed_makes_the_sequence_reproducible_and_processes_differ_without_it():
    def seq(r):
        return [r.choose()[0] for _ in range(200)]

    assert seq(router("weighted", seed=42)) == seq(router("weighted", seed=42))
    code = ("from tests.serving.test_ab_router import router\n"
            "r = router('weighted')\nprint(''.join(r.choose()[0][-1] for _ in range(64)))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(outs) == 2  # two processes, two sequences


def test_round_robin_alternates():
    r = router("round_robin")
    assert [r.choose()[0] for _ in range(6)] == ["house@champion", "house@challenger"] * 3


def test_round_robin_is_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    r = router("round_robin", models={"a": 1, "b": 1, "c": 1})
    with ThreadPoolExecutor(8) as pool:
        picks = list(pool.map(lambda _: r.choose()[0], range(9000)))
    assert Counter(picks) == {"a": 3000, "b": 3000, "c": 3000}


def test_sticky_same_key_same_model_across_routers_and_processes():
    a, b = router("sticky", seed=1), router("sticky", seed=2)
    keys = [f"user-{i}" for i in range(2000)]
    first = {k: a.choose(k)[0] for k in keys}
    assert all(a.choose(k)[0] == first[k] for k in keys)
    assert all(b.choose(k)[0] == first[k] for k in keys)  # another process (another seed): the same model
    share = Counter(first.values())["house@champion"] / len(keys)
    assert abs(share - 0.7) <= 0.05  # keys spread by the weights
    code = ("from tests.serving.test_ab_router import router\n"
            "r = router('sticky')\nprint(','.join(r.choose(f'user-{i}')[0] for i in range(50)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.split(",") == [first[f"user-{i}"] for i in range(50)]


def test_sticky_without_a_key_is_weighted():
    r = router("sticky", seed=5)
    counts = Counter(r.choose(None)[0] for _ in range(5000))
    assert len(counts) == 2 and abs(counts["house@champion"] / 5000 - 0.7) <= 0.03


def test_epsilon_greedy_converges_to_the_better_reward():
    r = router("epsilon_greedy", models={"house@champion": 0.5, "house@challenger": 0.5}, seed=11, epsilon=0.1)
    # the challenger is better: reward 1 with p=0.8, the champion 1 with p=0.3
    import random

    rng = random.Random(0)
    picks = []
    for i in range(4000):
        ref, rid = r.choose()
        picks.append(ref)
        p = 0.8 if ref == "house@challenger" else 0.3
        r.feedback({"request_id": rid, "reward": 1.0 if rng.random() < p else 0.0})
    late = Counter(picks[-1000:])
    assert late["house@challenger"] / 1000 >= 0.9  # exploit (0.9) + half of exploring (0.05)
    stats = {m["model"]: m for m in r.stats()["models"]}
    assert stats["house@challenger"]["reward_mean"] > stats["house@champion"]["reward_mean"]
    assert stats["house@champion"]["reward_count"] > 0  # explored


def test_epsilon_greedy_epsilon_one_explores_uniformly():
    r = router("epsilon_greedy", seed=3, epsilon=1.0)
    counts = Counter(r.choose()[0] for _ in range(4000))
    assert abs(counts["house@challenger"] / 4000 - 0.5) <= 0.03


def test_feedback_validation_names_the_field():
    r = router("weighted", seed=1)
    ref, rid = r.choose()
    cases = [
        ([1], "body", InvalidInput),
        ({"reward": 1}, "request_id", InvalidInput),
        ({"request_id": rid}, "reward", InvalidInput),
        ({"request_id": rid, "reward": "high"}, "reward", InvalidInput),
        ({"request_id": rid, "reward": True}, "reward", InvalidInput),
        ({"request_id": rid, "reward": math.nan}, "reward", InvalidInput),
        ({"request_id": rid, "reward": math.inf}, "reward", InvalidInput),
        ({"request_id": rid, "reward": 1, "extra": 2}, "extra", InvalidInput),
        ({"request_id": "x" * 101, "reward": 1}, "request_id", InvalidInput),
        ({"request_id": "nope", "reward": 1}, "request_id", NotFound),
        ({"request_id": rid[:-1] + ("0" if rid[-1] != "0" else "1"), "reward": 1}, "request_id", NotFound),
    ]
    for body, field, cls in cases:
        with pytest.raises(cls) as e:
            r.feedback(body)
        assert e.value.field == field and field in str(e.value), body
    assert r.feedback({"request_id": rid, "reward": 0.5}) == {"request_id": rid, "model": ref, "reward": 0.5}
    with pytest.raises(Conflict):
        r.feedback({"request_id": rid, "reward": 0.5})  # once per request
    # another test's ids are not this one's
    other = ServiceSpec(name="other", project="P", kind="ab_test", models=MODELS, strategy="weighted",
                        options={"record": False}).validate()
    with pytest.raises(NotFound):
        Router(other, {}).feedback({"request_id": r.choose()[1], "reward": 1})


def test_feedback_memory_is_bounded_and_another_worker_takes_an_id():
    r = router("weighted", seed=1, feedback_window=10)
    first = r.choose()[1]
    ids = [r.choose() for _ in range(20)]
    assert len(r.ids.recent) == 10
    with pytest.raises(NotFound) as e:
        r.feedback({"request_id": first, "reward": 1})
    assert "too old" in str(e.value)
    ref, rid = ids[-1]
    twin = router("weighted", seed=9)  # another worker of the same service: same test, another process
    assert twin.feedback({"request_id": rid, "reward": 2.0})["model"] == ref
    assert {m["model"]: m["reward_count"] for m in twin.stats()["models"]}[ref] == 1


def test_stats_per_model():
    r = router("round_robin")
    for i in range(100):
        ref, _ = r.choose()
        r.record(ref, (i + 1) / 1000, ok=i % 5 != 0)
    s = {m["model"]: m for m in r.stats()["models"]}
    assert s["house@champion"]["requests"] == 50 and s["house@champion"]["errors"] == 10
    assert s["house@challenger"]["requests"] == 50 and s["house@challenger"]["errors"] == 10
    c = s["house@champion"]  # latencies 1, 3, 5, …, 99 ms
    assert c["latency_p50_ms"] == pytest.approx(49, rel=0.05) and c["latency_p99_ms"] == pytest.approx(99, rel=0.03)
    assert c["reward_mean"] is None and c["reward_count"] == 0


def test_bad_strategy_or_options_refused_by_name():
    for strategy, options, field in [("coin_flip", {}, "strategy"), ("epsilon_greedy", {"epsilon": 2}, "epsilon"),
                                     ("weighted", {"colour": 1}, "colour"),
                                     ("weighted", {"record_interval": 0.1}, "record_interval"),
                                     ("weighted", {"feedback_window": "many"}, "feedback_window")]:
        with pytest.raises(InvalidInput) as e:
            check_ab_options(strategy, MODELS, options)
        assert field in str(e.value)
    assert check_ab_options(None, MODELS, {}) == "weighted"
