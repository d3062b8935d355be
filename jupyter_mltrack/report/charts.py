"""How a report carries its charts (``export_report(..., plotly=...)``):

* ``"cdn"`` (the default): interactive plotly charts, plotly.js loaded from cdn.plot.ly by the browser (cached
  across reports); the file holds only the charts' data — tens of kB instead of 5 MB. Opened without network, each
  chart says how to get an offline report.
* ``"inline"``: plotly.js (about 4.8 MB) embedded once in the file: interactive, offline, heavy.
* ``"static"``: each metric chart drawn as an SVG image by matplotlib (``pip install matplotlib``): no script at
  all, offline and light, not interactive. A plotly figure logged without a PNG still needs plotly.js: from the CDN.
"""

from __future__ import annotations

import io
import json

from ..core.errors import InvalidInput

PLOTLY_MODES = ("cdn", "inline", "static")
DEFAULT_PLOTLY = "cdn"

#: What a chart shows when plotly.js did not load (a "cdn" report opened offline).
_OFFLINE_NOTE = ("This chart needs plotly.js from cdn.plot.ly, which did not load (offline?). Export the report "
                 "with plotly='inline' (5 MB, works offline) or plotly='static' (images).")


def check_plotly_mode(mode: str) -> str:
    if mode not in PLOTLY_MODES:
        raise InvalidInput(f"plotly must be one of {', '.join(PLOTLY_MODES)}, not {mode!r:.40}")
    if mode == "static":
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InvalidInput("plotly='static' draws the charts with matplotlib: pip install matplotlib") from None
    return mode


def cdn_url() -> str:
    import plotly.offline

    return f"https://cdn.plot.ly/plotly-{plotly.offline.get_plotlyjs_version()}.min.js"


def plotly_head(mode: str, needed: bool) -> str:
    """The ``<head>`` scripts a report of this mode needs; ``needed``: the body holds plotly charts."""
    if not needed:
        return ""
    if mode == "inline":
        import plotly.offline

        return f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>'
    note = json.dumps(_OFFLINE_NOTE)
    return (f'<script type="text/javascript" src="{cdn_url()}" charset="utf-8"></script>'
            "<script>window.addEventListener('DOMContentLoaded', function () { if (window.Plotly) return;"
            " document.querySelectorAll('.plotly-graph-div').forEach(function (d) {"
            f" d.style.minHeight = '0'; d.textContent = {note}; }}); }});</script>")


def static_chart(title: str, y_title: str, lines: list[tuple[str, list, list]]) -> str:
    """A metric chart as inline SVG (matplotlib, Agg-free SVG backend): one line per (label, steps, values)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.6), dpi=96, layout="constrained")
    ax = fig.add_subplot()
    for label, xs, ys in lines:
        ax.plot(xs, [float("nan") if v is None else v for v in ys], marker="o" if len(xs) < 50 else None,
                markersize=3, linewidth=1.4, label=label)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(y_title)
    ax.grid(True, alpha=0.3)
    if 1 < len(lines) <= 20:
        ax.legend(fontsize=8)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # inline: without the XML declaration and doctype
