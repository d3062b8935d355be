"""The router of an A/B test: which model answers a request (:mod:`.strategies`), what each model did
(:mod:`.ab_stats`), rewards sent back for a request (``feedback``), and the test's tracked run (:mod:`.ab_record`).

The service (``serving/app.py``) holds one :class:`Router` per process for a deployment of kind ``ab_test``::

    ref, request_id = router.choose(key)         # key: header X-MLTrack-Key or the body's "key" (None: no key)
    ... predict with models[ref] ...
    router.record(ref, latency_s, ok)
    router.feedback(body)                         # POST …/feedback {"request_id": …, "reward": 1.0}
    router.stats()                                # GET …/info
    router.close()                                # shutdown: the run ends (finished)

Options (the deployment's ``options``): ``epsilon`` (epsilon_greedy), ``seed`` (the random generator's seed, for
reproducible tests; default: the OS's entropy, per process), ``record_interval`` (seconds between two writes of the
run's series, default 5, at least 1), ``feedback_window`` (request ids kept per process for feedback, default
100,000), ``record`` (false: no tracked run — benchmarks and tests of routing alone).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Mapping, TypedDict

from ..core.errors import InvalidInput
from .ab_stats import DEFAULT_FEEDBACK_WINDOW, ModelStats, ModelStatsDict, RequestIds, parse_feedback
from .strategies import check_strategy, make_strategy, process_rng

#: The options an A/B test reads (besides its strategy's).
AB_OPTIONS = ("seed", "record_interval", "feedback_window", "record", "epsilon")


class FeedbackAnswer(TypedDict):
    request_id: str
    model: str
    reward: float


class AbStats(TypedDict):
    strategy: str
    run_id: str | None
    models: list[ModelStatsDict]


def check_ab_options(strategy: str | None, models: Mapping[str, float], options: Mapping[str, Any]) -> str:
    """Refuse an A/B test's unknown strategy, unknown option or bad option value (:class:`InvalidInput` naming it)
    before anything starts; answers the strategy."""
    strategy = check_strategy(strategy, list(models.values()), options)
    for k in options:
        if k not in AB_OPTIONS:
            raise InvalidInput(f"options: unknown option {k!r:.60} of an A/B test (options: {', '.join(AB_OPTIONS)})")
    for k, lo, hi in (("record_interval", 1.0, 86400.0), ("feedback_window", 1, 10_000_000)):
        v = options.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi):
            raise InvalidInput(f"options.{k} must be a number from {lo:g} to {hi:g}, not {v!r:.60}")
    if "record" in options and not isinstance(options["record"], bool):
        raise InvalidInput("options.record must be true or false")
    seed = options.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str))):
        raise InvalidInput("options.seed must be an integer or a string")
    return strategy


class Router:
    """Routes the requests of one A/B test in one process. ``spec`` is the deployment's
    :class:`~jupyter_mltrack.serving.spec.ServiceSpec`; ``models`` maps each model reference of ``spec.models`` to
    its loaded model (only the keys are used here)."""

    def __init__(self, spec: Any, models: Mapping[str, Any] | None = None, *, start: bool = True):
        options = dict(spec.options or {})
        self.strategy_name = check_ab_options(spec.strategy, spec.models, options)
        self.refs: list[str] = list(spec.models)
        self.index = {ref: i for i, ref in enumerate(self.refs)}
        self.models = [ModelStats(ref) for ref in self.refs]
        self.lock = threading.Lock()
        rng = process_rng(options.get("seed"))
        self.strategy = make_strategy(self.strategy_name, list(spec.models.values()), options, self.reward_means, rng)
        key = hashlib.blake2b(f"{spec.project}\0{spec.name}\0{spec.run_id or ''}".encode(), digest_size=32).digest()
        self.ids = RequestIds(key, len(self.refs), int(options.get("feedback_window") or DEFAULT_FEEDBACK_WINDOW))
        self.run = None
        if options.get("record", True) and start:
            from .ab_record import DEFAULT_RECORD_INTERVAL, AbRun, tracking_client

            params = {"models": dict(spec.models), "strategy": self.strategy_name, "options": options}
            self.run = AbRun(spec.run_id or ab_run_id(spec.project, spec.name), spec.name, spec.project, params,
                             tracking_client(spec.uri), self.stats_list,
                             options.get("record_interval") or DEFAULT_RECORD_INTERVAL, deployment=spec.name).start()

    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run is not None else None

    # -- per request ----------------------------------------------------------------------------------------------

    def choose(self, key: str | None = None) -> tuple[str, str]:
        """The model that answers this request and the request's id (for feedback)."""
        i = self.strategy.pick(key)
        return self.refs[i], self.ids.issue(i)

    def record(self, ref: str, latency_s: float, ok: bool = True) -> None:
        """What the request ``choose`` sent to ``ref`` cost (seconds) and whether it was answered."""
        m = self.models[self.index[ref]]
        with self.lock:
            m.record(latency_s, ok)

    def feedback(self, body: Any) -> FeedbackAnswer:
        """A reward for an earlier request: ``{"request_id": "...", "reward": 1.0}``. Raises :class:`InvalidInput`
        (400) for a missing or non-finite field, :class:`NotFound` (404) for a request id this test did not issue
        (or forgot: see ``feedback_window``), :class:`Conflict` (409) for a second reward of one request."""
        rid, reward = parse_feedback(body)
        i = self.ids.take(rid)
        m = self.models[i]
        with self.lock:
            m.reward(reward)
        return {"request_id": rid, "model": m.ref, "reward": reward}

    # -- reading ----------------------------------------------------------------------------------------------------

    def reward_means(self) -> list[tuple[float, int]]:
        return [(m.reward_sum / m.reward_count if m.reward_count else 0.0, m.reward_count) for m in self.models]

    def stats_list(self) -> list[ModelStatsDict]:
        with self.lock:
            return [m.as_dict() for m in self.models]

    def stats(self) -> AbStats:
        """Per model: requests, errors, latency p50/p99 (ms), mean reward and reward count — of this process."""
        return {"strategy": self.strategy_name, "run_id": self.run_id, "models": self.stats_list()}

    def close(self) -> None:
        """Record the last counts and end the test's run (finished)."""
        if self.run is not None:
            self.run.close("finished")


def ab_run_id(project: str, name: str) -> str:
    """The run of a test started without one (``mltrack serve`` of an A/B spec without ``run_id``): the same for
    every worker, so they record into one run."""
    return "ab-" + hashlib.blake2b(f"{project}\0{name}".encode(), digest_size=8).hexdigest()
