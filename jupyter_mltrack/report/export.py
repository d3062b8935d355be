"""Export runs to one standalone HTML report, readable without Jupyter.

The report is a notebook composed from the runs and rendered with nbconvert's HTML exporter: a comparison table
(params and last metric values, differing params marked), one chart per metric series with more than one point, a
line per run (plotly figures, with plotly.js from its CDN, embedded once, or drawn as SVG images: ``report/charts.py``
— a single value is a row of the tables, not a chart), then for each run its params, metrics, tags, environment, its tracked cell with its
outputs and figures, its logged figures and images (``report/figures.py``: static images), and its notebook
snapshot, cells and outputs as they ran.
"""

from __future__ import annotations

import html
import json
import time
import uuid
from pathlib import Path
from typing import Callable

from ..core.wire import float_to_wire

_MAX_CHART_POINTS = 2000


def _esc(v) -> str:
    return html.escape(v if isinstance(v, str) else json.dumps(v, default=str))


def _fmt(v) -> str:
    if isinstance(v, float):
        w = float_to_wire(v)
        return w if isinstance(w, str) else f"{v:.6g}"
    return _esc(v)


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="mltrack-table {cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def duration_text(seconds: float) -> str:
    """A run's duration for reading: milliseconds below a second, then seconds, then minutes and hours."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _label(run: dict) -> str:
    return f"{run['name'] or run['id']} ({run['id']})" if run["name"] else run["id"]


def comparison_html(runs: list[dict]) -> str:
    param_keys = sorted({k for r in runs for k in r["params"]})
    metric_keys = sorted({m["key"] for r in runs for m in r["metrics"]})
    headers = ["run", "status", "start"] + [f"params.{_esc(k)}" for k in param_keys] + [
        f"metrics.{_esc(k)}" for k in metric_keys]
    differing = {k for k in param_keys if len({json.dumps(r["params"].get(k), sort_keys=True) for r in runs}) > 1}
    rows = []
    for r in runs:
        last = {m["key"]: m["last"] for m in r["metrics"]}
        row = [_esc(_label(r)), _esc(r["status"]), time.strftime("%Y-%m-%d %H:%M", time.localtime(r["start_time"]))]
        for k in param_keys:
            cell = _fmt(r["params"].get(k, ""))
            row.append(f"<b>{cell}</b>" if k in differing else cell)
        row += [_fmt(last[k]) if k in last else "" for k in metric_keys]
        rows.append(row)
    note = "<p>Params that differ between runs are in bold.</p>" if len(runs) > 1 and differing else ""
    return _table(headers, rows, "mltrack-compare") + note


def charts_html(runs: list[dict], series_of: Callable[[str, str, dict], dict | None],
                static: bool = False) -> list[str]:
    """One chart per metric (name + context), a line per run: a plotly figure, or (``static``) an SVG image."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from .charts import static_chart

    keys: dict[str, tuple[str, dict]] = {}
    for r in runs:
        for m in r["metrics"]:
            if (m.get("count") or 0) > 1:  # a single value is a table row, not a one-dot chart
                keys.setdefault(m["key"], (m["name"], m["context"]))
    out = []
    for key in sorted(keys):
        name, ctx = keys[key]
        fig, lines = go.Figure(), []
        for r in runs:
            if not any(m["key"] == key for m in r["metrics"]):
                continue
            s = series_of(r["id"], name, ctx)
            if s is None:
                continue
            p = s["points"]
            lines.append((_label(r), p.steps.tolist(), [None if v != v else v for v in p.values.tolist()]))
            fig.add_trace(go.Scatter(x=lines[-1][1], y=lines[-1][2], mode="lines+markers" if len(p) < 50 else "lines",
                                     name=_label(r)))
        if static:
            out.append(static_chart(key, name, lines))
            continue
        fig.update_layout(title=key, xaxis_title="step", yaxis_title=name, height=360,
                          margin=dict(l=50, r=20, t=50, b=40), template="plotly_white")
        out.append(pio.to_html(fig, include_plotlyjs=False, full_html=False,
                               config={"displaylogo": False, "responsive": True}))
    return out


def environment_html(env: dict | None) -> str:
    if not env:
        return "<p>No environment was captured for this run.</p>"
    rows = []
    py = env.get("python", {})
    if py:
        rows.append(["Python", _esc(f"{py.get('implementation', '')} {py.get('version', '')}")])
    plat = env.get("platform", {})
    if plat:
        rows.append(["Platform", _esc(plat.get("platform", ""))])
    host = env.get("host", {})
    if host:
        rows.append(["Host", _esc(f"{host.get('user', '')}@{host.get('hostname', '')}")])
    hw = env.get("hardware", {})
    if hw:
        gpus = ", ".join(g.get("name", "") for g in hw.get("gpus", [])) or "none"
        rows.append(["Hardware", _esc(f"{hw.get('cpu_count')} CPUs ({hw.get('cpu_model', '')}), "
                                      f"{(hw.get('memory_bytes') or 0) / 2**30:.1f} GiB RAM, GPUs: {gpus}")])
    git = env.get("git") or {}
    if git:
        rows.append(["Git", _esc(f"{git.get('branch')} @ {str(git.get('commit'))[:12]}"
                                 + (" (uncommitted changes)" if git.get("dirty") else ""))])
    pkgs = (env.get("packages") or {}).get("packages", {})
    if pkgs:
        rows.append(["Packages", _esc(f"{len(pkgs)} installed") + "<details><summary>list</summary>"
                     + _esc(", ".join(f"{k}=={v}" for k, v in pkgs.items())) + "</details>"])
    for name, err in (env.get("errors") or {}).items():
        rows.append([f"not captured: {_esc(name)}", _esc(err)])
    return _table(["", ""], rows, "mltrack-env")


def build_report(runs: list[dict], read_file: Callable[[int, str], bytes],
                 series_of: Callable[[str, str, dict], dict | None], title: str | None = None,
                 figures_of: Callable[[str], list[dict]] | None = None, *, plotly: str = "cdn") -> str:
    """The report's HTML. ``read_file(artifact_id, path)`` reads artifact bytes; ``series_of(run_id, name,
    context)`` returns a (downsampled) series dict or None; ``figures_of(run_id)`` the run's figures
    (``report/figures.py`` draws them as static images); ``plotly``: how charts are carried (``report/charts.py``:
    "cdn", "inline" or "static")."""
    import nbformat
    from nbconvert import HTMLExporter

    from .charts import check_plotly_mode, plotly_head
    from .diff import pick_snapshot

    check_plotly_mode(plotly)

    title = title or ("Run " + _label(runs[0]) if len(runs) == 1 else f"{len(runs)} runs")
    nb = nbformat.v4.new_notebook()
    nb.metadata["title"] = title
    md = nbformat.v4.new_markdown_cell

    def html_cell(body: str):
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": body})]
        cell.metadata["tags"] = ["mltrack-report"]
        return cell

    projects = sorted({r["project"] for r in runs})
    nb.cells.append(md(f"# {title}\n\nProject: {', '.join(projects)} · exported "
                       f"{time.strftime('%Y-%m-%d %H:%M')} by jupyter_mltrack"))
    nb.cells.append(md("## Comparison" if len(runs) > 1 else "## Summary"))
    nb.cells.append(html_cell(comparison_html(runs)))
    charts = charts_html(runs, series_of, static=plotly == "static")
    if charts:
        nb.cells.append(md("## Metrics"))
        for c in charts:
            nb.cells.append(html_cell(f'<div class="mltrack-chart">{c}</div>'))
    for r in runs:
        nb.cells.append(md(f"## {_esc(_label(r))}"))
        info = [["Status", _esc(r["status"])], ["Project", _esc(r["project"])],
                ["Experiments", _esc(", ".join(r.get("experiments", [])))], ["User", _esc(r.get("user", ""))],
                ["Source", _esc(r.get("source", ""))],
                ["Started", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["start_time"]))],
                ["Duration", duration_text((r.get("end_time") or r["start_time"]) - r["start_time"])]]
        if r.get("error"):
            info.append(["Error", f"<pre>{_esc(r['error'][-3000:])}</pre>"])
        body = _table(["", ""], info, "mltrack-info")
        if r["params"]:
            body += "<h3>Params</h3>" + _table(["param", "value"], [[_esc(k), _fmt(v)] for k, v in r["params"].items()])
        if r["metrics"]:
            body += "<h3>Metrics</h3>" + _table(
                ["metric", "last", "step", "min", "max", "points"],
                [[_esc(m["key"]), _fmt(m["last"]), _fmt(m["last_step"]), _fmt(m["min"]), _fmt(m["max"]),
                  _fmt(m["count"])] for m in r["metrics"]])
        if r["tags"]:
            body += "<h3>Tags</h3>" + _table(["tag", "value"], [[_esc(k), _esc(v)] for k, v in r["tags"].items()])
        env = None
        env_art = [a for a in r.get("artifacts", []) if a["type"] == "environment"]
        if env_art:
            f = next((f for f in env_art[-1]["files"] if f["path"] == "environment.json"), None)
            if f is not None:
                env = json.loads(read_file(env_art[-1]["id"], f["path"]))
        body += "<h3>Environment</h3>" + environment_html(env)
        if figures_of is not None:
            from .figures import figures_html

            body += figures_html(figures_of(r["id"]), read_file)
        others = [a for a in r.get("artifacts", []) if a["type"] not in ("environment", "notebook")]
        if others:
            body += "<h3>Artifacts</h3>" + _table(
                ["name", "type", "version", "files"],
                [[_esc(a["name"]), _esc(a["type"]), str(a["version"]),
                  _esc(", ".join(f"{f['path']} ({f['size']} B)" for f in a["files"]))] for a in others])
        nb.cells.append(html_cell(body))
        art, f = pick_snapshot(r)
        if f is None:
            nb.cells.append(md("*No notebook snapshot was stored for this run.*"))
            continue
        if any(x["path"] == "cell.ipynb" for x in art.get("files", [])):
            nb.cells.append(md("### Tracked cell"))
            tracked = nbformat.reads(read_file(art["id"], "cell.ipynb").decode("utf-8"), as_version=4)
            for cell in tracked.cells:
                cell["id"] = uuid.uuid4().hex[:12]
                nb.cells.append(cell)
        label = (art.get("metadata") or {}).get("files", {}).get(f["path"], "")
        nb.cells.append(md(f"### Notebook — `{f['path']}`" + (f" ({label})" if label else "")))
        snap = nbformat.reads(read_file(art["id"], f["path"]).decode("utf-8"), as_version=4)
        for cell in snap.cells:  # several runs' snapshots share cell ids: give each a fresh one
            cell["id"] = uuid.uuid4().hex[:12]
            nb.cells.append(cell)
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="lab")
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_input_tags={"mltrack-report"}, enabled=True), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    style = """<style>
.mltrack-table { border-collapse: collapse; margin: 0.5em 0; font-size: 13px; }
.mltrack-table th, .mltrack-table td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
.mltrack-table th { background: #f3f3f3; }
.mltrack-chart { min-height: 360px; }
</style>"""
    # plotly.js only when a chart needs it ("static" reports' plotly figures logged without a PNG: from the CDN)
    head = plotly_head("cdn" if plotly == "static" else plotly, "plotly-graph-div" in body) + style
    return body.replace("</head>", head + "</head>", 1)


PROGRESS_FROM = 20  # runs; below this an export is quick enough to stay silent


def export_report(run_ids: list[str], path: str | Path, backend, title: str | None = None,
                  max_points: int = _MAX_CHART_POINTS, progress: bool | None = None, plotly: str = "cdn") -> Path:
    """Write the report of ``run_ids`` to ``path`` (HTML) using a client backend; returns the path. A progress bar
    (notebook-aware) shows for large exports unless ``progress=False``; ``plotly``: see ``report/charts.py``."""
    from .charts import check_plotly_mode

    check_plotly_mode(plotly)
    from tqdm.auto import tqdm

    show = progress if progress is not None else len(run_ids) >= PROGRESS_FROM
    bar = tqdm(total=2 * len(run_ids) + 1, desc="exporting runs", unit="step", disable=not show, leave=False)
    runs = []
    try:
        for rid in run_ids:
            runs.append(backend.get_run(rid))
            bar.update()

        seen: set[str] = set()

        def series_of(run_id, name, ctx):
            if run_id not in seen:
                seen.add(run_id)
                bar.update()
            try:
                return backend.get_series(run_id, name, ctx, max_points)
            except Exception:
                return None

        out = Path(path)
        out.write_text(build_report(runs, backend.read_artifact_file, series_of, title, backend.list_figures,
                                    plotly=plotly), encoding="utf-8")
        bar.update(bar.total - bar.n)
    finally:
        bar.close()
    return out
