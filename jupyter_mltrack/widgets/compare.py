"""``Compare`` — 2 to 1,000 runs side by side: params (differences only), the chosen metric overlaid, parallel
coordinates of params against it, a param-vs-metric scatter, and the best run highlighted.

``mlt.compare(runs)`` accepts Run objects, ids, a search_runs DataFrame or a RunTable (its selection — ticking
rows in a displayed RunTable updates a Compare built from it). The comparison's numbers come from the run
summaries; the overlay reads one downsampled series per run in a couple of queries.
"""

from __future__ import annotations

import html
import json
import math
import threading
from pathlib import Path

import traitlets as t

from ..client.tracking import get_client
from ..core.errors import InvalidInput, MLTrackError
from ..core.wire import cell_value
from .esm import esm
from .fallback import WithFallback
from .metric_chart import finite_or_none, run_color, run_ids_of

_STATIC = Path(__file__).parent / "static"
MAX_RUNS = 1000


def _num(v) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and not (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return float(v)
    return None


class Compare(WithFallback):
    _esm = esm("compare.js", plotly=True)
    _css = _STATIC / "widgets.css"

    runs = t.List(t.Dict()).tag(sync=True)
    params = t.List(t.Unicode()).tag(sync=True)
    differing = t.List(t.Unicode()).tag(sync=True)
    metrics = t.List(t.Unicode()).tag(sync=True)
    metric = t.Unicode("").tag(sync=True)
    goal = t.Enum(["min", "max"], "max").tag(sync=True)
    differences_only = t.Bool(True).tag(sync=True)
    param_x = t.Unicode("").tag(sync=True)
    best_run = t.Unicode("").tag(sync=True)
    overlay = t.List(t.Dict()).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(self, runs, metric: str | None = None, goal: str | None = None, max_points: int = 300, **kwargs):
        from .run_table import RunTable

        client = get_client()
        client.writer.flush(raise_errors=False)
        self._backend = client.backend
        self._source = runs if isinstance(runs, RunTable) else None
        self.max_points = max_points
        self._lock = threading.RLock()
        super().__init__(**kwargs)
        self._goal_explicit = goal is not None
        self._internal = False
        self._load(run_ids_of(runs), metric, goal)
        self.observe(self._on_metric, names=["metric"])
        self.observe(self._on_goal, names=["goal"])
        if self._source is not None:
            self._source.observe(self._on_selection, names=["selected"])

    def _on_metric(self, change) -> None:
        if self._internal:
            return
        if not self._goal_explicit:
            self._internal = True
            try:
                self.goal = _default_goal(change["new"])
            finally:
                self._internal = False
        self._relabel()

    def _on_goal(self, change) -> None:
        if self._internal:
            return
        self._goal_explicit = True
        self._relabel()

    def _on_selection(self, change) -> None:
        if change["new"]:
            self._load(list(change["new"]), self.metric or None, self.goal)

    def _load(self, ids: list[str], metric: str | None, goal: str | None) -> None:
        with self._lock:
            if len(ids) > MAX_RUNS:
                raise InvalidInput(f"compare takes at most {MAX_RUNS} runs, not {len(ids)}")
            quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
            try:
                table = self._backend.run_table(filter=f"id in ({quoted})")
            except MLTrackError as e:
                self.error = str(e)
                return
            order = {rid: i for i, rid in enumerate(ids)}
            runs = []
            for i, base in enumerate(table["base"]):
                row = dict(zip(table["columns"], base))
                runs.append({"run_id": row["run_id"], "name": row["name"] or row["run_id"], "status": row["status"],
                             "params": {k: cell_value(v) for k, v in table["params"][i].items()},
                             "metrics": {k: (None if v is None else v if not isinstance(v, str) else v)
                                         for k, v in table["metrics"][i].items()}})
            runs.sort(key=lambda r: order.get(r["run_id"], 0))
            missing = set(ids) - {r["run_id"] for r in runs}
            params = sorted({k for r in runs for k in r["params"]})
            differing = [k for k in params if len({json.dumps(r["params"].get(k), sort_keys=True) for r in runs}) > 1]
            metrics = sorted({k for r in runs for k in r["metrics"]})
            if metric is None or metric not in metrics:
                metric = _default_metric(metrics, metric)
            goal = goal or (self.goal if self._goal_explicit else _default_goal(metric))
            for r in runs:
                r["color"] = run_color(r["run_id"])
            numeric = [k for k in differing if any(_num(r["params"].get(k)) is not None for r in runs)]
            self._internal = True  # these assignments are not user choices
            try:
                with self.hold_sync():
                    self.runs = runs
                    self.params = params
                    self.differing = differing
                    self.metrics = metrics
                    self.goal = goal
                    self.metric = metric or ""
                    if self.param_x not in params:
                        self.param_x = (numeric or differing or params or [""])[0]
                    self.error = f"not found: {', '.join(sorted(missing))}" if missing else ""
            finally:
                self._internal = False
            self._relabel()

    def _relabel(self) -> None:
        """Best run and the overlay for the chosen metric."""
        key = self.metric
        vals = [(r["metrics"].get(key), r["run_id"]) for r in self.runs]
        vals = [(v, rid) for v, rid in vals if _num(v) is not None]
        best = ""
        if vals:
            best = (min if self.goal == "min" else max)(vals)[1]
        self.best_run = best
        self.overlay = self._overlay(key) if key else []

    def _overlay(self, key: str) -> list[dict]:
        if "[" in key and key.endswith("]"):
            name, ctx_text = key[:-1].split("[", 1)
            ctx = dict(part.split("=", 1) for part in ctx_text.split(",") if "=" in part)
        else:
            name, ctx = key, {}
        ids = [r["run_id"] for r in self.runs]
        try:
            many = getattr(self._backend, "get_series_many", None)
            series = many(ids, name, ctx, self.max_points) if many else [
                self._backend.get_series(i, name, ctx, self.max_points) for i in ids]
        except MLTrackError:
            return []
        colors = {r["run_id"]: r["color"] for r in self.runs}
        names = {r["run_id"]: r["name"] for r in self.runs}
        return [{"run_id": s["run_id"], "name": names[s["run_id"]], "color": colors[s["run_id"]],
                 "steps": s["points"].steps.tolist(), "values": finite_or_none(s["points"].values.tolist())}
                for s in series]

    def close(self) -> None:
        if self._source is not None:
            try:
                self._source.unobserve(self._on_selection, names=["selected"])
            except ValueError:
                pass
        super().close()

    # -- static fallback --------------------------------------------------------------------------------------------

    def to_html(self) -> str:
        keys = self.differing if self.differences_only and self.differing else self.params
        head = "<th>run</th>" + "".join(f"<th>params.{html.escape(k)}</th>" for k in keys)
        head += f"<th>metrics.{html.escape(self.metric)}</th>" if self.metric else ""
        rows = []
        for r in self.runs:
            style = ' style="font-weight:bold;background:#e8f5e9"' if r["run_id"] == self.best_run else ""
            cells = "".join(f"<td>{html.escape(str(r['params'].get(k, '')))}</td>" for k in keys)
            if self.metric:
                v = r["metrics"].get(self.metric)
                cells += f"<td>{'' if v is None else html.escape(f'{v:.4g}' if isinstance(v, float) else str(v))}</td>"
            rows.append(f"<tr{style}><td>{html.escape(r['name'])}</td>{cells}</tr>")
        best = next((r["name"] for r in self.runs if r["run_id"] == self.best_run), "")
        cap = (f"{len(self.runs)} runs" + (f"; best by {self.goal} {self.metric}: {best}" if best else "")
               + ("; params that differ" if self.differences_only and self.differing else ""))
        return (f'<table class="mltrack-static-table"><caption>{html.escape(cap)}</caption><thead><tr>{head}</tr>'
                f"</thead><tbody>{''.join(rows)}</tbody></table>")

    def static_html(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = f"Compare({len(self.runs)} runs, metric={self.metric!r}, best={self.best_run!r})"
        return bundle


_LOWER_IS_BETTER = ("loss", "error", "err", "rmse", "mse", "mae", "perplexity", "wer", "cer")


def _default_goal(metric: str | None) -> str:
    m = (metric or "").lower()
    return "min" if any(w in m for w in _LOWER_IS_BETTER) else "max"


def _default_metric(metrics: list[str], wanted: str | None) -> str | None:
    if not metrics:
        return None
    if wanted:
        for m in metrics:  # "acc" matches "acc[subset=val]"
            if m.split("[", 1)[0] == wanted:
                return m
    for pref in ("val", "valid", "test"):
        for m in metrics:
            if f"={pref}" in m:
                return m
    return metrics[0]


def compare(runs, metric: str | None = None, goal: str | None = None) -> Compare:
    """Compare runs (2–1,000): Run objects, ids, a search_runs DataFrame or a RunTable (follows its selection)."""
    return Compare(runs, metric=metric, goal=goal)
