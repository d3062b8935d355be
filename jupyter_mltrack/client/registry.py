"""The model registry from the kernel: log a model, register it (or the best run's), move aliases, set stages, load
a version back — in embedded and remote mode alike (writes are batches through the writer; reads the backend's).

A model is referred to as ``name`` (its newest version), ``name@alias`` (``house@champion``) or ``name@3``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput, NotFound
from ..core.validation import MAX_STAGE, check_alias, check_int, check_key, check_text, parse_ref
from .run import ACTIVE, Run
from .tracking import get_client

#: How a flavor's file is read back: flavor → (file suffixes, loader name)
FLAVORS = {"sklearn": (".joblib", ".pkl", ".pickle"), "joblib": (".joblib", ".pkl"), "pickle": (".pkl", ".pickle")}


def _run_id(run: "Run | str") -> str:
    return run.id if isinstance(run, Run) else str(run)


def log_model(model: Any, name: str = "model", flavor: str | None = None, run: "Run | None" = None) -> None:
    """Store ``model`` as the artifact ``name`` (type ``model``) of ``run`` (default: the active run): scikit-learn
    estimators and other objects with joblib (``flavor`` ``sklearn`` or ``joblib``), or with pickle (``pickle``)."""
    run = run or ACTIVE.top()
    if run is None:
        raise InvalidInput("log_model: no active run: start one with mlt.start_run() or pass run=")
    check_key("artifact", name)
    if flavor is None:
        flavor = "sklearn" if type(model).__module__.startswith("sklearn") else "joblib"
    if flavor not in FLAVORS:
        raise InvalidInput(f"log_model: flavor {flavor!r} is not one of {', '.join(FLAVORS)}")
    with tempfile.TemporaryDirectory(prefix="mltrack-model-") as tmp:
        path = Path(tmp) / ("model.pkl" if flavor == "pickle" else "model.joblib")
        if flavor == "pickle":
            path.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        else:
            import joblib

            joblib.dump(model, path)
        meta = {"flavor": flavor, "python_class": f"{type(model).__module__}.{type(model).__qualname__}"}
        run.log_artifact(path, name=name, type="model", metadata=meta)  # uploads the bytes before the folder goes


def register_model(name: str, run: "Run | str", artifact: str = "model", version: int | None = None,
                   stage: str = "", description: str = "", project: str | None = None) -> dict:
    """Register the artifact ``artifact`` of ``run`` (newest version by default) as a version of the model ``name``
    in the run's project (or ``project``). The same bytes registered again answer the version they already are.
    Returns the model version as :func:`list_models` lists it (``version``, ``aliases``, ``run_id``…)."""
    check_key("model", name)
    check_text("stage", stage, MAX_STAGE)
    client = get_client()
    client.writer.flush()
    info = client.backend.get_run(_run_id(run))
    arts = [a for a in info["artifacts"] if a["name"] == artifact and (version is None or a["version"] == version)]
    if not arts:
        raise NotFound(f"run {info['id']!r} has no artifact {artifact!r}" + (f" version {version}" if version else ""))
    project = project or info["project"]
    done = client.writer.write_now({"models": [{"project": project, "name": name, "artifact_id": arts[-1]["id"],
                                                "stage": stage, "description": description}]})
    v = done["registered"][0]
    return client.backend.resolve_model(f"{v['name']}@{v['version']}", project)


def register_best(search_filter: str | None, metric: str, name: str, mode: str = "max", artifact: str = "model",
                  project: str | None = None, experiment: str | None = None, **kw) -> dict:
    """Register the model of the best run among those ``search_filter`` selects (the search language; None: all),
    best by the last value of ``metric`` (``"rmse"``, ``"metrics.rmse"`` or ``"acc[subset=val]"``; ``mode``
    ``"max"`` or ``"min"``), among runs that have both the metric and the artifact."""
    if mode not in ("max", "min"):
        raise InvalidInput(f"register_best: mode must be 'max' or 'min', not {mode!r}")
    key = metric[len("metrics."):] if metric.startswith("metrics.") else metric
    client = get_client()
    client.writer.flush()
    runs, _ = client.backend.search_runs(project=project, experiment=experiment, filter=search_filter,
                                         order_by=f"metrics.{key} {'DESC' if mode == 'max' else 'ASC'}", limit=1000)
    import math

    for r in runs:
        last = next((m["last"] for m in r.get("metrics", []) if m["key"] == key), None)
        if last is None or (isinstance(last, float) and math.isnan(last)):
            continue
        if any(a["name"] == artifact for a in client.backend.get_run(r["id"])["artifacts"]):
            return register_model(name, r["id"], artifact=artifact, project=project, **kw)
    raise NotFound(f"register_best: no run{' matching ' + repr(search_filter) if search_filter else ''} has the "
                   f"metric {key!r} and an artifact {artifact!r}")


def _model_name(ref: str) -> tuple[str, str | None]:
    name, alias, _ = parse_ref("model", ref)
    return name, alias


def set_alias(ref: str, version: int | None, project: str | None = None) -> dict | None:
    """Point ``"name@alias"`` at ``version`` of the model (moving the alias from any other version in one
    transaction); ``version=None`` removes the alias. Returns the version it now names."""
    name, alias = _model_name(ref)
    if alias is None:
        raise InvalidInput(f"set_alias: {ref!r} names no alias: write 'name@alias', e.g. 'house@champion'")
    check_alias(alias)
    if version is not None:
        version = check_int("set_alias: version", version, 1)
    client = get_client()
    client.writer.flush()
    project = project or client.backend.resolve_model(name)["project"]
    client.writer.write_now({"aliases": [{"project": project, "model": name, "alias": alias, "version": version}]})
    return None if version is None else client.backend.resolve_model(ref, project)


def set_stage(ref: str, stage: str, project: str | None = None) -> dict:
    """Set the stage (free text: "staging", "production", "archived"…) of the model version ``ref``."""
    check_text("stage", stage, MAX_STAGE)
    client = get_client()
    client.writer.flush()
    v = client.backend.resolve_model(ref, project)
    client.writer.write_now({"stages": [{"project": v["project"], "model": v["name"], "version": v["version"],
                                         "stage": stage}]})
    return client.backend.resolve_model(f"{v['name']}@{v['version']}", v["project"])


def get_model_version(ref: str, project: str | None = None) -> dict:
    """The model version ``ref`` names (``name``, ``name@alias``, ``name@3``)."""
    client = get_client()
    client.writer.flush(raise_errors=False)
    return client.backend.resolve_model(ref, project)


def list_models(project: str | None = None, name: str | None = None):
    """Every registered model version (of ``project``, of ``name``), newest version first, as a DataFrame."""
    import pandas as pd

    client = get_client()
    client.writer.flush(raise_errors=False)
    return pd.DataFrame(client.backend.list_models(project, name))


def download_artifact(backend, artifact: dict, into: Path) -> Path:
    """The files of a stored artifact in the folder ``into`` (kept as a cache: files already there with their
    size are not downloaded again). Returns ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    for f in artifact["files"]:
        dest = into / f["path"]
        if dest.is_file() and dest.stat().st_size == f["size"]:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + f".part-{os.getpid()}")
        tmp.write_bytes(backend.read_artifact_file(artifact["id"], f["path"]))
        os.replace(tmp, dest)
    return into


def cache_dir(kind: str, content: str) -> Path:
    from ..core.db import default_home

    return default_home() / "cache" / kind / content[:2] / content[2:]


def record_input(client, artifact: dict, role: str) -> None:
    """Record ``artifact`` as an input of the active run (not when the active run produced it: no cycles)."""
    run = ACTIVE.top()
    if run is not None and run.id != artifact["run_id"]:
        client.writer.add("inputs", {"run_id": run.id, "artifact_id": artifact["id"], "role": role})


def load_model(ref: str, project: str | None = None) -> Any:
    """The model ``ref`` names (``"house@champion"``, ``"house@3"``, ``"house"``: its newest version), loaded by its
    flavor (sklearn, joblib, pickle) and recorded as an input of the active run. The object must have ``predict``."""
    client = get_client()
    client.writer.flush()
    v = client.backend.resolve_model(ref, project)
    model, art = load_model_version(client.backend, v, ref)
    record_input(client, art, "model")
    return model


def load_model_version(backend, v: dict, ref: str) -> tuple[Any, dict]:
    """The model of the resolved version ``v`` (as ``resolve_model`` answers it) read through ``backend``, and its
    artifact; the files are cached under the store's home by content. Used by :func:`load_model` and the model
    services (``jupyter_mltrack.serving``)."""
    art = next(a for a in backend.get_run(v["run_id"])["artifacts"] if a["id"] == v["artifact_id"])
    flavor = v.get("flavor") or (art.get("metadata") or {}).get("flavor") or _flavor_of(art)
    if flavor not in FLAVORS:
        raise InvalidInput(f"load_model: {ref!r} (version {v['version']}) has the flavor {flavor!r}, which "
                           f"load_model cannot read; it reads {', '.join(FLAVORS)}")
    files = [f for f in art["files"] if f["path"].endswith(FLAVORS[flavor])] or art["files"]
    if len(files) != 1:
        raise InvalidInput(f"load_model: {ref!r} holds {len(art['files'])} files and none is a "
                           f"{'/'.join(FLAVORS[flavor])} file of the flavor {flavor!r}")
    folder = download_artifact(backend, {**art, "files": files}, cache_dir("models", v["content"] or
                                                                           str(v["artifact_id"]).zfill(4)))
    path = folder / files[0]["path"]
    if flavor == "pickle":
        model = pickle.loads(path.read_bytes())
    else:
        import joblib

        model = joblib.load(path)
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(f"load_model: {ref!r} loaded a {type(model).__name__}, which has no predict method")
    return model, art


def _flavor_of(art: dict) -> str:
    paths = [f["path"] for f in art["files"]]
    if any(p.endswith(".joblib") for p in paths):
        return "joblib"
    if any(p.endswith((".pkl", ".pickle")) for p in paths):
        return "pickle"
    exts = sorted({Path(p).suffix or p for p in paths})
    return "unknown (" + ", ".join(exts) + ")" if exts else "unknown (no files)"
