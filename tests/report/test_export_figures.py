"""Reports embed a run's figures and images as static images (report/figures.py)."""

from __future__ import annotations

import base64
import io
import re

import numpy as np


def _figures_run(R):
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([3, 1, 2])
    with R.start_run("figs", project="Report figures") as run:
        R.log_confusion_matrix(["a", "b", "b", "a", "b"], ["a", "b", "a", "a", "b"])
        for step in range(3):
            R.log_image(np.full((4, 4), 60 * step, dtype=np.uint8), "samples", step=step)
        R.log_figure(fig, "curve")
        R.log_figure(go.Figure(go.Bar(y=[4, 5])), "bars")
    return run


def _figure_block(text: str, key: str) -> str:
    m = re.search(r'<figure class="mltrack-figure" data-figure="%s".*?</figure>' % re.escape(key), text, re.S)
    assert m, f"no figure {key!r} in the report"
    return m.group(0)


def _png(block: str) -> bytes:
    from PIL import Image

    data = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', block).group(1))
    Image.open(io.BytesIO(data)).verify()  # a whole, valid PNG
    return data


def test_the_report_embeds_figures_as_static_images(tracking, tmp_path):
    from jupyter_mltrack.client.figures import kaleido_available

    run = _figures_run(tracking)
    text = tracking.export_report([run.id], tmp_path / "report.html").read_text()
    assert "<h3>Figures</h3>" in text
    cm = _figure_block(text, "confusion_matrix")
    _png(cm)
    # the counts as a table: rows true a, b; columns predicted a, b
    assert "<tr><th>a</th><td>2</td><td>0</td></tr><tr><th>b</th><td>1</td><td>2</td></tr>" in cm
    samples = _figure_block(text, "samples")
    assert "step 2 (the last of 3 steps: 0…2)" in samples
    _png(samples)
    _png(_figure_block(text, "curve"))
    bars = _figure_block(text, "bars")
    assert ("data:image/png" in bars) if kaleido_available() else ('class="plotly-graph-div"' in bars)
