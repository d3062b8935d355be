"""Starting runs and the fluent API: ``start_run``, the active run, and module-level logging functions that act on
it (``mlt.log_metric(...)`` inside a ``with mlt.start_run():`` block or a ``%%track_run`` cell). Runs still open
when the process ends are ended: finished, failed (an uncaught exception) or killed (a kernel shutting down).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
import traceback
from typing import Any, Iterable, Mapping, Sequence

from ..core.errors import InvalidInput
from ..core.validation import MAX_KEY, check_key, check_text, param_json, tag_value
from .environment import current_user
from .run import ACTIVE, Run, new_run_id
from .tracking import get_client


def start_run(
    name: str | None = None,
    *,
    project: str | None = None,
    experiment: str | Iterable[str] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str = "",
    parent: "Run | str | None | bool" = None,
    source: str | None = None,
    campaign: str | Iterable[str] | None = None,
    capture_environment: bool | None = None,
) -> Run:
    """Start a run and make it the active one. Inside another active run it becomes its child (pass
    ``parent=False`` for a top-level run). Use as ``with mlt.start_run(...) as run:``.

    ``project`` defaults to the parent's project, then ``MLTRACK_PROJECT``, then "Default"; ``experiment`` may be
    one name or several. ``capture_environment`` (default: top-level runs only) stores Python, packages, git,
    host and hardware as the run's "environment" artifact, gathered in the background."""
    client = get_client()
    client.writer.warn_errors()
    _install_excepthook()
    with ACTIVE.lock:
        parent_run = None
        if parent is None:
            parent_run = ACTIVE.top() or job_run()
        elif isinstance(parent, Run):
            parent_run = parent
        parent_id = parent_run.id if parent_run is not None else (parent if isinstance(parent, str) else None)
        if project is None:
            project = parent_run.project if parent_run is not None else (os.environ.get("MLTRACK_PROJECT") or "Default")
        check_key("project", project)
        exps = [experiment] if isinstance(experiment, str) else list(experiment or [])
        for e in exps:
            check_key("experiment", e)
        camps = [campaign] if isinstance(campaign, str) else list(campaign or [])
        for c in camps:
            check_key("campaign", c)
        if name is not None:
            check_text("run name", name, MAX_KEY)
        if description is not None:
            check_text("run description", description)
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput("params must be a dict")
        # validate params and tags before creating anything
        checked_params = {check_key("param", k): param_json(k, v) for k, v in (params or {}).items()}
        checked_tags = {check_key("tag", k): tag_value(k, v) for k, v in (tags or {}).items()}
        run_id = new_run_id()
        run = Run(run_id, name=name or "", project=project, experiments=exps, parent_id=parent_id,
                  client=client, active=True)
        w = client.writer
        w.add("runs", {
            "id": run_id, "name": name or "", "project": project, "experiments": exps, "campaigns": camps,
            "parent_id": parent_id, "user": current_user(), "source": source if source is not None else _source(),
            "description": description or "", "start_time": time.time(), "status": "running",
        })
        w.open_runs.add(run_id)
        for k, text in checked_params.items():
            run._params[k] = text
            w.add("params", {"run_id": run_id, "key": k, "value": json.loads(text)})
        for k, v in checked_tags.items():
            w.add("tags", {"run_id": run_id, "key": k, "value": v})
        if parent_run is not None and parent_run._live:
            parent_run._children.append(run)
        ACTIVE.push(run)
    if capture_environment if capture_environment is not None else parent_id is None:
        from .environment import environment_artifact

        w.defer(environment_artifact(run_id, client.backend, w))
    return run


_JOB_RUN: list[Run] = []


def job_run() -> Run | None:
    """Inside a job (``MLTRACK_RUN_ID``, set by the job runner: ``jupyter_mltrack/jobs/runner.py``): the job's run,
    adopted as this process's active run on first use — what the job logs with ``mlt`` lands under it and the runs
    it starts are its children. The runner ends it (its status is the process's exit), never this process."""
    rid = os.environ.get("MLTRACK_RUN_ID")
    if not rid:
        return None
    with ACTIVE.lock:
        if not _JOB_RUN:
            run = Run(rid, name=os.environ.get("MLTRACK_JOB", ""), project=os.environ.get("MLTRACK_PROJECT", ""),
                      client=get_client(), active=True)
            _JOB_RUN.append(run)
            ACTIVE.push(run)
        run = _JOB_RUN[0]
        return run if run.is_active else None


_uncaught: list[BaseException] = []


def _install_excepthook() -> None:
    """Remember an uncaught exception so that runs still open at exit end ``failed`` rather than ``finished``."""
    prev = sys.excepthook
    if getattr(prev, "_mltrack", False):
        return

    def hook(exc_type, exc, tb):
        _uncaught.append(exc)
        prev(exc_type, exc, tb)

    hook._mltrack = True
    sys.excepthook = hook


@atexit.register
def _end_open_runs_at_exit() -> None:
    """Runs must not stay "running" after the process: a script that ends normally finishes its runs, one that dies
    of an exception fails them, a kernel that shuts down kills them. (Registered after the writer's own exit hook, so
    it runs before it and the final flush carries these updates.)"""
    open_runs = [r for r in ACTIVE.all() if r not in _JOB_RUN]  # a job's run is its runner's to end
    if not open_runs:
        return
    in_kernel = "IPython" in sys.modules and sys.modules["IPython"].get_ipython() is not None
    if in_kernel:
        status, error = "killed", "the kernel shut down while the run was open"
    elif _uncaught:
        e = _uncaught[-1]
        status, error = "failed", "".join(traceback.format_exception(type(e), e, e.__traceback__))
    else:
        status, error = "finished", None
    for r in reversed(open_runs):
        try:
            r.end(status, error=error)
        except Exception:  # pragma: no cover
            pass


def active_runs() -> list[Run]:
    """The runs open in this process, oldest first."""
    return ACTIVE.all()


def active_run() -> Run | None:
    """The innermost active run of this process (in a job: the job's run, when no other), or None."""
    return ACTIVE.top() or job_run()


def _require_active() -> Run:
    r = active_run()
    if r is None:
        raise InvalidInput("no active run: start one with mlt.start_run() or run the cell under %%track_run")
    return r


def end_run(status: str = "finished") -> None:
    r = active_run()
    if r is not None:
        r.end(status)


def log_param(key: str, value: Any) -> None:
    _require_active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require_active().log_params(params)


def log_metric(name: str, value: Any, step: int | None = None, context: Mapping[str, Any] | None = None) -> None:
    _require_active().log_metric(name, value, step, context)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, context: Mapping[str, Any] | None = None) -> None:
    _require_active().log_metrics(metrics, step, context)


def set_tag(key: str, value: Any) -> None:
    _require_active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _require_active().set_tags(tags)


def log_artifact(path, name: str | None = None, type: str = "", metadata=None) -> None:
    _require_active().log_artifact(path, name=name, type=type, metadata=metadata)


def log_figure(fig: Any, name: str, step: int | None = None, context: Mapping[str, Any] | None = None,
               run: Run | None = None) -> None:
    """Store a matplotlib or plotly figure as the figure ``name`` of ``run`` (default: the active run)."""
    (run or _require_active()).log_figure(fig, name, step, context)


def log_image(image: Any, name: str, step: int | None = None, context: Mapping[str, Any] | None = None,
              run: Run | None = None) -> None:
    """Store an image (numpy array HW/HWC, uint8 or floats in [0, 1], or a PIL image) as PNG at ``step`` of the
    image series ``name``."""
    (run or _require_active()).log_image(image, name, step, context)


def log_confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence | None = None,
                         context: Mapping[str, Any] | None = None, normalize: str | None = None,
                         name: str = "confusion_matrix", step: int | None = None, run: Run | None = None) -> None:
    """Count and store the confusion matrix of ``y_true`` against ``y_pred`` (rows: true labels)."""
    (run or _require_active()).log_confusion_matrix(y_true, y_pred, labels, context, normalize, name, step)


def _source() -> str:
    from .notebook import current_source

    try:
        return current_source()
    except Exception:
        return ""
