"""What an A/B test counts, per model, in one service process: requests, errors, latency quantiles (a DDSketch:
bounded memory, 1 % relative accuracy, mergeable) and rewards; and the request ids it handed out, so that a reward
names a request this test answered.

A request id is ``<worker>.<n>.<model>.<mac>``: ``worker`` is random per process, ``n`` counts the process's
requests, ``model`` is the index of the model that answered and ``mac`` a keyed BLAKE2b of the rest under the test's
key. The process that answered keeps its last ``window`` ids (a reward for one of them is taken once); another
worker of the same service, which never saw the id, takes it when the mac is right — so feedback may reach any
worker — and attributes the reward by the model index.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import os
import threading
from collections import OrderedDict
from typing import Any, TypedDict

from ddsketch import LogCollapsingLowestDenseDDSketch

from ..core.errors import Conflict, InvalidInput, MLTrackError, NotFound

#: Request ids kept per process for feedback (option ``feedback_window``).
DEFAULT_FEEDBACK_WINDOW = 100_000
MAX_REQUEST_ID = 100


def refused(cls: type[MLTrackError], message: str, field: str) -> MLTrackError:
    """A refusal naming its field (the service's error answer carries ``field``)."""
    e = cls(message)
    e.field = field  # type: ignore[attr-defined]
    return e


class ModelStatsDict(TypedDict):
    model: str
    requests: int
    errors: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    reward_mean: float | None
    reward_count: int


class ModelStats:
    """The counts of one model in this process (updated under the router's lock)."""

    __slots__ = ("ref", "requests", "errors", "latency", "reward_sum", "reward_count")

    def __init__(self, ref: str):
        self.ref = ref
        self.requests = 0
        self.errors = 0
        self.latency = LogCollapsingLowestDenseDDSketch(relative_accuracy=0.01, bin_limit=2048)
        self.reward_sum = 0.0
        self.reward_count = 0

    def record(self, latency_s: float, ok: bool) -> None:
        self.requests += 1
        if not ok:
            self.errors += 1
        if latency_s >= 0 and latency_s == latency_s:
            self.latency.add(latency_s)

    def reward(self, value: float) -> None:
        self.reward_sum += value
        self.reward_count += 1

    @property
    def reward_mean(self) -> float | None:
        return self.reward_sum / self.reward_count if self.reward_count else None

    def quantile_ms(self, q: float) -> float | None:
        if not self.latency.count:
            return None
        v = self.latency.get_quantile_value(q)
        return None if v is None else v * 1000.0

    def as_dict(self) -> ModelStatsDict:
        return {"model": self.ref, "requests": self.requests, "errors": self.errors,
                "latency_p50_ms": self.quantile_ms(0.5), "latency_p99_ms": self.quantile_ms(0.99),
                "reward_mean": self.reward_mean, "reward_count": self.reward_count}


def parse_feedback(body: Any) -> tuple[str, float]:
    """``{"request_id": "...", "reward": 1.0}`` → (request id, reward); :class:`InvalidInput` naming the field."""
    if not isinstance(body, dict):
        raise refused(InvalidInput, "the body of feedback must be a JSON object with request_id and reward, not "
                      f"{type(body).__name__}", "body")
    unknown = sorted(set(body) - {"request_id", "reward"})
    if unknown:
        raise refused(InvalidInput, f"{unknown[0]!s:.60}: unknown field of feedback (fields: request_id, reward)",
                      str(unknown[0])[:60])
    rid = body.get("request_id")
    if not isinstance(rid, str) or not rid:
        raise refused(InvalidInput, "request_id is required: the request_id of a predict answer (a string)",
                      "request_id")
    if len(rid) > MAX_REQUEST_ID:
        raise refused(InvalidInput, f"request_id is longer than {MAX_REQUEST_ID} characters", "request_id")
    reward = body.get("reward")
    if reward is None:
        raise refused(InvalidInput, "reward is required: a finite number", "reward")
    if isinstance(reward, bool) or not isinstance(reward, (int, float)):
        raise refused(InvalidInput, f"reward must be a number, not {type(reward).__name__}", "reward")
    reward = float(reward)
    if not math.isfinite(reward):
        raise refused(InvalidInput, "reward must be a finite number (not NaN or ±infinity)", "reward")
    return rid, reward


def unknown_request(rid: str) -> MLTrackError:
    return refused(NotFound, f"request_id {rid!r:.100} is not one of this A/B test's requests", "request_id")


class RequestIds:
    """Request ids of one process: issued per request, checked when a reward arrives (bounded: the last ``window``)."""

    def __init__(self, key: bytes, n_models: int, window: int = DEFAULT_FEEDBACK_WINDOW):
        self.key = key
        self.n_models = n_models
        self.window = window
        self.worker = os.urandom(4).hex()
        self.counter = itertools.count(1)
        self.recent: OrderedDict[str, bool] = OrderedDict()  # id → a reward was taken
        self.lock = threading.Lock()

    def mac(self, body: str) -> str:
        return hashlib.blake2b(body.encode(), key=self.key, digest_size=6).hexdigest()

    def issue(self, model: int) -> str:
        body = f"{self.worker}.{next(self.counter):x}.{model}"
        rid = f"{body}.{self.mac(body)}"
        with self.lock:
            self.recent[rid] = False
            if len(self.recent) > self.window:
                self.recent.popitem(last=False)
        return rid

    def take(self, rid: str) -> int:
        """The model index a request id names, once per id (:class:`NotFound` for an id this test did not issue
        or has forgotten, :class:`Conflict` for a second reward of the same request)."""
        parts = rid.split(".")
        if len(parts) != 4 or not hmac.compare_digest(self.mac(".".join(parts[:3])), parts[3]):
            raise unknown_request(rid)
        model = int(parts[2]) if parts[2].isdigit() else -1
        if not 0 <= model < self.n_models:
            raise unknown_request(rid)
        with self.lock:
            if parts[0] == self.worker:
                seen = self.recent.get(rid)
                if seen is None:
                    raise refused(NotFound, f"request_id {rid!r:.100} is too old: feedback is taken for the last "
                                  f"{self.window} requests", "request_id")
                if seen:
                    raise refused(Conflict, f"request_id {rid!r:.100} already has a reward", "request_id")
                self.recent[rid] = True
        return model
