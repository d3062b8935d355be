"""Figures and images (client/figures.py, core/figures.py): matplotlib, plotly, numpy and PIL images, confusion
matrices — logged through the writer into a real SQLite store, read back after reopening the file."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.store import Store


def figures_of(store_dir, run) -> dict[str, dict]:
    """The run's figures as a freshly opened store reads them from the SQLite file, by key."""
    run.flush()
    s = Store(store_dir)
    try:
        return {f["key"]: f for f in s.list_figures(run.id)}
    finally:
        s.close()


def file_bytes(store_dir, step: dict, path: str) -> bytes:
    s = Store(store_dir)
    try:
        return s.read_artifact_file(step["artifact_id"], path)
    finally:
        s.close()


def png_pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return np.asarray(Image.open(io.BytesIO(data)))


def test_a_matplotlib_figure_is_stored_as_png_and_svg(tracking, store_dir):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1, 4, 9])
    with tracking.start_run() as run:
        tracking.log_figure(fig, "curve")
        fig.clear()  # the figure as it was at the call is what is stored
    f = figures_of(store_dir, run)["curve"]
    assert (f["kind"], f["context"], [s["step"] for s in f["steps"]]) == ("matplotlib", {}, [None])
    files = {x["path"]: x for x in f["steps"][0]["files"]}
    assert set(files) == {"figure.png", "figure.svg"}
    assert files["figure.svg"]["media_type"] == "image/svg+xml"
    assert files["figure.png"]["url"] == f"artifacts/{f['steps'][0]['artifact_id']}/files/figure.png"
    svg = file_bytes(store_dir, f["steps"][0], "figure.svg")
    assert b"<svg" in svg and b"<path" in svg  # the line was drawn before clear()
    assert png_pixels(file_bytes(store_dir, f["steps"][0], "figure.png")).ndim == 3


def test_a_pyplot_figure_is_copied_without_a_second_pyplot_figure(tracking, store_dir):
    """The copy rendered on the writer thread is no pyplot figure (the inline backend would show it again)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    try:
        before = plt.get_fignums()
        with tracking.start_run() as run:
            tracking.log_figure(fig, "pyplot")
        run.flush()
        assert plt.get_fignums() == before
    finally:
        plt.close(fig)
    assert {x["path"] for x in figures_of(store_dir, run)["pyplot"]["steps"][0]["files"]} == {"figure.png",
                                                                                             "figure.svg"}


def test_a_figure_that_cannot_be_copied_is_rendered_in_the_call(tracking, store_dir):
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([1, 2, 3])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, pos: f"<{x:g}>"))  # a lambda: no pickle
    with tracking.start_run() as run:
        run.log_figure(fig, "lambda")
        fig.clear()
    svg = file_bytes(store_dir, figures_of(store_dir, run)["lambda"]["steps"][0], "figure.svg")
    assert b"&lt;1&gt;" in svg or b"<1>" in svg  # the formatter's labels: rendered before clear()


def test_a_matplotlib_axes_logs_its_figure(tracking, store_dir):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    with tracking.start_run() as run:
        run.log_figure(ax, "axes", step=2, context={"subset": "val"})
    f = figures_of(store_dir, run)["axes[subset=val]"]
    assert (f["name"], f["kind"], f["steps"][0]["step"]) == ("axes", "matplotlib", 2)


def test_a_plotly_figure_is_stored_as_its_json(tracking, store_dir):
    import plotly.graph_objects as go

    from jupyter_mltrack.client.figures import kaleido_available

    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="trace"))
    with tracking.start_run() as run:
        tracking.log_figure(fig, "scatter", step=1)
    f = figures_of(store_dir, run)["scatter"]
    paths = {x["path"] for x in f["steps"][0]["files"]}
    assert f["kind"] == "plotly"
    assert paths == ({"figure.json", "figure.png"} if kaleido_available() else {"figure.json"})
    stored = json.loads(file_bytes(store_dir, f["steps"][0], "figure.json"))
    assert stored["data"][0]["y"] == [3, 1, 2] and stored["data"][0]["name"] == "trace"


def test_an_image_series_over_steps_from_numpy(tracking, store_dir):
    with tracking.start_run() as run:
        for step in range(3):
            img = np.zeros((4, 5, 3), dtype=np.uint8)
            img[..., 0] = 80 * step
            tracking.log_image(img, "samples", step=step)
        tracking.log_image(np.full((2, 3), 0.5), "gray")  # float in [0, 1], HW
        tracking.log_image(np.ones((2, 2, 1), dtype=bool), "mask")
    figs = figures_of(store_dir, run)
    series = figs["samples"]
    assert series["kind"] == "image" and [s["step"] for s in series["steps"]] == [0, 1, 2]
    for s in series["steps"]:
        px = png_pixels(file_bytes(store_dir, s, "image.png"))
        assert px.shape == (4, 5, 3) and (px[..., 0] == 80 * s["step"]).all()
    assert (png_pixels(file_bytes(store_dir, figs["gray"]["steps"][0], "image.png")) == 128).all()
    assert (png_pixels(file_bytes(store_dir, figs["mask"]["steps"][0], "image.png")) == 255).all()


def test_a_pil_image_and_a_step_logged_again(tracking, store_dir):
    from PIL import Image

    with tracking.start_run() as run:
        run.log_image(Image.new("RGB", (3, 2), (255, 0, 0)), "pil", step=np.int64(7))
        run.log_image(Image.new("RGB", (3, 2), (0, 0, 255)), "pil", step=7)  # the newest wins
    f = figures_of(store_dir, run)["pil"]
    assert [s["step"] for s in f["steps"]] == [7]
    px = png_pixels(file_bytes(store_dir, f["steps"][0], "image.png"))
    assert px.shape == (2, 3, 3) and tuple(px[0, 0]) == (0, 0, 255)


@pytest.mark.parametrize("image, message", [
    (np.zeros((2, 2, 2)), r"log_image: image has shape \(2, 2, 2\)"),
    (np.zeros((2, 2, 2, 3)), r"log_image: image has shape"),
    (np.zeros((3, 28, 28)), r"image has shape \(3, 28, 28\).*channels first\? pass image.transpose\(1, 2, 0\)"),
    (np.zeros((0, 3)), r"log_image: image .*no pixels"),
    (np.array([[0.5, np.nan]]), r"log_image: image holds NaN"),
    (np.array([[0.5, 1.5]]), r"log_image: image holds floats in \[0.5, 1.5\]"),
    (np.array([[-1, 300]]), r"log_image: image is int64 with values in \[-1, 300\]"),
    (np.array([["a"]]), r"log_image: image must hold numbers"),
    ("not an image", r"log_image: image must hold numbers"),
])
def test_a_bad_image_is_refused_naming_the_argument(tracking, image, message):
    with tracking.start_run():
        with pytest.raises(InvalidInput, match=message):
            tracking.log_image(image, "x")


def test_bad_names_steps_contexts_and_figures_are_refused_by_argument(tracking):
    with tracking.start_run() as run:
        with pytest.raises(InvalidInput, match="log_image: name must be a string"):
            run.log_image(np.zeros((2, 2)), 3)
        with pytest.raises(InvalidInput, match="figure name must not be empty"):
            run.log_image(np.zeros((2, 2)), " ")
        with pytest.raises(InvalidInput, match="log_image: step must be an integer"):
            run.log_image(np.zeros((2, 2)), "x", step=1.5)
        with pytest.raises(InvalidInput, match="log_image: step must be an integer"):
            run.log_image(np.zeros((2, 2)), "x", step="3")
        with pytest.raises(InvalidInput, match="log_figure: context"):
            run.log_figure(object(), "x", context={"bad key!": 1})
        with pytest.raises(InvalidInput, match="log_figure: fig must be a matplotlib Figure .* not builtins.object"):
            run.log_figure(object(), "x")
        with pytest.raises(InvalidInput, match="log_confusion_matrix: normalize must be"):
            run.log_confusion_matrix([1], [1], normalize="rows")
    with pytest.raises(InvalidInput, match="no active run"):
        tracking.log_image(np.zeros((2, 2)), "x")
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_image(np.zeros((2, 2)), "x")


def test_confusion_matrix_counts(tracking, store_dir):
    y_true = ["cat", "dog", "dog", "bird", "cat", "dog"]
    y_pred = ["cat", "dog", "cat", "bird", "cat", "bird"]
    with tracking.start_run() as run:
        tracking.log_confusion_matrix(y_true, y_pred, context={"subset": "val"})
        tracking.log_confusion_matrix(y_true, y_pred, labels=["dog", "cat"], name="two", normalize="true", step=3)
    figs = figures_of(store_dir, run)
    f = figs["confusion_matrix[subset=val]"]
    assert f["kind"] == "confusion_matrix"
    step = f["steps"][0]
    assert {x["path"] for x in step["files"]} == {"matrix.json", "figure.png"}
    m = json.loads(file_bytes(store_dir, step, "matrix.json"))
    # rows: true bird, cat, dog; columns: predicted bird, cat, dog
    assert m == {"labels": ["bird", "cat", "dog"], "counts": [[1, 0, 0], [0, 2, 0], [1, 1, 1]], "normalize": None}
    png_pixels(file_bytes(store_dir, step, "figure.png"))
    two = json.loads(file_bytes(store_dir, figs["two"]["steps"][0], "matrix.json"))
    assert two == {"labels": ["dog", "cat"], "counts": [[1, 1], [0, 2]], "normalize": "true"}  # bird left out
    assert figs["two"]["steps"][0]["step"] == 3


def test_confusion_matrix_numpy_and_scikit_learn_agree(monkeypatch):
    import sys

    from sklearn.metrics import confusion_matrix as sk

    from jupyter_mltrack.client.figures import confusion_matrix

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    want = sk(y_true, y_pred).tolist()
    assert confusion_matrix(y_true, y_pred)["counts"] == want  # scikit-learn imported: its counts
    monkeypatch.delitem(sys.modules, "sklearn")
    got = confusion_matrix(y_true, y_pred)  # numpy's
    assert got["counts"] == want and got["labels"] == [0, 1, 2, 3, 4]
    assert confusion_matrix([], [], labels=[0, 1])["counts"] == [[0, 0], [0, 0]]


@pytest.mark.parametrize("args, message", [
    (([1, 2], [1]), "y_true has 2 labels but y_pred has 1"),
    (([], []), "y_true and y_pred are empty"),
    (([[1, 2], [3, 4]], [1, 2]), r"y_true must be one label per sample \(1-D\)"),
    (([1.0, float("nan")], [1.0, 1.0]), "y_true holds NaN"),
    (([1, 2], [1, 2], [1, 1]), "labels lists a label twice"),
    (([1, 2], [1, 2], []), "labels is empty"),
])
def test_a_bad_confusion_matrix_is_refused_naming_the_argument(tracking, args, message):
    with tracking.start_run():
        with pytest.raises(InvalidInput, match="log_confusion_matrix: " + message):
            tracking.log_confusion_matrix(*args)


def test_figures_stay_out_of_the_run_s_artifacts(tracking, store_dir):
    with tracking.start_run() as run:
        for step in range(5):
            run.log_image(np.zeros((2, 2), dtype=np.uint8), "series", step=step)
        run.log_text("notes", "notes")
    run.flush()
    s = Store(store_dir)
    try:
        names = [a["name"] for a in s.get_run(run.id)["artifacts"]]
        assert "series" not in names and "notes" in names
        assert len(s.list_figures(run.id)[0]["steps"]) == 5
    finally:
        s.close()


def test_figures_of_an_unknown_run_and_a_run_without_any(store):
    from jupyter_mltrack.core.errors import NotFound

    with pytest.raises(NotFound, match="no run 'nope'"):
        store.list_figures("nope")
    store.write_batch({"runs": [{"id": "r1"}]})
    assert store.list_figures("r1") == []


@pytest.mark.parametrize("item, message", [
    ({"kind": "video"}, "figure kind 'video' is not one of"),
    ({"step": "one"}, "figure 'f': step must be an integer"),
    ({"files": []}, "figure 'f' has 0 files"),
    ({"context": {"a": [1]}}, "context value"),
])
def test_the_batch_checks_figure_items_by_field(store, item, message):
    base = {"run_id": "r1", "name": "f", "kind": "image",
            "files": [{"path": "image.png", "sha256": "0" * 64, "size": 1}]}
    with pytest.raises(InvalidInput, match=message):
        store.write_batch({"runs": [{"id": "r1"}], "figures": [{**base, **item}]})
