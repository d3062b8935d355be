"""jupyter_mltrack — experiment tracking that lives inside Jupyter.

    import jupyter_mltrack as mlt
    with mlt.start_run(name="rf", project="House prices", params={"n_estimators": 100}) as run:
        run.log_metric("rmse", 0.42, context={"subset": "val"})
    mlt.search_runs(filter="metrics.rmse[subset=val] < 0.5")

``%load_ext jupyter_mltrack`` adds the ``%%track_run`` cell magic. The public names are imported lazily so that
``import jupyter_mltrack`` stays fast (no pandas, SQLAlchemy or widgets until they are needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .version import __version__

_API = {
    "jupyter_mltrack.client.run": ("Run", "new_run_id"),
    "jupyter_mltrack.client.fluent": ("start_run", "active_run", "end_run", "log_param", "log_params", "log_metric",
                                      "log_metrics", "set_tag", "set_tags", "log_artifact", "log_figure", "log_image",
                                      "log_confusion_matrix"),
    "jupyter_mltrack.client.tracking": ("flush", "set_tracking_uri", "get_tracking_uri"),
    "jupyter_mltrack.client.queries": ("get_run", "search_runs", "list_projects", "list_experiments",
                                       "diff_notebooks", "RunDiff", "export_report", "gc", "restore_notebook"),
    "jupyter_mltrack.client.registry": ("log_model", "register_model", "register_best", "set_alias", "set_stage",
                                        "get_model_version", "list_models", "load_model"),
    "jupyter_mltrack.client.datasets": ("log_dataset", "use_dataset", "diff_datasets", "list_datasets",
                                        "set_dataset_alias"),
    "jupyter_mltrack.client.inputs": ("use_params", "log_pipeline"),
}
_API["jupyter_mltrack.client.jobs"] = ("create_job", "list_jobs", "get_job", "run_job", "pause_job", "resume_job",
                                       "delete_job", "job_executions", "job_log")
_API["jupyter_mltrack.client.describe"] = ("set_description", "campaigns", "create_campaign")
_API["jupyter_mltrack.client.ab_tests"] = ("ab_test", "ab_results", "promote", "stop_ab_test")
_API["jupyter_mltrack.client.serving"] = ("deploy", "deployments", "get_deployment", "undeploy")
_LAZY = {name: module for module, names in _API.items() for name in names}
_LAZY.update({
    "set_notebook": "jupyter_mltrack.client.notebook",
    "find_notebook": "jupyter_mltrack.client.notebook",
    "Store": "jupyter_mltrack.core.store",
    "MLTrackError": "jupyter_mltrack.core.errors",
    "InvalidInput": "jupyter_mltrack.core.errors",
    "NotFound": "jupyter_mltrack.core.errors",
    "Conflict": "jupyter_mltrack.core.errors",
    "WriterError": "jupyter_mltrack.client.writer",
    "register_gatherer": "jupyter_mltrack.client.environment",
    "RunTable": "jupyter_mltrack.widgets.run_table",
    "MetricChart": "jupyter_mltrack.widgets.metric_chart",
    "Compare": "jupyter_mltrack.widgets.compare",
    "compare": "jupyter_mltrack.widgets.compare",
})

__all__ = sorted(_LAZY) + ["__version__", "load_ipython_extension"]

if TYPE_CHECKING:  # pragma: no cover
    from .client.environment import register_gatherer
    from .client.notebook import find_notebook, set_notebook
    from .client.fluent import (
        active_run, end_run, log_artifact, log_confusion_matrix, log_figure, log_image, log_metric, log_metrics,
        log_param, log_params, set_tag, set_tags, start_run,
    )
    from .client.queries import (
        RunDiff, diff_notebooks, export_report, gc, get_run, list_experiments, list_projects, restore_notebook,
        search_runs,
    )
    from .client.datasets import diff_datasets, list_datasets, log_dataset, set_dataset_alias, use_dataset
    from .client.inputs import log_pipeline, use_params
    from .client.registry import (
        get_model_version, list_models, load_model, log_model, register_best, register_model, set_alias, set_stage,
    )
    from .client.jobs import (
        create_job, delete_job, get_job, job_executions, job_log, list_jobs, pause_job, resume_job, run_job,
    )
    from .client.describe import campaigns, create_campaign, set_description
    from .client.ab_tests import ab_results, ab_test, promote, stop_ab_test
    from .client.serving import deploy, deployments, get_deployment, undeploy
    from .client.run import Run, new_run_id
    from .client.tracking import flush, get_tracking_uri, set_tracking_uri
    from .client.writer import WriterError
    from .widgets.compare import Compare, compare
    from .widgets.metric_chart import MetricChart
    from .widgets.run_table import RunTable
    from .core.errors import Conflict, InvalidInput, MLTrackError, NotFound
    from .core.store import Store


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'jupyter_mltrack' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


def load_ipython_extension(ipython) -> None:
    """``%load_ext jupyter_mltrack``: registers ``%%track_run`` and ``%mltrack``."""
    from .magics import load

    load(ipython)


def _jupyter_server_extension_points():
    from .server.app import MLTrackApp

    return [{"module": "jupyter_mltrack", "app": MLTrackApp}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-mltrack"}]
