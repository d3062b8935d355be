"""The batch: the one write format, and its normalisation.

Every write reaches the store as a batch — from the kernel's writer, from ``POST mltrack/api/batch``, from the
façade's own small writes (a project, a registry entry). A batch is a mapping of *sections*, each a list of items;
:data:`SECTIONS` names them once for everyone (the writer, the HTTP backend, the store, the docs test).

Two shapes: the wire shape (:class:`Batch`, what a client sends: JSON, msgpack or Python objects; metric arrays as
lists or little-endian bytes) and the normalised shape (:class:`NormalBatch`, what :func:`normalize_batch` returns
and ``core/run_writes.py`` applies: every key and value checked, params as canonical JSON text, contexts as
canonical JSON, metric points as :class:`~jupyter_mltrack.core.series.Points`). Validation of keys and values is
``core/validation.py``'s; this module applies it to each item and names the field that is wrong.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence, TypedDict

import numpy as np

from .errors import InvalidInput
from .series import Points
from .validation import check_key, context_json, param_json, tag_value

#: The sections of a batch, in the order the store applies them. ``heartbeat`` is a list of run ids, the others
#: lists of items; ``projects``, ``experiments`` and ``models`` are the façade's own small writes.
SECTIONS = ("projects", "experiments", "runs", "params", "tags", "metrics", "artifacts", "inputs", "updates",
            "models", "heartbeat")
#: The sections whose items belong to one run (they carry ``run_id``; ``runs`` items carry ``id``).
RUN_SECTIONS = ("params", "tags", "metrics", "artifacts", "inputs", "updates")


# -- the wire shape ------------------------------------------------------------------------------------------------

class RunItem(TypedDict, total=False):
    id: str  # required
    name: str
    project: str
    experiments: list[str]
    campaigns: list[str]
    parent_id: str | None
    user: str
    source: str
    description: str
    start_time: float
    status: str


class ParamItem(TypedDict):
    run_id: str
    key: str
    value: Any


class TagItem(TypedDict):
    run_id: str
    key: str
    value: Any  # None deletes the tag


class MetricItem(TypedDict, total=False):
    run_id: str  # required
    name: str  # required
    context: Mapping[str, Any] | str | None
    values: Sequence[float] | bytes  # required
    steps: Sequence[int] | bytes | None  # absent: continue after the series' last step
    timestamps: Sequence[float] | bytes | None  # absent: the time the batch is written


class FileItem(TypedDict, total=False):
    path: str  # required
    sha256: str  # required
    size: int  # required
    media_type: str


class ArtifactItem(TypedDict, total=False):
    run_id: str  # required
    name: str  # required
    type: str
    metadata: dict
    files: list[FileItem]  # required


class InputItem(TypedDict, total=False):
    run_id: str  # required
    artifact_id: int  # required
    role: str


class UpdateItem(TypedDict, total=False):
    run_id: str  # required
    status: str
    end_time: float | None
    error: str | None
    description: str
    name: str


class ProjectItem(TypedDict, total=False):
    name: str  # required
    description: str


class ExperimentItem(TypedDict, total=False):
    project: str  # required
    name: str  # required
    description: str


class ModelItem(TypedDict, total=False):
    project: str  # required
    name: str  # required
    artifact_id: int  # required
    stage: str
    description: str


class Batch(TypedDict, total=False):
    projects: list[ProjectItem]
    experiments: list[ExperimentItem]
    runs: list[RunItem]
    params: list[ParamItem]
    tags: list[TagItem]
    metrics: list[MetricItem]
    artifacts: list[ArtifactItem]
    inputs: list[InputItem]
    updates: list[UpdateItem]
    models: list[ModelItem]
    heartbeat: list[str]


#: Each item kind's fields: (required, optional). The docs test checks docs/rest-api.md and OpenAPI against these.
ITEM_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "projects": (("name",), ("description",)),
    "experiments": (("project", "name"), ("description",)),
    "runs": (("id",), ("name", "project", "experiments", "campaigns", "parent_id", "user", "source", "description",
                       "start_time", "status")),
    "params": (("run_id", "key", "value"), ()),
    "tags": (("run_id", "key", "value"), ()),
    "metrics": (("run_id", "name", "values"), ("context", "steps", "timestamps")),
    "artifacts": (("run_id", "name", "files"), ("type", "metadata")),
    "artifacts.files": (("path", "sha256", "size"), ("media_type",)),
    "inputs": (("run_id", "artifact_id"), ("role",)),
    "updates": (("run_id",), ("status", "end_time", "error", "description", "name")),
    "models": (("project", "name", "artifact_id"), ("stage", "description")),
}


# -- the normalised shape ------------------------------------------------------------------------------------------

class NormalMetric(TypedDict):
    run_id: str
    name: str
    context: str  # canonical JSON
    points: Points
    auto_steps: bool  # steps were not given: placed after the series' last step when written


class NormalParam(TypedDict):
    run_id: str
    key: str
    value: str  # canonical JSON text


class NormalTag(TypedDict):
    run_id: str
    key: str
    value: str | None  # None deletes


class NormalBatch(TypedDict):
    projects: list[ProjectItem]
    experiments: list[ExperimentItem]
    runs: list[RunItem]
    params: list[NormalParam]
    tags: list[NormalTag]
    metrics: list[NormalMetric]
    artifacts: list[ArtifactItem]
    inputs: list[InputItem]
    updates: list[UpdateItem]
    models: list[ModelItem]
    heartbeat: list[str]


def empty_batch() -> dict[str, list]:
    """A batch with every section present and empty."""
    return {k: [] for k in SECTIONS}


def referenced_runs(b: Mapping[str, Any]) -> set[str]:
    """The run ids a batch's items refer to (not the runs it creates)."""
    out = {x["run_id"] for k in RUN_SECTIONS for x in b.get(k) or ()}
    out |= set(b.get("heartbeat") or ())
    out |= {r["parent_id"] for r in b.get("runs") or () if r.get("parent_id")}
    return out


# -- normalisation -------------------------------------------------------------------------------------------------

def _need(item: Any, kind: str) -> dict:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"batch: each {kind} item must be an object, got {item!r:.80}")
    required, optional = ITEM_FIELDS[kind]
    for f in required:
        if f not in item:
            raise InvalidInput(f"batch: {kind} item is missing {f!r}")
    bad = set(item) - set(required) - set(optional)
    if bad:
        raise InvalidInput(f"batch: {kind} item has unknown field(s) {', '.join(sorted(map(str, bad)))}")
    return dict(item)


def run_id(v: Any, where: str) -> str:
    """A run id: 1–32 ASCII letters, digits, '-' or '_'."""
    if not isinstance(v, str) or not v or len(v) > 32 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in v):
        raise InvalidInput(f"batch: {where}: run id {v!r} must be 1-32 letters, digits, '-' or '_'")
    return v


def _text(item: Mapping, field: str, where: str) -> None:
    if item.get(field) is not None and not isinstance(item[field], str):
        raise InvalidInput(f"batch: {where}.{field} must be a string")


def _names(v: Any, kind: str, where: str) -> list[str]:
    v = v or []
    if isinstance(v, str) or not isinstance(v, (list, tuple)):
        raise InvalidInput(f"batch: {where} must be a list of names")
    return [check_key(kind, x) for x in v]


def _status(v: Any) -> str:
    from .schema import RUN_STATUSES  # SQLAlchemy: loaded when a batch is checked, not when the client imports this

    if v not in RUN_STATUSES:
        raise InvalidInput(f"batch: status {v!r} is not one of {', '.join(RUN_STATUSES)}")
    return v


def _seconds(item: Mapping, field: str, where: str) -> None:
    v = item.get(field)
    if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
        raise InvalidInput(f"batch: {where}.{field} must be seconds since the epoch")


def _int_id(v: Any, where: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise InvalidInput(f"batch: {where} must be an integer, not {v!r}")
    return v


_WORDS = {"nan": np.nan, "infinity": np.inf, "-infinity": -np.inf, "inf": np.inf, "-inf": -np.inf}


def _array(v: Any, dtype: str, where: str) -> np.ndarray:
    if isinstance(v, (bytes, bytearray, memoryview)):
        if len(v) % 8:
            raise InvalidInput(f"batch: {where}: byte array length must be a multiple of 8")
        return np.frombuffer(v, dtype=dtype).astype(dtype[1:] if dtype.startswith("<") else dtype)
    if isinstance(v, np.ndarray):
        return v
    if not isinstance(v, (list, tuple)):
        raise InvalidInput(f"batch: {where} must be a list of numbers")
    if dtype.endswith("f8"):
        out = []
        for x in v:
            if isinstance(x, str):
                if x.lower() not in _WORDS:
                    raise InvalidInput(f"batch: {where}: {x!r} is not a number")
                out.append(_WORDS[x.lower()])
            else:
                out.append(np.nan if x is None else x)
        try:
            return np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInput(f"batch: {where} must hold numbers") from None
    try:
        arr = np.asarray(v)
        if arr.size and arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.mod(arr, 1) == 0):
                return arr.astype(np.int64)
            raise ValueError
        return arr.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"batch: {where} must hold integers") from None


def _run(item: Any) -> RunItem:
    r = _need(item, "runs")
    r["id"] = run_id(r["id"], "runs")
    if r.get("parent_id") is not None:
        r["parent_id"] = run_id(r["parent_id"], "runs.parent_id")
    _status(r.get("status") or "running")
    for f in ("name", "project", "user", "source", "description"):
        _text(r, f, "runs")
    if r.get("project") is not None:
        check_key("project", r["project"])
    r["experiments"] = _names(r.get("experiments"), "experiment", "runs.experiments")
    r["campaigns"] = _names(r.get("campaigns"), "campaign", "runs.campaigns")
    _seconds(r, "start_time", "runs")
    return r  # type: ignore[return-value]


def _param(item: Any) -> NormalParam:
    p = _need(item, "params")
    run_id(p["run_id"], "params")
    check_key("param", p["key"])
    return {"run_id": p["run_id"], "key": p["key"], "value": param_json(p["key"], p["value"])}


def _tag(item: Any) -> NormalTag:
    t = _need(item, "tags")
    run_id(t["run_id"], "tags")
    check_key("tag", t["key"])
    return {"run_id": t["run_id"], "key": t["key"],
            "value": None if t["value"] is None else tag_value(t["key"], t["value"])}


def _metric(item: Any, clock: list[float]) -> NormalMetric:
    m = _need(item, "metrics")
    run_id(m["run_id"], "metrics")
    check_key("metric", m["name"])
    where = f"metric {m['name']!r}"
    vals = _array(m["values"], "<f8", where + " values")
    n = len(vals)
    steps = m.get("steps")
    auto = steps is None
    steps = np.arange(n, dtype=np.int64) if auto else _array(steps, "<i8", where + " steps")
    ts = m.get("timestamps")
    if ts is None:
        if not clock:  # points without timestamps are stamped with one clock reading per batch
            clock.append(time.time())
        ts = np.full(n, clock[0])
    else:
        ts = _array(ts, "<f8", where + " timestamps")
    if not (len(steps) == len(ts) == n):
        raise InvalidInput(f"batch: {where}: steps, timestamps and values must have the same length")
    return {"run_id": m["run_id"], "name": m["name"], "context": context_json(m.get("context")),
            "points": Points(steps.astype(np.int64, copy=False), ts.astype(np.float64, copy=False),
                             vals.astype(np.float64, copy=False)),
            "auto_steps": auto}


def _artifact(item: Any) -> ArtifactItem:
    a = _need(item, "artifacts")
    run_id(a["run_id"], "artifacts")
    check_key("artifact", a["name"])
    _text(a, "type", "artifacts")
    if not isinstance(a["files"], (list, tuple)):
        raise InvalidInput("batch: artifacts.files must be a list")
    files = []
    for f in a["files"]:
        f = _need(f, "artifacts.files")
        path = f["path"]
        if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
            raise InvalidInput(f"batch: artifact file path {path!r} must be relative without '..'")
        if not isinstance(f["sha256"], str) or len(f["sha256"]) != 64:
            raise InvalidInput(f"batch: artifact file {path!r}: sha256 must be 64 hex characters")
        files.append(f)
    a["files"] = files
    return a  # type: ignore[return-value]


def _input(item: Any) -> InputItem:
    i = _need(item, "inputs")
    run_id(i["run_id"], "inputs")
    _int_id(i["artifact_id"], "inputs.artifact_id")
    role = i.get("role") or "input"
    if not isinstance(role, str) or len(role) > 100:
        raise InvalidInput("batch: inputs.role must be a short string")
    return {"run_id": i["run_id"], "artifact_id": i["artifact_id"], "role": role}


def _update(item: Any) -> UpdateItem:
    u = _need(item, "updates")
    run_id(u["run_id"], "updates")
    if "status" in u:
        _status(u["status"])
    _seconds(u, "end_time", "updates")
    for f in ("error", "description", "name"):
        _text(u, f, "updates")
    return u  # type: ignore[return-value]


def _named(item: Any, kind: str, keys: tuple[tuple[str, str], ...], texts: tuple[str, ...]) -> dict:
    """An item whose fields are names (``keys``: field → the kind of name) and free texts."""
    d = _need(item, kind)
    for field, key_kind in keys:
        check_key(key_kind, d[field])
    for f in texts:
        _text(d, f, kind)
    return d


def _project(item: Any) -> ProjectItem:
    return _named(item, "projects", (("name", "project"),), ("description",))  # type: ignore[return-value]


def _experiment(item: Any) -> ExperimentItem:
    return _named(item, "experiments", (("project", "project"), ("name", "experiment")),  # type: ignore[return-value]
                  ("description",))


def _model(item: Any) -> ModelItem:
    m = _named(item, "models", (("project", "project"), ("name", "model")), ("stage", "description"))
    _int_id(m["artifact_id"], "models.artifact_id")
    return m  # type: ignore[return-value]


def normalize_batch(batch: Mapping[str, Any]) -> NormalBatch:
    """Validate a batch and bring it into the store's shape; raises :class:`InvalidInput` naming the field."""
    if not isinstance(batch, Mapping):
        raise InvalidInput("batch must be a JSON object")
    extra = set(batch) - set(SECTIONS)
    if extra:
        raise InvalidInput(f"batch: unknown section(s) {', '.join(sorted(map(str, extra)))}")
    raw: dict[str, list] = {}
    for k in SECTIONS:
        v = batch.get(k) or []
        if not isinstance(v, (list, tuple)):
            raise InvalidInput(f"batch: {k!r} must be a list")
        raw[k] = v
    clock: list[float] = []
    return {
        "projects": [_project(x) for x in raw["projects"]],
        "experiments": [_experiment(x) for x in raw["experiments"]],
        "runs": [_run(x) for x in raw["runs"]],
        "params": [_param(x) for x in raw["params"]],
        "tags": [_tag(x) for x in raw["tags"]],
        "metrics": [_metric(x, clock) for x in raw["metrics"]],
        "artifacts": [_artifact(x) for x in raw["artifacts"]],
        "inputs": [_input(x) for x in raw["inputs"]],
        "updates": [_update(x) for x in raw["updates"]],
        "models": [_model(x) for x in raw["models"]],
        "heartbeat": [run_id(x, "heartbeat") for x in raw["heartbeat"]],
    }

