"""A/B tests from the kernel: ``mlt.ab_test("house-ab", models={"house@champion": 0.7, "house@challenger": 0.3},
strategy="weighted")`` deploys an endpoint routing each request to one of the models (a deployment of kind
``ab_test``: the same deploy path as ``mlt.deploy``), ``mlt.ab_results`` reads its per-model counts,
``mlt.promote`` moves an alias to the winner and stops the test, ``mlt.stop_ab_test`` stops it.

Remote store: the server's REST API (``POST deployments``, ``POST deployments/{name}/promote``, ``…/stop``).
Embedded store: the kernel's own process manager on the store (``jupyter_mltrack/serving/manager.py``), as
``mlt.deploy`` does.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..core.errors import InvalidInput
from ..core.validation import check_deployment_name
from .serving import local_manager, with_url
from .tracking import get_client


def ab_test(name: str, models: Mapping[str, float], strategy: str = "weighted", project: str | None = None,
            options: Mapping[str, Any] | None = None) -> dict:
    """Start the A/B test ``name``: ``POST …/serve/<name>/predict`` routes each request to one of ``models``
    (model reference → weight) by ``strategy`` — ``"weighted"``, ``"round_robin"``, ``"sticky"`` (by the request's
    key: header ``X-MLTrack-Key`` or the body's ``"key"``) or ``"epsilon_greedy"`` (on rewards sent to
    ``POST …/feedback``); each answer says which model version answered and carries a ``request_id``. ``options``:
    ``epsilon``, ``seed``, ``record_interval``, ``feedback_window`` (docs/lifecycle.md). The test is recorded as a
    run of its own (name ``name``, tag ``kind=ab_test``) in ``project`` (default: the first model's project).
    Returns the deployment (``status``, ``url``, ``run_id``…)."""
    if not isinstance(models, Mapping) or not models:
        raise InvalidInput("models must be a dict: model reference ('house@champion') → weight")
    client = get_client()
    client.writer.flush()
    backend = client.backend
    if project is None:
        project = backend.resolve_model(next(iter(models)))["project"]
    body = {"name": name, "project": project, "kind": "ab_test", "models": dict(models), "strategy": strategy,
            "options": dict(options or {})}
    from ..serving.ab import check_ab_options
    from ..serving.spec import ServiceSpec

    spec = ServiceSpec(name=name, project=project, kind="ab_test", models=dict(models), strategy=strategy,
                       options=dict(options or {})).validate()
    check_ab_options(spec.strategy, spec.models, spec.options)  # refused here, in the cell, before anything starts
    if backend.kind != "local":
        return backend.call("POST", "deployments", json=body)
    manager = local_manager(backend)
    return with_url(manager.deploy(spec), manager)


def _deployment(name: str) -> dict:
    check_deployment_name("name", name)
    backend = get_client().backend
    if backend.kind != "local":
        return backend.call("GET", f"deployments/{name}")
    manager = local_manager(backend)
    return with_url(manager.get(name), manager)


def ab_results(name: str):
    """The A/B test ``name``'s counts per model, as a DataFrame (one row per model: ``requests``, ``errors``,
    ``latency_p50_ms``, ``latency_p99_ms``, ``reward_mean``, ``reward_count``), read from its tracked run — so
    summed over the service's workers, as of the service's last write (every ``record_interval`` seconds, 5 by
    default; at its stop for a stopped test). The service's ``GET …/info`` answers its process's counts live."""
    import pandas as pd

    from ..serving.ab_control import combined_results

    d = _deployment(name)
    if d["kind"] != "ab_test":
        raise InvalidInput(f"deployment {name!r} serves one model (kind {d['kind']!r}), it is not an A/B test")
    rows: list = []
    if d.get("run_id"):
        try:
            metrics = get_client().backend.get_run(d["run_id"])["metrics"]
        except KeyError:  # not started yet: no run
            metrics = []
        rows = combined_results(metrics, d["models"])
    cols = ["model", "requests", "errors", "latency_p50_ms", "latency_p99_ms", "reward_mean", "reward_count"]
    return pd.DataFrame(rows, columns=cols)


def promote(name: str, model: str, alias: str = "champion") -> dict:
    """End the A/B test ``name`` with a winner: point ``<model's name>@alias`` at the version ``model`` (one of the
    test's models, e.g. ``"house@challenger"``) names — an atomic alias move, so services of ``house@champion``
    switch to it — and stop the test (its run ends finished, tagged ``promoted``). Returns ``{"deployment", "model",
    "name", "alias", "version", "run_id"}``."""
    check_deployment_name("name", name)
    client = get_client()
    client.writer.flush()
    backend = client.backend
    if backend.kind != "local":
        return backend.call("POST", f"deployments/{name}/promote", json={"model": model, "alias": alias})
    from ..serving.ab_control import promote as promote_winner

    manager = local_manager(backend)
    done = promote_winner(manager, name, model, alias)
    return {**done, "deployment": with_url(done["deployment"], manager)}


def stop_ab_test(name: str) -> dict:
    """Stop the A/B test ``name`` without a winner (its run ends finished; the deployment stays listed, stopped:
    ``mlt.undeploy`` forgets it). Returns the deployment."""
    check_deployment_name("name", name)
    backend = get_client().backend
    if backend.kind != "local":
        return backend.call("POST", f"deployments/{name}/stop")
    manager = local_manager(backend)
    return with_url(manager.stop(name), manager)
