"""A run's figures and images in a report, as static images: each figure's PNG inline as a data URI (a plotly
figure stored without one is drawn from its JSON by the plotly.js the report embeds once), a confusion matrix's
PNG with its counts as a table, an image series at its last step (the steps it has are named)."""

from __future__ import annotations

import base64
import html
import json
from typing import Callable

#: Figures drawn per run at most (the rest are named): a report stays a readable, bounded file.
MAX_REPORT_FIGURES = 50


def _file(step: dict, *paths: str) -> str | None:
    have = {f["path"] for f in step["files"]}
    return next((p for p in paths if p in have), None)


def _img(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<img class="mltrack-figure-img" alt="{html.escape(alt)}" src="data:image/png;base64,{b64}" '
            'style="max-width: 100%">')


def _matrix_table(m: dict) -> str:
    labels = [html.escape(str(x)) for x in m["labels"]]
    head = "<th>true \\ predicted</th>" + "".join(f"<th>{x}</th>" for x in labels)
    rows = "".join(f"<tr><th>{labels[i]}</th>" + "".join(f"<td>{int(v)}</td>" for v in row) + "</tr>"
                   for i, row in enumerate(m["counts"]))
    return (f'<table class="mltrack-table mltrack-confusion"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _plotly(data: bytes) -> str:
    import plotly.io as pio

    fig = pio.from_json(data.decode("utf-8"), skip_invalid=True)
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config={"displaylogo": False, "responsive": True})


def figure_html(fig: dict, read_file: Callable[[int, str], bytes]) -> str:
    """One figure: its last step's rendering."""
    step = fig["steps"][-1]
    aid, name = step["artifact_id"], fig["key"]
    steps = [s["step"] for s in fig["steps"] if s["step"] is not None]
    caption = f"<b>{html.escape(name)}</b> <small>{html.escape(fig['kind'].replace('_', ' '))}"
    if steps:
        caption += f" · step {steps[-1]}" + (f" (the last of {len(steps)} steps: {steps[0]}…{steps[-1]})"
                                              if len(steps) > 1 else "")
    body = ""
    if fig["kind"] == "confusion_matrix" and _file(step, "matrix.json"):
        m = json.loads(read_file(aid, "matrix.json"))
        png = _file(step, "figure.png")
        body = (_img(read_file(aid, png), name) if png else "") + _matrix_table(m)
    elif fig["kind"] == "plotly" and not _file(step, "figure.png") and _file(step, "figure.json"):
        body = _plotly(read_file(aid, "figure.json"))
    else:
        png = _file(step, "figure.png", "image.png")
        body = _img(read_file(aid, png), name) if png else "<p>(no static image)</p>"
    return (f'<figure class="mltrack-figure" data-figure="{html.escape(name)}" data-kind="{fig["kind"]}">'
            f"<figcaption>{caption}</small></figcaption>{body}</figure>")


def figures_html(figures: list[dict], read_file: Callable[[int, str], bytes]) -> str:
    """A run's figures (as ``GET runs/{id}/figures`` lists them); empty when it has none."""
    if not figures:
        return ""
    parts = [figure_html(f, read_file) for f in figures[:MAX_REPORT_FIGURES]]
    if len(figures) > MAX_REPORT_FIGURES:
        rest = ", ".join(html.escape(f["key"]) for f in figures[MAX_REPORT_FIGURES:])
        parts.append(f"<p>Not drawn here ({len(figures) - MAX_REPORT_FIGURES} more): {rest}</p>")
    return "<h3>Figures</h3>" + "".join(parts)
