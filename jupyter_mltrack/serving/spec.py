"""What a model service serves: :class:`ServiceSpec`, the one description passed from whoever starts a service (the
CLI ``mltrack serve``, the server extension's process manager, ``mlt.deploy``) to the service process
(:func:`jupyter_mltrack.serving.app.build_app`), stored as JSON in the deployment's row and handed to uvicorn's
workers through the environment variable :data:`SPEC_ENV`.

Nothing here imports Jupyter, tornado or the ASGI stack.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.errors import InvalidInput
from ..core.validation import (DEPLOYMENT_KINDS, MAX_DEPLOYMENT_MODELS, MAX_DEPLOYMENT_OPTIONS_JSON,
                               check_deployment_name, check_key, check_number, check_text, json_problem, parse_ref)

#: The environment variable through which a service process (and each of its uvicorn workers) gets its spec (JSON).
SPEC_ENV = "MLTRACK_SERVICE_SPEC"
#: Default seconds between two looks at the store for an alias that moved.
DEFAULT_POLL_INTERVAL = 2.0
#: Default limits of one predict request.
DEFAULT_MAX_BODY = 10 * 2**20  # bytes
DEFAULT_MAX_ROWS = 100_000


@dataclass
class ServiceSpec:
    """A service: ``name`` (a URL segment, unique in the store), its ``project``, its ``kind`` (``"model"``: one
    model; ``"ab_test"``: requests routed among ``models`` by ``strategy``), ``models`` (model reference such as
    ``"house@champion"`` → weight; one entry of weight 1.0 for kind ``"model"``), ``strategy`` (None for kind
    ``"model"``), ``options`` (the strategy's settings: sticky key, epsilon… — JSON values), and how the process
    reaches the store: ``uri`` (a path, a SQLAlchemy URL or ``http(s)://server/``; None: ``MLTRACK_URI`` or the
    default store; credentials come from the environment, never from the spec), ``poll_interval`` (seconds between
    looks at the store for a moved alias; 0 turns it off), ``max_body`` (bytes) and ``max_rows`` (rows of one
    request), and ``run_id`` (the tracked run an A/B test records into; None for kind ``"model"``)."""

    name: str
    project: str
    kind: str = "model"
    models: dict[str, float] = field(default_factory=dict)
    strategy: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    uri: str | None = None
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_body: int = DEFAULT_MAX_BODY
    max_rows: int = DEFAULT_MAX_ROWS
    run_id: str | None = None

    @classmethod
    def for_model(cls, ref: str, name: str, project: str, **kw: Any) -> "ServiceSpec":
        """The spec of a service of the one model ``ref`` (``"house@champion"``)."""
        return cls(name=name, project=project, kind="model", models={ref: 1.0}, **kw).validate()

    def validate(self) -> "ServiceSpec":
        """Check every field (raises :class:`InvalidInput` naming it); returns self, normalised."""
        check_deployment_name("name", self.name)
        check_key("project", self.project)
        if self.kind not in DEPLOYMENT_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(DEPLOYMENT_KINDS)}, not {self.kind!r:.60}")
        if not isinstance(self.models, dict) or not self.models:
            raise InvalidInput("models must be a non-empty object: model reference ('house@champion') → weight")
        if len(self.models) > MAX_DEPLOYMENT_MODELS:
            raise InvalidInput(f"models holds {len(self.models)} models; the limit is {MAX_DEPLOYMENT_MODELS}")
        models = {}
        for ref, w in self.models.items():
            parse_ref("model", ref)
            models[ref] = check_number(f"models[{ref!r}] (its weight)", w, 0.0, 1e9)
        if not math.isfinite(sum(models.values())) or (sum(models.values()) <= 0 and self.kind == "ab_test"):
            raise InvalidInput("models: the weights must not all be 0")
        self.models = models
        if self.kind == "model":
            if len(models) != 1:
                raise InvalidInput(f"models: a deployment of kind 'model' serves one model, not {len(models)} "
                                   "(kind 'ab_test' routes among several)")
            if self.strategy is not None:
                raise InvalidInput("strategy applies to kind 'ab_test' only")
        elif self.strategy is not None:
            check_key("strategy", self.strategy)
        if not isinstance(self.options, dict):
            raise InvalidInput(f"options must be an object (a dict), not {type(self.options).__name__}")
        problem = json_problem(self.options)
        if problem:
            raise InvalidInput(f"options: {problem}")
        if len(json.dumps(self.options)) > MAX_DEPLOYMENT_OPTIONS_JSON:
            raise InvalidInput(f"options is longer than {MAX_DEPLOYMENT_OPTIONS_JSON} characters of JSON")
        check_text("uri", self.uri, 4000, nullable=True)
        self.poll_interval = check_number("poll_interval", self.poll_interval, 0.0, 86400.0)
        self.max_body = int(check_number("max_body", self.max_body, 1024, 2**31))
        self.max_rows = int(check_number("max_rows", self.max_rows, 1, 10**8))
        check_text("run_id", self.run_id, 64, nullable=True)
        return self

    @property
    def model(self) -> str:
        """The model reference of a kind-"model" service (the first of ``models`` otherwise)."""
        return next(iter(self.models))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Any) -> "ServiceSpec":
        if not isinstance(d, dict):
            raise InvalidInput(f"a service spec must be an object, not {type(d).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidInput(f"service spec: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
        for required in ("name", "project"):
            if required not in d:
                raise InvalidInput(f"service spec: {required} is required")
        return cls(**d).validate()

    @classmethod
    def from_json(cls, text: str | bytes) -> "ServiceSpec":
        try:
            d = json.loads(text)
        except ValueError as e:
            raise InvalidInput(f"service spec is not JSON: {e}") from None
        return cls.from_dict(d)
