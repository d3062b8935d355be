"""Benchmark rows of figures and images (issue #15), logged into a fresh SQLite store in a temporary folder: what a
call costs in the cell (the time until it returns) and what the writer thread then spends (encoding, uploading,
the batch) — measured as the time of the flush that follows.

F1  ``log_figure`` of a matplotlib figure (a 6.4 × 4.8 in line plot of 1,000 points, 100 dpi): rendered to PNG and
    SVG in the call (its snapshot).
F2  ``log_figure`` of a plotly figure (a scatter of 1,000 points): its JSON in the call.
F3  ``log_image`` of a 256 × 256 × 3 uint8 array and of a 28 × 28 float array (an image series step): checked and
    copied in the call, PNG-encoded on the writer thread.
F4  ``log_confusion_matrix`` of 10,000 samples over 10 classes (numpy counting; the PNG drawn on the writer thread).

    python bench/figures.py [--reps 20] [--out bench/results/figures.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from run import machine_info  # noqa: E402


def timed(call, flush, reps: int) -> dict:
    """Median and p95 of the call, and of the flush after it (the writer thread's share)."""
    calls, flushes = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        flush()
        calls.append(t1 - t0)
        flushes.append(time.perf_counter() - t1)
    q = lambda xs: sorted(xs)[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]  # noqa: E731
    return {"reps": reps, "call_ms": 1000 * statistics.median(calls), "call_p95_ms": 1000 * q(calls),
            "writer_ms": 1000 * statistics.median(flushes)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "figures.json"))
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

    import jupyter_mltrack as mlt
    from jupyter_mltrack.client.tracking import reset

    rng = np.random.default_rng(0)
    out: dict = {"machine": machine_info()}
    with tempfile.TemporaryDirectory() as d:
        mlt.set_tracking_uri(d)
        with mlt.start_run("bench-figures") as run:  # defaults on, as a user's run
            fig = Figure(figsize=(6.4, 4.8), dpi=100)
            ax = fig.add_subplot()
            ax.plot(np.cumsum(rng.normal(size=1000)))
            ax.set_title("loss")
            step = iter(range(10**9))
            out["F1_matplotlib"] = timed(lambda: run.log_figure(fig, "curve", step=next(step)), run.flush, args.reps)
            pfig = go.Figure(go.Scatter(x=np.arange(1000), y=rng.normal(size=1000), mode="markers"))
            out["F2_plotly"] = timed(lambda: run.log_figure(pfig, "scatter", step=next(step)), run.flush, args.reps)
            rgb = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
            out["F3_image_256x256x3"] = timed(lambda: run.log_image(rgb, "rgb", step=next(step)), run.flush,
                                              args.reps)
            digit = rng.random((28, 28))
            out["F3_image_28x28_float"] = timed(lambda: run.log_image(digit, "digit", step=next(step)), run.flush,
                                                args.reps)
            y_true, y_pred = rng.integers(0, 10, 10_000), rng.integers(0, 10, 10_000)
            out["F4_confusion_matrix"] = timed(
                lambda: run.log_confusion_matrix(y_true, y_pred, step=next(step)), run.flush, args.reps)
        reset()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    for k, v in out.items():
        if k != "machine":
            print(f"{k:24} call {v['call_ms']:8.2f} ms (p95 {v['call_p95_ms']:.2f})   writer {v['writer_ms']:8.2f} ms")


if __name__ == "__main__":
    main()
