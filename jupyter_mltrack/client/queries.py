"""Reading the store from the kernel: a run, runs as a DataFrame, diffs and reports (the model registry:
``client/registry.py``).

Each call first lets the writer store what this process logged, so a read sees one's own writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import InvalidInput, NotFound
from ..core.wire import gc_paused
from .frames import runs_dataframe
from .run import ACTIVE, Run
from .tracking import get_client


def get_run(run_id: str) -> Run:
    """A read view of a stored run (``.params``, ``.metrics``, ``.tags``, ``.artifacts``, ``.metric_history()``)."""
    for r in ACTIVE.all():
        if r.id == run_id:
            return r
    client = get_client()
    client.writer.flush(raise_errors=False)
    info = client.backend.get_run(run_id)
    return Run(info["id"], name=info["name"], project=info["project"], experiments=info["experiments"],
               parent_id=info["parent_id"], client=client)


def search_runs(
    project: str | None = None,
    experiment: str | None = None,
    filter: str | None = None,
    order_by: str | None = None,
    max_results: int | None = None,
    campaign: str | None = None,
):
    """Runs as a pandas DataFrame, one row per run: ``run_id``, ``name``, ``status``, ``start_time``,
    ``end_time``, ``duration``, ``project``, ``experiments``, ``user``, ``parent_id``, ``source``, then
    ``params.*``, ``metrics.*`` (last value of each series, the context in brackets) and ``tags.*``.

    ``filter`` is the search language (``"metrics.acc > 0.5 and params.optimizer = 'adam'"``, see
    :mod:`jupyter_mltrack.core.search`), ``order_by`` e.g. ``"metrics.acc DESC"`` (default: newest first)."""
    client = get_client()
    client.writer.flush(raise_errors=False)
    client.writer.warn_errors()
    # one pause over the read and the frame; the intermediate dicts are freed before the collector resumes, so it
    # has only the frame to look at
    read = getattr(client.backend, "run_frame", None) or client.backend.run_table
    with gc_paused():
        table = read(project=project, experiment=experiment, campaign=campaign, filter=filter, order_by=order_by,
                     limit=max_results)
        df = runs_dataframe(table)
        del table
    return df


class RunDiff(dict):
    """What differs between two runs: ``params``, ``metrics`` (last values), ``tags`` ({key: {"a", "b"}}), ``cell``
    (the tracked cells: sources, magic line included, and outputs, with line diffs) and ``notebook`` (cell-by-cell
    comparison of their notebook snapshots). Shown as readable text (``print``, the notebook's text form) and HTML."""

    def __str__(self) -> str:
        from ..report.diff import diff_text

        return diff_text(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        from ..report.diff import diff_html

        return diff_html(self)


def diff_notebooks(run_a: "Run | str", run_b: "Run | str") -> RunDiff:
    """Compare two runs: params, last metric values, tags and their notebook snapshots (cells via nbdime)."""
    from ..report.diff import run_diff

    client = get_client()
    client.writer.flush(raise_errors=False)
    a = client.backend.get_run(run_a.id if isinstance(run_a, Run) else run_a)
    b = client.backend.get_run(run_b.id if isinstance(run_b, Run) else run_b)
    return RunDiff(run_diff(a, b, client.backend.read_artifact_file))


def _run_ids(runs) -> list[str]:
    if isinstance(runs, (str, Run)):
        runs = [runs]
    if hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):  # a search_runs DataFrame
        return [str(x) for x in runs["run_id"]]
    out = []
    for r in runs:
        out.append(r.id if isinstance(r, Run) else str(r))
    if not out:
        raise InvalidInput("no runs given")
    return out


def export_report(runs, path: str | os.PathLike = "mltrack-report.html", title: str | None = None,
                  max_points: int = 2000, progress: bool | None = None, plotly: str = "cdn") -> Path:
    """Write a standalone HTML report of one or more runs (Run objects, ids, or a search_runs DataFrame):
    comparison table, metric charts, params, environment and notebook snapshots. Returns the file's path.

    ``plotly`` says how the metric charts travel: ``"cdn"`` (default: interactive, plotly.js loaded from
    cdn.plot.ly when the report is opened — a light file), ``"inline"`` (plotly.js embedded: about 5 MB, works
    offline) or ``"static"`` (SVG images drawn with matplotlib: light, offline, not interactive)."""
    from ..report.export import export_report as _export

    client = get_client()
    client.writer.flush(raise_errors=False)
    ids = _run_ids(runs)
    return _export(ids, path, client.backend, title=title, max_points=max_points, progress=progress, plotly=plotly)


def gc(grace_hours: float = 1.0, dry_run: bool = False) -> dict:
    """Reclaim space: remove the stored artifact files (blobs) no artifact references and abandoned temporary
    uploads, both once older than ``grace_hours`` (younger ones may belong to a writer about to commit), in the
    local store or on the server. ``dry_run`` only counts. Returns a report: ``blobs_removed``, ``bytes_freed``,
    ``temp_files_removed``, ``temp_bytes_freed``, ``blobs_kept_young``, ``blob_rows_removed``, ``dry_run``."""
    client = get_client()
    client.writer.flush(raise_errors=False)  # what this process logged references its blobs before they are judged
    return client.backend.gc(grace_hours=grace_hours, dry_run=dry_run)


def list_projects():
    import pandas as pd

    return pd.DataFrame(get_client().backend.list_projects())


def list_experiments(project: str | None = None):
    import pandas as pd

    return pd.DataFrame(get_client().backend.list_experiments(project))
