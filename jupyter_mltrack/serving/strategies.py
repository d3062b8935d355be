"""How an A/B test picks the model that answers a request: one small class per strategy, each a
:class:`Strategy` — ``pick(key)`` answers the index of a model in the test's (ordered) list of models.

- ``weighted``: a cumulative-weight pick (weights normalised) with a random generator seeded once per process;
- ``round_robin``: model 0, 1, …, n-1, 0, … (a shared counter: safe from threads and the event loop alike);
- ``sticky``: a stable hash of the request key (BLAKE2b) placed in the same weight intervals — one key, one model,
  in every worker and after every restart; a request without a key is a weighted pick;
- ``epsilon_greedy``: with probability ``epsilon`` (option, default 0.1) a model chosen uniformly (exploring), else
  the model with the best mean reward so far (rewards come through ``POST …/feedback``); before any model has a
  reward, a weighted pick.

A model of weight 0 gets no request under any strategy (round robin and exploration skip it).

Nothing here imports the ASGI stack; :func:`check_strategy` is what a deployment is checked with before it starts.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import random
from bisect import bisect_right
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..core.errors import InvalidInput

STRATEGIES = ("weighted", "round_robin", "sticky", "epsilon_greedy")
DEFAULT_STRATEGY = "weighted"
DEFAULT_EPSILON = 0.1
#: The options each strategy reads (any strategy also reads the options of :mod:`.ab`: ``seed``,
#: ``record_interval``, ``feedback_window``).
STRATEGY_OPTIONS = {"weighted": (), "round_robin": (), "sticky": (), "epsilon_greedy": ("epsilon",)}


class Strategy(Protocol):
    def pick(self, key: str | None) -> int: ...


def process_rng(seed: Any = None) -> random.Random:
    """The generator of this process: ``seed`` (an option, for reproducible tests) or the OS's entropy — each uvicorn
    worker draws its own sequence."""
    return random.Random(seed if seed is not None else int.from_bytes(os.urandom(8), "little") ^ os.getpid())


def cumulative(weights: Sequence[float]) -> list[float]:
    """The normalised cumulative weights: ``[0.7, 0.3]`` → ``[0.7, 1.0]`` (the last is exactly 1.0)."""
    total = math.fsum(weights)
    if not total > 0 or not math.isfinite(total):
        raise InvalidInput("models: the weights must be finite and not all 0")
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc / total)
    out[-1] = 1.0
    return out


def routed(weights: Sequence[float]) -> list[int]:
    """The models a request may go to: those of weight > 0 (a weight of 0 pauses a model in every strategy)."""
    return [i for i, w in enumerate(weights) if w > 0]


class Weighted:
    def __init__(self, weights: Sequence[float], rng: random.Random):
        self.weights = list(weights)
        self.cum = cumulative(weights)
        self.last = len(self.cum) - 1
        self.random = rng.random

    def at(self, u: float) -> int:
        """The model whose weight interval holds ``u`` in [0, 1) (a model of weight 0 is never picked)."""
        i = bisect_right(self.cum, u)
        return i if i <= self.last else self.last

    def pick(self, key: str | None) -> int:
        return self.at(self.random())


class RoundRobin:
    def __init__(self, weights: Sequence[float]):
        self.models = routed(weights)
        self.n = len(self.models)
        self.counter = itertools.count()  # next() of itertools.count is atomic under the GIL

    def pick(self, key: str | None) -> int:
        return self.models[next(self.counter) % self.n]


def key_point(key: str) -> float:
    """A stable point in [0, 1) for a request key: the same in every process and every run (not Python's hash)."""
    h = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64


class Sticky:
    def __init__(self, weighted: Weighted):
        self.weighted = weighted

    def pick(self, key: str | None) -> int:
        if key is None or key == "":
            return self.weighted.pick(None)
        return self.weighted.at(key_point(key))


class EpsilonGreedy:
    """``means()`` answers each model's (mean reward, reward count), in the models' order."""

    def __init__(self, weighted: Weighted, epsilon: float, means: Callable[[], list[tuple[float, int]]],
                 rng: random.Random):
        self.weighted = weighted
        self.epsilon = epsilon
        self.means = means
        self.random = rng.random
        self.models = routed(weighted.weights)
        self.n = len(self.models)

    def pick(self, key: str | None) -> int:
        u = self.random()
        if u < self.epsilon:
            return self.models[min(int(u / self.epsilon * self.n), self.n - 1)]
        best, best_mean = -1, -math.inf
        for i, (mean, count) in enumerate(self.means()):
            if count and mean > best_mean and self.weighted.weights[i] > 0:
                best, best_mean = i, mean
        return best if best >= 0 else self.weighted.pick(key)


def epsilon_of(options: Mapping[str, Any]) -> float:
    eps = options.get("epsilon", DEFAULT_EPSILON)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0.0 <= eps <= 1.0:
        raise InvalidInput(f"options.epsilon must be a number from 0 to 1, not {eps!r:.60}")
    return float(eps)


def check_strategy(strategy: str | None, weights: Sequence[float], options: Mapping[str, Any]) -> str:
    """Refuse an unknown strategy or its bad options (:class:`InvalidInput` naming the field); answers the strategy
    (``weighted`` for None)."""
    strategy = strategy or DEFAULT_STRATEGY
    if strategy not in STRATEGIES:
        raise InvalidInput(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r:.60}")
    cumulative(weights)
    if strategy == "epsilon_greedy":
        epsilon_of(options)
    return strategy


def make_strategy(strategy: str | None, weights: Sequence[float], options: Mapping[str, Any],
                  means: Callable[[], list[tuple[float, int]]], rng: random.Random) -> Strategy:
    """The strategy object for a test's models (``weights`` in the models' order)."""
    strategy = check_strategy(strategy, weights, options)
    if strategy == "round_robin":
        return RoundRobin(weights)
    weighted = Weighted(weights, rng)
    if strategy == "sticky":
        return Sticky(weighted)
    if strategy == "epsilon_greedy":
        return EpsilonGreedy(weighted, epsilon_of(options), means, rng)
    return weighted
