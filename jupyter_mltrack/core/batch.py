"""The batch: the one write format, and its normalisation.

Every write reaches the store as a batch — from the kernel's writer, from ``POST mltrack/api/batch``, from the
façade's own small writes (a project, a registry entry). A batch is a mapping of *sections*, each a list of items;
:data:`SECTIONS` names them once for everyone (the writer, the HTTP backend, the store, the docs test).

Two shapes: the wire shape (:class:`Batch`, what a client sends: JSON, msgpack or Python objects; metric arrays as
lists or little-endian bytes) and the normalised shape (:class:`NormalBatch`, what :func:`normalize_batch` returns and
``core/run_writes.py`` applies: every key and value checked, params and contexts as canonical JSON text, metric
points as :class:`~jupyter_mltrack.core.series.Points`). Validation of keys and values is ``core/validation.py``'s;
this module applies it to each item and names the field that is wrong."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Sequence, TypedDict

from .errors import InvalidInput
from .sections import BATCH_KEYS, RUN_SECTIONS, SECTIONS
from .validation import (DATASET_KINDS, INT64_MAX, INT64_MIN, MAX_FIGURE_FILES, MAX_FILE_SIZE, MAX_KEY, MAX_STAGE,
                         RUN_STATUSES, check_alias, check_figure_kind, check_int, check_key, check_media_type,
                         check_metadata, check_relative_path, check_seconds, check_text, context_json, figure_step,
                         param_json, steps_array, tag_value, times_array)

if TYPE_CHECKING:  # numpy is imported when a batch is checked, not when the client imports the section names
    import numpy as np

    from .series import Points

MAX_BATCH_ID = 100


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


class FigureItem(TypedDict, total=False):
    run_id: str  # required
    name: str  # required
    kind: str  # required: matplotlib, plotly, image or confusion_matrix (validation.FIGURE_KINDS)
    step: int | None  # absent or null: a figure without steps
    context: Mapping[str, Any] | str | None  # as a metric's (canonical JSON once normalised)
    files: list[FileItem]  # required: its renderings (core/figures.py names them)


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


class CampaignItem(TypedDict, total=False):
    project: str  # required: the project a new campaign is created in (an existing one must be of that project)
    name: str  # required
    description: str  # present: set (an empty text clears it)


class ModelItem(TypedDict, total=False):
    project: str  # required
    name: str  # required
    artifact_id: int  # required
    stage: str
    description: str


class DatasetItem(TypedDict, total=False):
    project: str  # required
    name: str  # required
    run_id: str  # required: the run that logs it (its artifact, type "dataset", belongs to that run)
    kind: str  # required: file, folder, zip or table
    files: list[FileItem]  # required
    metadata: dict  # tables: schema, rows, columns, preview


class AliasItem(TypedDict, total=False):
    project: str  # required
    model: str  # one of model and dataset
    dataset: str
    alias: str  # required
    version: int | None  # required; None removes the alias


class StageItem(TypedDict):
    project: str
    model: str
    version: int
    stage: str


class Batch(TypedDict, total=False):
    id: str  # the batch id: a batch with an id already applied is not applied again
    projects: list[ProjectItem]
    experiments: list[ExperimentItem]
    campaigns: list[CampaignItem]
    runs: list[RunItem]
    params: list[ParamItem]
    tags: list[TagItem]
    metrics: list[MetricItem]
    artifacts: list[ArtifactItem]
    figures: list[FigureItem]
    inputs: list[InputItem]
    updates: list[UpdateItem]
    models: list[ModelItem]
    datasets: list[DatasetItem]
    aliases: list[AliasItem]
    stages: list[StageItem]
    heartbeat: list[str]


#: Each item kind's fields: (required, optional). The docs test checks docs/rest-api.md and OpenAPI against these.
ITEM_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "projects": (("name",), ("description",)),
    "experiments": (("project", "name"), ("description",)),
    "campaigns": (("project", "name"), ("description",)),
    "runs": (("id",), ("name", "project", "experiments", "campaigns", "parent_id", "user", "source", "description",
                       "start_time", "status")),
    "params": (("run_id", "key", "value"), ()),
    "tags": (("run_id", "key", "value"), ()),
    "metrics": (("run_id", "name", "values"), ("context", "steps", "timestamps")),
    "artifacts": (("run_id", "name", "files"), ("type", "metadata")),
    "artifacts.files": (("path", "sha256", "size"), ("media_type",)),
    "figures": (("run_id", "name", "kind", "files"), ("step", "context")),
    "inputs": (("run_id", "artifact_id"), ("role",)),
    "updates": (("run_id",), ("status", "end_time", "error", "description", "name")),
    "models": (("project", "name", "artifact_id"), ("stage", "description")),
    "datasets": (("project", "name", "run_id", "kind", "files"), ("metadata",)),
    "aliases": (("project", "alias", "version"), ("model", "dataset")),
    "stages": (("project", "model", "version", "stage"), ()),
}
#: The fields where null means something: no parent, the default project, a param whose value is null, no end time or error yet, the server's
#: clock, steps after the series' last, a deleted tag. Anywhere else a null is refused.
NULLABLE: dict[str, tuple[str, ...]] = {
    "runs": ("parent_id", "project"),
    "params": ("value",),
    "metrics": ("context", "steps", "timestamps"),
    "tags": ("value",),
    "figures": ("step", "context"),
    "updates": ("end_time", "error"),
    "aliases": ("version",),
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
    id: str | None
    projects: list[ProjectItem]
    experiments: list[ExperimentItem]
    campaigns: list[CampaignItem]
    runs: list[RunItem]
    params: list[NormalParam]
    tags: list[NormalTag]
    metrics: list[NormalMetric]
    artifacts: list[ArtifactItem]
    figures: list[FigureItem]
    inputs: list[InputItem]
    updates: list[UpdateItem]
    models: list[ModelItem]
    datasets: list[DatasetItem]
    aliases: list[AliasItem]
    stages: list[StageItem]
    heartbeat: list[str]


def empty_batch() -> dict[str, list]:
    """A batch with every section present and empty."""
    return {k: [] for k in SECTIONS}


def referenced_runs(b: Mapping[str, Any]) -> set[str]:
    """The run ids a batch's items refer to (not the runs it creates)."""
    out = {x["run_id"] for k in RUN_SECTIONS for x in b.get(k) or ()}
    out |= set(b.get("heartbeat") or ())
    out |= {r["parent_id"] for r in b.get("runs") or () if r.get("parent_id")}
    out |= {d["run_id"] for d in b.get("datasets") or ()}
    return out


# -- normalisation -------------------------------------------------------------------------------------------------

_FIELDS = {kind: frozenset(required + optional) for kind, (required, optional) in ITEM_FIELDS.items()}  # all of a kind


def _need(item: Any, kind: str) -> dict:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"batch: each {kind} item must be an object, got {item!r:.80}")
    for f in ITEM_FIELDS[kind][0]:
        if f not in item:
            raise InvalidInput(f"batch: {kind} item is missing {f!r}")
    if not _FIELDS[kind].issuperset(item):
        bad = set(item) - _FIELDS[kind]
        raise InvalidInput(f"batch: {kind} item has unknown field(s) {', '.join(sorted(map(str, bad)))[:200]}")
    d = dict(item)
    for f, v in d.items():  # null only where it means something (NULLABLE); elsewhere leave the field out
        if v is None and f not in NULLABLE.get(kind, ()):
            raise InvalidInput(f"batch: {kind}.{f} must not be null (leave the field out instead)")
    return d


_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BATCH_ID = re.compile(r"[A-Za-z0-9_.:-]{1,%d}" % MAX_BATCH_ID)


def run_id(v: Any, where: str) -> str:
    """A run id: 1–32 ASCII letters, digits, '-' or '_'."""
    if not isinstance(v, str) or _RUN_ID.fullmatch(v) is None:
        raise InvalidInput(f"batch: {where}: run id {v!r:.60} must be 1-32 ASCII letters, digits, '-' or '_'")
    return v


def batch_id(v: Any) -> str:
    """A batch id: 1–100 ASCII letters, digits, '-', '_', '.' or ':' (the client makes it unique)."""
    if not isinstance(v, str) or _BATCH_ID.fullmatch(v) is None:
        raise InvalidInput(f"batch: id {v!r:.60} must be 1-{MAX_BATCH_ID} ASCII letters, digits, '-', '_', '.' or ':'")
    return v


def _names(v: Any, kind: str, where: str) -> list[str]:
    if isinstance(v, str) or not isinstance(v, (list, tuple)):
        raise InvalidInput(f"batch: {where} must be a list of names")
    if len(v) > 100:
        raise InvalidInput(f"batch: {where} has {len(v)} names; the limit is 100")
    return [check_key(kind, x) for x in v]


def _status(v: Any, where: str) -> str:
    if v not in RUN_STATUSES:
        raise InvalidInput(f"batch: {where} {v!r:.40} is not one of {', '.join(RUN_STATUSES)}")
    return v


_WORDS = {"nan": float("nan"), "infinity": float("inf"), "-infinity": float("-inf"), "inf": float("inf"),
          "-inf": float("-inf")}


def _array(v: Any, dtype: str, where: str) -> np.ndarray:
    """A flat array from a list of numbers, a numpy array, or little-endian bytes."""
    import numpy as np

    if isinstance(v, (bytes, bytearray, memoryview)):
        if len(v) % 8:
            raise InvalidInput(f"batch: {where}: byte array length must be a multiple of 8")
        return np.frombuffer(v, dtype=dtype).astype(dtype[1:] if dtype.startswith("<") else dtype)
    if isinstance(v, np.ndarray):
        if v.ndim != 1:
            raise InvalidInput(f"batch: {where} must be a flat list of numbers")
        return v
    if not isinstance(v, (list, tuple)):
        raise InvalidInput(f"batch: {where} must be a list of numbers")
    if dtype.endswith("f8"):
        out = []
        for x in v:
            if isinstance(x, str):
                if x.lower() not in _WORDS:
                    raise InvalidInput(f"batch: {where}: {x!r:.40} is not a number")
                out.append(_WORDS[x.lower()])
            elif x is None:
                out.append(np.nan)
            elif isinstance(x, (int, float)) and not isinstance(x, bool):
                out.append(x)
            else:
                raise InvalidInput(f"batch: {where} must hold numbers, not {x!r:.40}")
        try:
            return np.asarray(out, dtype=np.float64)
        except OverflowError:
            raise InvalidInput(f"batch: {where} holds a number too large for a 64-bit float") from None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise InvalidInput(f"batch: {where} must hold integers")
    if any(isinstance(x, int) and not INT64_MIN <= x <= INT64_MAX for x in v):
        raise InvalidInput(f"batch: {where} holds an integer outside the 64-bit range")
    return np.asarray(v)


def _run(item: Any) -> RunItem:
    r = _need(item, "runs")
    r["id"] = run_id(r["id"], "runs")
    if r.get("parent_id") is not None:
        r["parent_id"] = run_id(r["parent_id"], "runs.parent_id")
        if r["parent_id"] == r["id"]:
            raise InvalidInput(f"batch: runs.parent_id: run {r['id']} cannot be its own parent")
    if "status" in r:
        _status(r["status"], "runs.status")
    for f in ("name", "user"):
        if f in r:
            check_text(f"batch: runs.{f}", r[f], MAX_KEY)
    for f in ("source", "description"):
        if f in r:
            check_text(f"batch: runs.{f}", r[f])
    if r.get("project") is not None:
        check_key("project", r["project"])
    r["experiments"] = _names(r.get("experiments", []), "experiment", "runs.experiments")
    r["campaigns"] = _names(r.get("campaigns", []), "campaign", "runs.campaigns")
    if "start_time" in r:
        check_seconds("batch: runs.start_time", r["start_time"])
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
    import numpy as np

    from .series import Points

    m = _need(item, "metrics")
    run_id(m["run_id"], "metrics")
    name = check_key("metric", m["name"])
    where = f"metric {name!r}"
    vals = _array(m["values"], "<f8", where + " values").astype(np.float64, copy=False)
    n = len(vals)
    steps = m.get("steps")
    auto = steps is None
    steps = np.arange(n, dtype=np.int64) if auto else steps_array(name, _array(steps, "<i8", where + " steps"))
    ts = m.get("timestamps")
    if ts is None:
        if not clock:  # points without timestamps are stamped with one clock reading per batch
            clock.append(time.time())
        ts = np.full(n, clock[0])
    else:
        ts = times_array(name, _array(ts, "<f8", where + " timestamps"))
    if not (len(steps) == len(ts) == n):
        raise InvalidInput(f"batch: {where}: steps, timestamps and values must have the same length")
    return {"run_id": m["run_id"], "name": name, "context": context_json(m.get("context")),
            "points": Points(steps.astype(np.int64, copy=False), ts.astype(np.float64, copy=False), vals),
            "auto_steps": auto}


def _artifact(item: Any) -> ArtifactItem:
    a = _need(item, "artifacts")
    run_id(a["run_id"], "artifacts")
    check_key("artifact", a["name"])
    if "type" in a:
        check_text("batch: artifacts.type", a["type"], MAX_KEY)
    if "metadata" in a:
        a["metadata"] = check_metadata("batch: artifacts.metadata", a["metadata"])
    a["files"] = _files(a["files"], "artifacts", "artifact", a["name"])
    return a  # type: ignore[return-value]


def _files(raw: Any, section: str, what: str, name: str) -> list[FileItem]:
    if not isinstance(raw, (list, tuple)):
        raise InvalidInput(f"batch: {section}.files must be a list")
    if len(raw) > 100_000:
        raise InvalidInput(f"batch: {section}.files has {len(raw)} files; the limit is 100000")
    files, seen = [], set()
    for f in raw:
        f = _need(f, "artifacts.files")
        path = check_relative_path(f"batch: {section}.files.path", f["path"])
        if path in seen:
            raise InvalidInput(f"batch: {what} {name!r} lists the file {path!r} twice")
        seen.add(path)
        sha = f["sha256"]
        if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise InvalidInput(f"batch: {what} file {path!r}: sha256 must be 64 lowercase hex characters")
        f["size"] = check_int(f"batch: {what} file {path!r}: size", f["size"], 0, MAX_FILE_SIZE)
        if "media_type" in f:
            check_media_type(f"batch: {what} file {path!r}: media_type", f["media_type"])
        files.append(f)
    return files  # type: ignore[return-value]


def _figure(item: Any) -> FigureItem:
    f = _need(item, "figures")
    run_id(f["run_id"], "figures")
    name = check_key("figure", f["name"])
    check_figure_kind(f["kind"])
    f["step"] = figure_step(name, f.get("step"))
    f["context"] = context_json(f.get("context"))
    f["files"] = _files(f["files"], "figures", "figure", name)
    if not 0 < len(f["files"]) <= MAX_FIGURE_FILES:
        raise InvalidInput(f"batch: figure {name!r} has {len(f['files'])} files; 1 to {MAX_FIGURE_FILES} are stored")
    return f  # type: ignore[return-value]


def _input(item: Any) -> InputItem:
    i = _need(item, "inputs")
    run_id(i["run_id"], "inputs")
    artifact_id = check_int("batch: inputs.artifact_id", i["artifact_id"], 1)
    role = i.get("role", "input")
    check_text("batch: inputs.role", role, 100)
    return {"run_id": i["run_id"], "artifact_id": artifact_id, "role": role or "input"}


def _update(item: Any) -> UpdateItem:
    u = _need(item, "updates")
    run_id(u["run_id"], "updates")
    if "status" in u:
        _status(u["status"], "updates.status")
    if "end_time" in u:
        check_seconds("batch: updates.end_time", u["end_time"], nullable=True)
    if "name" in u:
        check_text("batch: updates.name", u["name"], MAX_KEY)
    if "description" in u:
        check_text("batch: updates.description", u["description"])
    if "error" in u:
        check_text("batch: updates.error", u["error"], nullable=True)
    return u  # type: ignore[return-value]


def _named(item: Any, kind: str, keys: tuple[tuple[str, str], ...], texts: tuple[str, ...]) -> dict:
    """An item whose fields are names (``keys``: field → the kind of name) and free texts."""
    d = _need(item, kind)
    for field, key_kind in keys:
        check_key(key_kind, d[field])
    for f in texts:
        if f in d:
            check_text(f"batch: {kind}.{f}", d[f])
    return d


def _project(item: Any) -> ProjectItem:
    return _named(item, "projects", (("name", "project"),), ("description",))  # type: ignore[return-value]


def _experiment(item: Any) -> ExperimentItem:
    return _named(item, "experiments", (("project", "project"), ("name", "experiment")),  # type: ignore[return-value]
                  ("description",))


def _campaign(item: Any) -> CampaignItem:
    return _named(item, "campaigns", (("project", "project"), ("name", "campaign")),  # type: ignore[return-value]
                  ("description",))


def _model(item: Any) -> ModelItem:
    m = _named(item, "models", (("project", "project"), ("name", "model")), ("description",))
    if "stage" in m:
        check_text("batch: models.stage", m["stage"], MAX_STAGE)
    m["artifact_id"] = check_int("batch: models.artifact_id", m["artifact_id"], 1)
    return m  # type: ignore[return-value]


def _dataset(item: Any) -> DatasetItem:
    d = _named(item, "datasets", (("project", "project"), ("name", "dataset")), ())
    run_id(d["run_id"], "datasets")
    if d["kind"] not in DATASET_KINDS:
        raise InvalidInput(f"batch: datasets.kind {d['kind']!r:.40} is not one of {', '.join(DATASET_KINDS)}")
    if "metadata" in d:
        d["metadata"] = check_metadata("batch: datasets.metadata", d["metadata"])
    d["files"] = _files(d["files"], "datasets", "dataset", d["name"])
    if not d["files"]:
        raise InvalidInput(f"batch: dataset {d['name']!r} has no files")
    return d  # type: ignore[return-value]


def _alias(item: Any) -> AliasItem:
    a = _named(item, "aliases", (("project", "project"),), ())
    of = [k for k in ("model", "dataset") if k in a]
    if len(of) != 1:
        raise InvalidInput("batch: an aliases item names exactly one of 'model' and 'dataset'")
    check_key(of[0], a[of[0]])
    check_alias(a["alias"])
    if a["version"] is not None:
        a["version"] = check_int("batch: aliases.version", a["version"], 1)
    return a  # type: ignore[return-value]


def _stage(item: Any) -> StageItem:
    s = _named(item, "stages", (("project", "project"), ("model", "model")), ())
    s["version"] = check_int("batch: stages.version", s["version"], 1)
    check_text("batch: stages.stage", s["stage"], MAX_STAGE)
    return s  # type: ignore[return-value]


def normalize_batch(batch: Mapping[str, Any]) -> NormalBatch:
    """Validate a batch and bring it into the store's shape; raises :class:`InvalidInput` naming the field."""
    if not isinstance(batch, Mapping):
        raise InvalidInput("batch must be a JSON object")
    extra = set(batch) - set(BATCH_KEYS)
    if extra:
        raise InvalidInput(f"batch: unknown section(s) {', '.join(sorted(map(str, extra)))[:200]}")
    raw: dict[str, Any] = {}
    for k in SECTIONS:
        v = batch.get(k, [])
        if not isinstance(v, (list, tuple)):
            raise InvalidInput(f"batch: {k!r} must be a list")
        raw[k] = v
    clock: list[float] = []
    return {
        "id": batch_id(batch["id"]) if "id" in batch else None,
        "projects": [_project(x) for x in raw["projects"]],
        "experiments": [_experiment(x) for x in raw["experiments"]],
        "campaigns": [_campaign(x) for x in raw["campaigns"]],
        "runs": [_run(x) for x in raw["runs"]],
        "params": [_param(x) for x in raw["params"]],
        "tags": [_tag(x) for x in raw["tags"]],
        "metrics": [_metric(x, clock) for x in raw["metrics"]],
        "artifacts": [_artifact(x) for x in raw["artifacts"]],
        "figures": [_figure(x) for x in raw["figures"]],
        "inputs": [_input(x) for x in raw["inputs"]],
        "updates": [_update(x) for x in raw["updates"]],
        "models": [_model(x) for x in raw["models"]],
        "datasets": [_dataset(x) for x in raw["datasets"]],
        "aliases": [_alias(x) for x in raw["aliases"]],
        "stages": [_stage(x) for x in raw["stages"]],
        "heartbeat": [run_id(x, "heartbeat") for x in raw["heartbeat"]],
    }
