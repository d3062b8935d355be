"""A model service as an ASGI app (Starlette): :func:`build_app` loads the spec's model(s) from the store with the
registry's loader and answers

- ``POST /predict`` ``{"inputs": [{col: v, …}, …]}`` (records), ``{"inputs": {col: [v, …], …}}`` (columns) or
  ``{"inputs": [[v, …], …]}`` (rows in the model's feature order) → ``{"predictions": […], "model": "house",
  "version": 3}``; a mistake is a 4xx ``{"error": {"code", "message", "field"}}`` naming the field or column (400),
  a body that is not JSON (400) or too large (413);
- ``GET /health`` → ``{"status": "ok", "name", "models": [{"ref", "model", "version"}]}``;
- ``GET /info`` → the spec, the models served (name, version, columns) and, for an A/B test, the router's stats;
- ``POST /feedback`` (A/B tests) → the router's answer.

**Speed.** The body is decoded with msgspec; a model that accepts a numeric array (probed once at load,
:func:`.inputs.model_info`) gets a float64 array built straight from the JSON values, never a DataFrame. A request of
at most :data:`INLINE_ROWS` rows predicts on the event loop (a thread hop costs more than a small model's predict);
bigger ones in the thread pool so ``/health`` stays responsive.

**Alias moves.** Every ``spec.poll_interval`` seconds (default 2; 0: never) a background task resolves each model
reference that can move (``house@champion``, ``house`` — not ``house@3``) in a worker thread; when it names another
version, the new model is loaded and probed first, then the reference in :attr:`Service.models` is replaced (one
dict item assignment, atomic). A request holds the model object it started with, so requests in flight finish on
the old version and none is dropped. Each uvicorn worker polls on its own.

**A/B tests (the hook for ``jupyter_mltrack.serving.ab``).** For ``spec.kind == "ab_test"`` the service does::

    from .ab import Router
    router = Router(spec, models)      # models: dict ref → Loaded (``.model``, ``.name``, ``.version``, ``.ref``),
                                       # the very dict the alias poller updates in place
    ref, request_id = router.choose(key)  # per request; key = header X-MLTrack-Key, else body field "key", else None
    router.record(ref, latency_s, ok)  # after predicting (ok False when the model raised)
    router.feedback(body)              # POST /feedback with the decoded JSON body; its return value is the answer
    router.stats()                     # included in GET /info as "router"
    router.close()                     # on shutdown

The answer of an A/B predict also carries ``"ref"`` (the reference chosen) and ``"request_id"`` (what a reward
sent to ``POST /feedback`` names).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.errors import InvalidInput, MLTrackError
from ..core.validation import parse_ref
from .inputs import BadInput, ModelInfo, model_info, parse_inputs, predictions_list
from .spec import SPEC_ENV, ServiceSpec

log = logging.getLogger("jupyter_mltrack.serving")

#: Requests of at most this many rows predict on the event loop; bigger ones in a worker thread.
INLINE_ROWS = 64
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@dataclass
class Loaded:
    """A model version loaded in the service: the reference it answers for, the model's name, version and project,
    the object itself and what its input looks like."""

    ref: str
    name: str
    version: int
    project: str
    model: Any
    info: ModelInfo

    def describe(self) -> dict:
        return {"ref": self.ref, "model": self.name, "version": self.version, "project": self.project,
                "columns": self.info.columns, "n_features": self.info.n_features,
                "python_class": f"{type(self.model).__module__}.{type(self.model).__qualname__}"}


def load(backend: Any, ref: str, project: str) -> Loaded:
    """Resolve ``ref`` in ``project`` and load its model (blocking: call it from a thread on a running loop)."""
    from ..client.registry import load_model_version

    v = backend.resolve_model(ref, project)
    model, _ = load_model_version(backend, v, ref)
    return Loaded(ref, v["name"], int(v["version"]), v["project"], model, model_info(model))


def _error(status: int, message: str, field: str | None = None, code: str | None = None) -> Response:
    err: dict[str, Any] = {"code": code or ("too_large" if status == 413 else "invalid"), "message": message}
    if field is not None:
        err["field"] = field
    return Response(_encode({"error": err}), status, media_type="application/json")


def _movable(ref: str) -> bool:
    return parse_ref("model", ref)[2] is None  # an alias or the newest version; a version number never moves


class Service:
    """The state of one service process: its spec, store backend, loaded models and (A/B tests) router."""

    def __init__(self, spec: ServiceSpec, backend: Any = None):
        self.spec = spec.validate()
        if backend is None:
            from ..client.backend import open_backend

            backend = open_backend(spec.uri)
        self.backend = backend
        self.models: dict[str, Loaded] = {ref: load(backend, ref, spec.project) for ref in spec.models}
        self.router: Any = None
        if spec.kind == "ab_test":
            try:
                from .ab import Router  # type: ignore[import-not-found]
            except ImportError as e:
                raise InvalidInput(f"kind 'ab_test' needs jupyter_mltrack.serving.ab, which is not available: {e}"
                                   ) from None
            self.router = Router(spec, self.models)
        self.started_at = time.time()
        self.swaps = 0
        self._poller: asyncio.Task | None = None
        warnings.filterwarnings("ignore", message="X does not have valid feature names")

    # -- alias moves ------------------------------------------------------------------------------------------------

    async def poll_forever(self) -> None:
        refs = [r for r in self.spec.models if _movable(r)]
        if not refs or self.spec.poll_interval <= 0:
            return
        while True:
            await asyncio.sleep(self.spec.poll_interval)
            for ref in refs:
                try:
                    await self.refresh(ref)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # the store unreachable, a version that fails to load: keep serving
                    log.warning("model service %s: checking %s failed: %s", self.spec.name, ref, e)

    async def refresh(self, ref: str) -> bool:
        """Load the version ``ref`` names now if it is not the one served, then swap it in. True when swapped."""
        current = self.models[ref]
        v = await run_in_threadpool(self.backend.resolve_model, ref, self.spec.project)
        if int(v["version"]) == current.version and v["name"] == current.name:
            return False
        new = await run_in_threadpool(load, self.backend, ref, self.spec.project)
        self.models[ref] = new  # one assignment: requests in flight keep the object they took
        self.swaps += 1
        log.info("model service %s: %s now serves version %d (was %d)", self.spec.name, ref, new.version,
                 current.version)
        return True

    # -- endpoints --------------------------------------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.spec.max_body:
            return _error(413, f"the body is {length} bytes; the limit is {self.spec.max_body}", "body")
        body = await request.body()
        if len(body) > self.spec.max_body:
            return _error(413, f"the body is {len(body)} bytes; the limit is {self.spec.max_body}", "body")
        try:
            doc = _decode(body)
        except msgspec.DecodeError as e:
            return _error(400, f"the body is not JSON: {e}", "body")
        if not isinstance(doc, dict) or "inputs" not in doc:
            return _error(400, 'the body must be a JSON object with the field "inputs": records '
                          '[{column: value, …}, …] or columns {column: [values…], …}', "inputs")
        ref = self.spec.model
        if self.router is not None:
            key = request.headers.get("x-mltrack-key") or doc.get("key")
            ref, request_id = self.router.choose(key if isinstance(key, str) else None)
        loaded = self.models[ref]
        t0 = time.perf_counter()
        try:
            x, n = parse_inputs(doc["inputs"], loaded.info, self.spec.max_rows)
        except BadInput as e:
            return _error(e.status, str(e), e.field)
        try:
            if n <= INLINE_ROWS:
                pred = loaded.model.predict(x)
            else:
                pred = await run_in_threadpool(loaded.model.predict, x)
            out = predictions_list(pred)
        except (ValueError, TypeError, KeyError) as e:  # the model refused these inputs (a wrong type, a new label)
            if self.router is not None:
                self.router.record(ref, time.perf_counter() - t0, False)
            return _error(400, f"the model {loaded.name} (version {loaded.version}) refused the inputs: {e}",
                          "inputs")
        except Exception as e:
            if self.router is not None:
                self.router.record(ref, time.perf_counter() - t0, False)
            log.exception("model service %s: predict failed", self.spec.name)
            return _error(500, f"the model {loaded.name} (version {loaded.version}) failed: "
                          f"{type(e).__name__}: {e}", None, "internal")
        answer: dict[str, Any] = {"predictions": out, "model": loaded.name, "version": loaded.version}
        if self.router is not None:
            self.router.record(ref, time.perf_counter() - t0, True)
            answer["ref"] = ref
            answer["request_id"] = request_id  # what POST /feedback names
        return Response(_encode(answer), media_type="application/json")

    async def health(self, request: Request) -> Response:
        return Response(_encode({"status": "ok", "name": self.spec.name, "pid": os.getpid(),
                                 "models": [{"ref": m.ref, "model": m.name, "version": m.version}
                                            for m in self.models.values()]}), media_type="application/json")

    async def info(self, request: Request) -> Response:
        doc: dict[str, Any] = {"name": self.spec.name, "project": self.spec.project, "kind": self.spec.kind,
                               "spec": self.spec.to_dict(), "models": [m.describe() for m in self.models.values()],
                               "started_at": self.started_at, "swaps": self.swaps, "pid": os.getpid()}
        if self.router is not None:
            doc["router"] = self.router.stats()
        return Response(_encode(doc), media_type="application/json")

    async def feedback(self, request: Request) -> Response:
        if self.router is None:
            return _error(404, f"service {self.spec.name!r} is not an A/B test: it takes no feedback", None,
                          "not_found")
        body = await request.body()
        if len(body) > self.spec.max_body:
            return _error(413, f"the body is {len(body)} bytes; the limit is {self.spec.max_body}", "body")
        try:
            doc = _decode(body)
        except msgspec.DecodeError as e:
            return _error(400, f"the body is not JSON: {e}", "body")
        try:
            answer = self.router.feedback(doc)
        except MLTrackError as e:
            return _error(getattr(e, "http_status", 400), str(e), getattr(e, "field", None), getattr(e, "code", None))
        return Response(_encode(answer if answer is not None else {"ok": True}), media_type="application/json")

    # -- lifetime ---------------------------------------------------------------------------------------------------

    def lifespan(self, app: Starlette):
        service = self

        class _Lifespan:
            async def __aenter__(self):
                service._poller = asyncio.create_task(service.poll_forever())

            async def __aexit__(self, *exc):
                if service._poller is not None:
                    service._poller.cancel()
                    try:
                        await service._poller
                    except (asyncio.CancelledError, Exception):
                        pass
                if service.router is not None:
                    service.router.close()

        return _Lifespan()


def build_app(spec: ServiceSpec, backend: Any = None) -> Starlette:
    """The ASGI app serving ``spec``: its models are loaded (and probed) before this returns, so a reference that
    names nothing or a model that cannot be read fails here, not on the first request. ``backend``: the store to
    read (default: ``open_backend(spec.uri)``)."""
    service = Service(spec, backend)
    app = Starlette(routes=[
        Route("/predict", service.predict, methods=["POST"]),
        Route("/feedback", service.feedback, methods=["POST"]),
        Route("/health", service.health, methods=["GET"]),
        Route("/info", service.info, methods=["GET"]),
    ], lifespan=service.lifespan)
    app.state.service = service
    return app


def app_from_env() -> Starlette:
    """The app of the spec in the environment variable :data:`.spec.SPEC_ENV` (uvicorn's factory for its workers)."""
    text = os.environ.get(SPEC_ENV)
    if not text:
        raise InvalidInput(f"the environment variable {SPEC_ENV} holds no service spec")
    return build_app(ServiceSpec.from_json(text))


__all__ = ["build_app", "app_from_env", "Service", "Loaded", "load", "INLINE_ROWS"]
