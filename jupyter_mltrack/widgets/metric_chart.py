"""``MetricChart`` — metric series of one or many runs as live plotly lines in the notebook.

One panel per metric; a colour per run (or per value of a param, ``color_by``); contexts (train / val / test) in
distinct dash styles. Series arrive downsampled (MinMaxLTTB, global extremes kept) to ``max_points`` per line, so million-point
series draw instantly; zooming asks the kernel for that step range at full detail. While a displayed run is
running the chart reloads at most once per ``throttle`` seconds, from a background thread — the training loop
never waits for it. x-axis (step, wall time, relative time), log scale and EMA smoothing are switched in the
browser without a round trip.

plotly.js is loaded from the Jupyter server (``mltrack/static/plotly.min.js``), never embedded in the widget
state, so a saved notebook stays small. The output also carries the figure as static plotly JSON and a small SVG
rendering for viewers without a kernel or without widgets.
"""

from __future__ import annotations

import html
import math
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping

import traitlets as t

from ..client.tracking import get_client
from ..core.errors import InvalidInput, MLTrackError
from .esm import esm
from .fallback import WithFallback
from .live import RevisionPoller

_STATIC = Path(__file__).parent / "static"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
def run_color(run_id: str) -> str:
    """A run's colour, the same in every chart and table that draws it (the notebook widgets and JupyterLab's
    explorer, ``labextension/src/explorer/chartData.ts: runColor``): a hue and a lightness from an FNV-1a hash of
    the id."""
    h = 2166136261
    for ch in run_id:
        h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return f"hsl({h % 360}, 70%, {32 + ((h >> 9) % 4) * 8}%)"


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def run_ids_of(runs: Any) -> list[str]:
    """Run ids from a Run, an id, a list of either, a search_runs DataFrame or a RunTable (its selection, else its
    page)."""
    from .run_table import RunTable

    if isinstance(runs, RunTable):
        return list(runs.selected) or [r["run_id"] for r in runs.rows]
    if isinstance(runs, str) or _is_run(runs):
        runs = [runs]
    if hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):
        return [str(x) for x in runs["run_id"]]
    out = [r.id if _is_run(r) else str(r) for r in runs]
    if not out:
        raise InvalidInput("no runs to chart")
    return out


def _is_run(x: Any) -> bool:
    """A ``client.run.Run``, known by its string ``id`` (a DataFrame's ``id`` column is no string): the client is not
    imported here, since ``Run.chart()`` imports this module."""
    return isinstance(getattr(x, "id", None), str)


def finite_or_none(values: Iterable[float]) -> list:
    """The values with NaN and ±inf as None (JSON has neither; plotly draws a gap)."""
    return [None if (v != v or v in (math.inf, -math.inf)) else v for v in values]


class MetricChart(WithFallback):
    _esm = esm("metric_chart.js", plotly=True)
    _css = _STATIC / "widgets.css"
    _poller: RevisionPoller | None = None  # the live refresh thread, while displayed

    traces = t.List(t.Dict()).tag(sync=True)
    metrics = t.List(t.Unicode()).tag(sync=True)
    x_axis = t.Enum(["step", "time", "relative"], "step").tag(sync=True)
    log_y = t.Bool(False).tag(sync=True)
    smoothing = t.Float(0.0, min=0.0, max=0.99).tag(sync=True)
    color_by = t.Unicode("").tag(sync=True)
    color_options = t.List(t.Unicode()).tag(sync=True)
    x_range = t.List(t.Float()).tag(sync=True)
    live = t.Bool(True).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(self, runs, metrics: str | list[str] | None = None, context: Mapping[str, Any] | None = None,
                 x: str = "step", log_y: bool = False, smoothing: float = 0.0, color_by: str | None = None,
                 live: bool = True, max_points: int = 1000, throttle: float = 1.0, title: str = "", **kwargs):
        client = get_client()
        client.writer.flush(raise_errors=False)
        self._backend = client.backend
        self._run_ids = run_ids_of(runs)
        self._wanted = [metrics] if isinstance(metrics, str) else (list(metrics) if metrics else None)
        self._context = None if context is None else dict(context)
        self.max_points = max_points
        self.throttle = throttle
        self._lock = threading.RLock()
        self._revision = None
        super().__init__(x_axis=x, log_y=log_y, smoothing=smoothing, color_by=color_by or "", live=live,
                         title=title, **kwargs)
        self.observe(lambda change: self.reload(), names=["x_range"])
        self.observe(lambda change: self._recolor(), names=["color_by"])
        self.reload()
        # while any charted run is running (or nothing is charted yet), reload at most once per ``throttle`` seconds
        self._poller = RevisionPoller(self, self._backend, name="mltrack-chart", interval=lambda w: w.throttle,
                                      loaded=lambda w: w._revision, reload=lambda w: w.reload(),
                                      wanted=_wants_reload) if live else None

    # -- data -------------------------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Fetch the series again (all of them, in the current zoom range)."""
        with self._lock:
            try:
                self._revision = self._backend.revision()
                self._runs = {rid: self._backend.get_run(rid) for rid in self._run_ids}
                traces = self._load()
            except MLTrackError as e:
                self.error = str(e)
                return
            options = sorted({k for r in self._runs.values() for k in r["params"]})
            with self.hold_sync():
                self.color_options = options
                self.traces = traces
                self.metrics = sorted({tr["metric"] for tr in traces})
                self.error = "" if traces else "no metric series to show for these runs"

    def _series_keys(self) -> list[tuple[str, dict, str]]:
        keys: dict[str, tuple[str, dict]] = {}
        for r in self._runs.values():
            for m in r["metrics"]:
                if self._wanted is not None and m["name"] not in self._wanted and m["key"] not in self._wanted:
                    continue
                if self._context is not None and m["context"] != {k: str(v) for k, v in self._context.items()}:
                    continue
                keys[m["key"]] = (m["name"], m["context"])
        return [(name, ctx, key) for key, (name, ctx) in sorted(keys.items())]

    def _load(self) -> list[dict]:
        step_range = tuple(int(x) for x in self.x_range) if len(self.x_range) == 2 else None
        contexts = sorted({str(sorted(ctx.items())) for _, ctx, _ in self._series_keys()}, key=lambda c: (len(c), c))
        traces = []
        for name, ctx, key in self._series_keys():
            many = getattr(self._backend, "get_series_many", None)
            if many is not None:
                series = many(self._run_ids, name, ctx, self.max_points, step_range)
            else:  # remote: one request per run
                series = []
                for rid in self._run_ids:
                    if any(m["key"] == key for m in self._runs[rid]["metrics"]):
                        series.append(self._backend.get_series(rid, name, ctx, self.max_points))
            for s in series:
                run = self._runs[s["run_id"]]
                p = s["points"]
                ctx_label = ",".join(f"{k}={v}" for k, v in sorted(ctx.items()))
                traces.append({
                    "run_id": run["id"], "run": run["name"] or run["id"], "status": run["status"],
                    "metric": name, "context": ctx_label, "key": key,
                    "dash": DASHES[contexts.index(str(sorted(ctx.items()))) % len(DASHES)],
                    "group": self._group(run), "start_time": run["start_time"],
                    "steps": p.steps.tolist(), "timestamps": p.timestamps.tolist(),
                    "values": finite_or_none(p.values.tolist()),
                    "total_count": s["total_count"], "downsampled": s["downsampled"],
                })
        self._color(traces)
        return traces

    def _group(self, run: dict) -> str:
        if self.color_by:
            return f"{self.color_by}={run['params'].get(self.color_by)}"
        return run["id"]

    def _recolor(self) -> None:
        if getattr(self, "_runs", None) is None:
            return
        traces = [dict(tr) for tr in self.traces]
        for tr in traces:
            tr["group"] = self._group(self._runs[tr["run_id"]])
        self._color(traces)
        self.traces = traces

    def _color(self, traces: list[dict]) -> None:
        """Each run in its own colour (:func:`run_color`), or each group of ``color_by`` in a palette colour."""
        groups = sorted({tr["group"] for tr in traces}, key=str)
        for tr in traces:
            tr["color"] = (PALETTE[groups.index(tr["group"]) % len(PALETTE)] if self.color_by
                           else run_color(tr["run_id"]))

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        super().close()

    # -- static fallback --------------------------------------------------------------------------------------------

    def figure(self) -> dict:
        """The chart as a plotly figure dict (static; what viewers without widgets show)."""
        metrics = sorted({tr["metric"] for tr in self.traces})
        data = []
        for tr in self.traces:
            i = metrics.index(tr["metric"]) + 1
            data.append({
                "type": "scatter", "mode": "lines", "x": tr["steps"], "y": tr["values"],
                "name": f"{tr['run']} · {tr['key']}", "line": {"color": tr["color"], "dash": tr["dash"]},
                "xaxis": f"x{i}" if i > 1 else "x", "yaxis": f"y{i}" if i > 1 else "y",
            })
        layout: dict[str, Any] = {"height": 260 * max(1, len(metrics)), "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
                                  "title": {"text": self.title} if self.title else None,
                                  "grid": {"rows": max(1, len(metrics)), "columns": 1, "pattern": "independent"}}
        for i, m in enumerate(metrics, 1):
            layout[f"yaxis{i if i > 1 else ''}"] = {"title": {"text": m}, "type": "log" if self.log_y else "linear"}
            layout[f"xaxis{i if i > 1 else ''}"] = {"title": {"text": "step"}}
        return {"data": data, "layout": {k: v for k, v in layout.items() if v is not None}}

    def to_svg(self, width: int = 640, height_per_metric: int = 180) -> str:
        """A small static rendering of the lines (for viewers that show neither widgets nor plotly)."""
        metrics = sorted({tr["metric"] for tr in self.traces})
        if not metrics:
            return "<p>no metric series</p>"
        pad_l, pad_r, pad_t, pad_b = 56, 12, 22, 18
        h = height_per_metric * len(metrics)
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
                 f'style="font:11px sans-serif;background:#fff">']
        for i, m in enumerate(metrics):
            top = i * height_per_metric
            trs = [tr for tr in self.traces if tr["metric"] == m]
            xs = [x for tr in trs for x in tr["steps"]]
            ys = [y for tr in trs for y in tr["values"] if y is not None and (not self.log_y or y > 0)]
            if not xs or not ys:
                continue
            tx = lambda v: math.log10(v) if self.log_y else v  # noqa: E731
            x0, x1 = min(xs), max(xs)
            y0, y1 = min(map(tx, ys)), max(map(tx, ys))
            x1 = x1 if x1 > x0 else x0 + 1
            y1 = y1 if y1 > y0 else y0 + 1
            pw, ph = width - pad_l - pad_r, height_per_metric - pad_t - pad_b
            parts.append(f'<text x="{pad_l}" y="{top + 14}" font-weight="bold">{html.escape(m)}</text>')
            parts.append(f'<rect x="{pad_l}" y="{top + pad_t}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>')
            parts.append(f'<text x="4" y="{top + pad_t + 10}">{html.escape(f"{(10 ** y1 if self.log_y else y1):.4g}")}</text>')
            parts.append(f'<text x="4" y="{top + pad_t + ph}">{html.escape(f"{(10 ** y0 if self.log_y else y0):.4g}")}</text>')
            for tr in trs:
                pts = [(pad_l + (x - x0) / (x1 - x0) * pw, top + pad_t + ph - (tx(y) - y0) / (y1 - y0) * ph)
                       for x, y in zip(tr["steps"], tr["values"]) if y is not None and (not self.log_y or y > 0)]
                if pts:
                    dash = {"solid": "", "dash": "6,3", "dot": "2,2"}.get(tr["dash"], "4,2,1,2")
                    parts.append(f'<polyline fill="none" stroke="{tr["color"]}" stroke-width="1.5" '
                                 f'stroke-dasharray="{dash}" points="'
                                 + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
        parts.append("</svg>")
        legend = "".join(f'<span style="color:{tr["color"]}">■</span> {html.escape(tr["run"])} · '
                         f'{html.escape(tr["key"])}&nbsp; ' for tr in self.traces[:20])
        return "<div>" + "".join(parts) + f"<div style='font:11px sans-serif'>{legend}</div></div>"

    def static_html(self) -> str:
        return self.to_svg()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["application/vnd.plotly.v1+json"] = self.figure()
        data["text/plain"] = f"MetricChart({len(self._run_ids)} runs, {', '.join(self.metrics)})"
        return bundle



def _wants_reload(chart: MetricChart) -> bool:
    return chart.live and (not chart.traces or any(tr["status"] == "running" for tr in chart.traces))
