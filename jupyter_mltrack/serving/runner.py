"""Running a service under uvicorn: :func:`run_service` (the CLI ``mltrack serve`` and ``python -m
jupyter_mltrack.serving``, which the process manager starts). The spec travels in the environment variable
:data:`.spec.SPEC_ENV`, so each of uvicorn's worker processes builds the same app (``app_from_env``, a factory)."""

from __future__ import annotations

import os

from .spec import SPEC_ENV, ServiceSpec

#: The import string of the app factory that uvicorn's workers call.
FACTORY = "jupyter_mltrack.serving.app:app_from_env"


def resolve_spec(ref: str, name: str | None = None, project: str | None = None, uri: str | None = None,
                 **kw) -> ServiceSpec:
    """The spec serving model ``ref`` — its project found in the store when not given (a model name in one project
    only) — named ``name`` (default: the model's name)."""
    from ..client.backend import open_backend
    from ..core.validation import parse_ref

    model, _, _ = parse_ref("model", ref)
    if project is None:
        backend = open_backend(uri)
        try:
            project = backend.resolve_model(ref)["project"]
        finally:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
    return ServiceSpec.for_model(ref, name or model, project, uri=uri, **kw)


def run_service(spec: ServiceSpec, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
                log_level: str = "info") -> None:
    """Serve ``spec`` with uvicorn on ``host:port`` with ``workers`` processes (blocks until stopped)."""
    import uvicorn

    from .ab_record import WORKERS_ENV

    os.environ[SPEC_ENV] = spec.validate().to_json()
    os.environ[WORKERS_ENV] = str(workers)  # an A/B test's workers record into one run, each under its own context
    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers if workers > 1 else None,
                log_level=log_level, access_log=False, timeout_graceful_shutdown=10)
