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
    (the tracked cells: sources, magic line included, and outputs, with line diffs), ``notebook`` (cell-by-cell
    comparison of their notebook snapshots) and ``history`` (of their execution histories, when ``notebook``
    compared saved or live documents; else None). Shown as readable text (``print``, the notebook's text form) and HTML."""

    def __str__(self) -> str:
        from ..report.diff import diff_text

        return diff_text(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        from ..report.diff import diff_html

        return diff_html(self)


def diff_notebooks(run_a: "Run | str", run_b: "Run | str") -> RunDiff:
    """Compare two runs: params, last metric values, tags, their tracked cells (source as written and outputs), their
    notebook snapshots (cells via nbdime) and, when those were saved or live documents, their execution histories
    (what ran, in order, with its outputs)."""
    from ..report.diff import run_diff

    client = get_client()
    client.writer.flush(raise_errors=False)
    a = client.backend.get_run(run_a.id if isinstance(run_a, Run) else run_a)
    b = client.backend.get_run(run_b.id if isinstance(run_b, Run) else run_b)
    return RunDiff(run_diff(a, b, client.backend.read_artifact_file))


def restore_notebook(run: "Run | str", path: str | os.PathLike | None = None) -> Path:
    """Write the run's notebook snapshot (the best one stored: the live document, else the saved file when it shows
    the run, else the execution history) to a new notebook file and return its path.

    ``path`` defaults to ``<notebook name>-<run id prefix>.ipynb`` in the current folder (the run's name, or
    ``run``, when the notebook's name is unknown). Never overwrites: when the file exists, ``-1``, ``-2``… is added
    to its name (as the sidebar's "Open notebook snapshot" does). NotFound when the run has no snapshot."""
    from ..report.diff import pick_snapshot

    client = get_client()
    client.writer.flush(raise_errors=False)
    info = client.backend.get_run(run.id if isinstance(run, Run) else str(run))
    art, f = pick_snapshot(info)
    if f is None:
        raise NotFound(f"run {info['id']!r} has no notebook snapshot")
    data = client.backend.read_artifact_file(art["id"], f["path"])
    if path is None:
        nb_path = (art.get("metadata") or {}).get("notebook_path") or ""
        stem = Path(nb_path).stem if nb_path else (info.get("name") or "run")
        stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip(".-") or "run"
        path = Path.cwd() / f"{stem}-{info['id'][:8]}.ipynb"
    target = Path(path)
    for n in range(10_000):
        candidate = target if n == 0 else target.with_name(f"{target.stem}-{n}{target.suffix}")
        try:
            with open(candidate, "xb") as out:  # exclusive: never replaces a file, even one made a moment ago
                out.write(data)
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"{target} and 9999 numbered names beside it exist")


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
