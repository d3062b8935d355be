"""Ending an A/B test: :func:`promote` moves an alias to the version of the model that won and stops the test;
:func:`combined_results` reads a test's per-model counts back from its tracked run, summed over the service's workers.

Both act through the process manager (``serving/manager.py``) and the store, with the caller's actor: the server's
``POST deployments/{name}/promote`` and the embedded ``mlt.promote`` call the same function. Nothing here imports
Jupyter, tornado or the ASGI stack.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, TypedDict

from ..core import access as A
from ..core.errors import InvalidInput, NotFound
from ..core.validation import check_alias
from .ab_record import RECORDED
from .ab_stats import ModelStatsDict, refused

DEFAULT_ALIAS = "champion"


class Promoted(TypedDict):
    deployment: dict  # the test, stopped
    model: str  # the reference promoted, as the test named it ("house@challenger")
    name: str  # the model's name
    alias: str
    version: int  # the version the alias now names
    run_id: str | None


def check_promote(body: Any) -> tuple[str, str]:
    """``{"model": "house@challenger", "alias": "champion"}`` (alias optional) → (model, alias), refused by field."""
    if not isinstance(body, dict):
        raise refused(InvalidInput, 'the body must be a JSON object: {"model": "house@challenger", "alias": '
                      '"champion"}', "body")
    unknown = sorted(set(body) - {"model", "alias"})
    if unknown:
        raise refused(InvalidInput, f"{unknown[0]!s:.60}: unknown field (fields: model, alias)", str(unknown[0])[:60])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise refused(InvalidInput, "model is required: one of the test's models, e.g. 'house@challenger'", "model")
    alias = body.get("alias", DEFAULT_ALIAS)
    if not isinstance(alias, str):
        raise refused(InvalidInput, f"alias must be a string, not {type(alias).__name__}", "alias")
    try:
        check_alias(alias)
    except InvalidInput as e:
        raise refused(InvalidInput, str(e), "alias") from None
    return model, alias


def promote(manager: Any, name: str, model: str, alias: str = DEFAULT_ALIAS, actor: Any = None) -> Promoted:
    """Point ``<model's name>@alias`` at the version ``model`` (one of the test ``name``'s models) names now — one
    atomic alias move — then stop the test (its run ends finished) and tag the run ``promoted``. Contributor of
    the test's project needed."""
    model, alias = check_promote({"model": model, "alias": alias})
    store = manager.store
    d = manager.rows.get(name, actor, A.CONTRIBUTOR, "promoting a model of an A/B test")
    if d["kind"] != "ab_test":
        raise refused(InvalidInput, f"deployment {name!r} serves one model (kind {d['kind']!r}): only an A/B test "
                      "has a winner to promote", "name")
    if model not in d["models"]:
        raise refused(InvalidInput, f"model {model!r:.100} is not one of the test's models "
                      f"({', '.join(d['models'])})", "model")
    v = store.resolve_model(model, d["project"], actor)
    store.set_alias(d["project"], v["name"], alias, int(v["version"]), actor)
    stopped = manager.stop(name, actor)
    run_id = d.get("run_id")
    if run_id:
        try:
            store.write_batch({"tags": [{"run_id": run_id, "key": "promoted",
                                         "value": f"{model} → {v['name']}@{alias} (version {v['version']})"}]}, actor)
        except NotFound:  # the test never started: no run to tag
            pass
    return {"deployment": stopped, "model": model, "name": v["name"], "alias": alias, "version": int(v["version"]),
            "run_id": run_id}


def combined_results(metrics: Iterable[Mapping[str, Any]], models: Iterable[str]) -> list[ModelStatsDict]:
    """Each model's counts from a test run's metric summaries (``get_run(...)["metrics"]``): the last value of each
    series, summed over the workers' contexts (requests, errors, reward_count), the mean reward weighted by reward
    count; latency quantiles are per worker — p99 the largest, p50 weighted by requests (an approximation)."""
    per: dict[str, dict[str, dict[str, float]]] = {}  # model → worker → metric → last
    for m in metrics:
        ctx = m.get("context") or {}
        if m.get("name") not in RECORDED or "model" not in ctx or m.get("last") is None:
            continue
        per.setdefault(ctx["model"], {}).setdefault(ctx.get("worker", ""), {})[m["name"]] = float(m["last"])
    out: list[ModelStatsDict] = []
    for ref in models:
        workers = list(per.get(ref, {}).values())
        n = sum(w.get("requests", 0.0) for w in workers)
        rc = sum(w.get("reward_count", 0.0) for w in workers)
        rewarded = [w for w in workers if w.get("reward_count") and "reward_mean" in w]
        p50s = [(w["latency_p50_ms"], w.get("requests", 0.0)) for w in workers if "latency_p50_ms" in w]
        p99s = [w["latency_p99_ms"] for w in workers if "latency_p99_ms" in w]
        wsum = sum(c for _, c in p50s)
        out.append({
            "model": ref, "requests": int(n), "errors": int(sum(w.get("errors", 0.0) for w in workers)),
            "latency_p50_ms": (sum(p * c for p, c in p50s) / wsum if wsum else (p50s[0][0] if p50s else None)),
            "latency_p99_ms": max(p99s) if p99s else None,
            "reward_mean": (sum(w["reward_mean"] * w["reward_count"] for w in rewarded) / rc if rc and rewarded
                            else None),
            "reward_count": int(rc)})
    return out
