"""Figures and images from the kernel: what ``Run.log_figure`` (matplotlib, plotly), ``Run.log_image`` (numpy
arrays, PIL images; a series per name over steps) and ``Run.log_confusion_matrix`` make of their arguments (the
module-level ``mlt.log_figure``… are in ``client/fluent.py``).

A call checks its arguments and takes a snapshot of what it was given, then hands the rest to the writer thread
(``Writer.defer``): encoding, uploading the files (content-addressed: the same bytes are stored once) and the
batch's ``figures`` item (``core/figures.py`` says which files each kind has). What the call itself costs:

- a matplotlib figure is copied in the call (pickled, ~10 ms: the figure is a live object the cell may change or
  close right after) and the copy rendered to PNG and SVG on the writer thread; a figure that cannot be pickled is
  rendered in the call (a few hundred ms; docs/benchmarks.md has the measured costs);
- a plotly figure is turned into its JSON in the call; its PNG, when kaleido is installed, is rendered from that
  JSON on the writer thread;
- an image is checked and copied in the call, encoded to PNG on the writer thread;
- a confusion matrix is counted in the call, its PNG drawn on the writer thread (matplotlib's object API, no
  pyplot state).

matplotlib, plotly, Pillow and scikit-learn are imported only when a call needs them.
"""

from __future__ import annotations

import io
import json
import operator
import pickle
import sys
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..core.errors import InvalidInput
from ..core.validation import check_key, context_json, figure_step

if TYPE_CHECKING:
    import numpy as np

    from ..core.figures import ConfusionMatrix

#: Files of a figure: (path inside its artifact, bytes), made on the writer thread.
Files = list[tuple[str, bytes]]
NORMALIZE = (None, "true", "pred", "all")
MAX_PIXELS = 100_000_000  # an image's height × width
MAX_LABELS = 1000  # classes of a confusion matrix
_MEDIA = {".png": "image/png", ".svg": "image/svg+xml", ".json": "application/json"}


# -- checking the call -------------------------------------------------------------------------------------------

def figure_target(call: str, name: Any, step: Any, context: Any) -> tuple[str, int | None, str]:
    """The checked name, step and canonical context of a figure; InvalidInput naming the argument."""
    if not isinstance(name, str):
        raise InvalidInput(f"{call}: name must be a string, not {type(name).__name__}")
    check_key("figure", name)
    if step is not None and not isinstance(step, bool):
        try:
            step = operator.index(step)  # numpy integers too
        except TypeError:
            raise InvalidInput(f"{call}: step must be an integer, not {step!r:.60}") from None
    try:
        return name, figure_step(name, step), context_json(context)
    except InvalidInput as e:
        raise InvalidInput(f"{call}: {'context' if 'context' in str(e) else 'step'}: {e}") from None


def store_figure(run_id: str, name: str, kind: str, step: int | None, context: str, make_files: Callable[[], Files],
                 backend) -> Callable[[], dict]:
    """A writer job: make the files, upload them, answer the batch's ``figures`` item."""
    from .backend import put_bytes_once

    def figure() -> dict:
        files = []
        for path, data in make_files():
            sha, size = put_bytes_once(backend, data)
            files.append({"path": path, "sha256": sha, "size": size,
                          "media_type": _MEDIA.get(path[path.rfind("."):], "application/octet-stream")})
        return {"figures": [{"run_id": run_id, "name": name, "kind": kind, "step": step,
                             "context": context, "files": files}]}

    figure.__name__ = f"figure {name!r}"
    return figure


# -- figures -------------------------------------------------------------------------------------------------------

def figure_renderings(fig: Any) -> tuple[str, Callable[[], Files]]:
    """The kind of ``fig`` and a function making its files; a matplotlib figure is rendered now (its snapshot)."""
    mod = type(fig).__module__ or ""
    if mod.startswith("matplotlib"):
        fig = getattr(fig, "figure", fig)  # an Axes: its figure
        if not hasattr(fig, "savefig"):
            raise InvalidInput(f"log_figure: fig is a {type(fig).__name__}; pass a matplotlib Figure or Axes")
        copy = _figure_copy(fig)
        if copy is None:  # a figure that cannot be copied is rendered now: that is its snapshot
            files = _matplotlib_files(fig)
            return "matplotlib", lambda: files
        return "matplotlib", lambda: _matplotlib_files(pickle.loads(copy))
    if mod.startswith("plotly") and hasattr(fig, "to_plotly_json"):
        import plotly.io as pio

        text = pio.to_json(fig, validate=False)
        return "plotly", lambda: [("figure.json", text.encode("utf-8")), *_plotly_png(text)]
    raise InvalidInput(f"log_figure: fig must be a matplotlib Figure (or Axes) or a plotly Figure, not "
                       f"{mod + '.' if mod else ''}{type(fig).__name__}")


def _matplotlib_files(fig) -> Files:
    return [("figure.png", _savefig(fig, "png")), ("figure.svg", _savefig(fig, "svg"))]


class _DetachedPickler(pickle.Pickler):
    """Pickles a figure as a figure of no pyplot state: unpickled on the writer thread, the copy must not become a
    new pyplot figure (the inline backend would show it under the cell)."""

    def __init__(self, file, fig):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.fig = fig

    def reducer_override(self, obj):
        if obj is self.fig:
            state = obj.__getstate__()
            state.pop("_restore_to_pylab", None)
            return (type(obj).__new__, (type(obj),), state)
        return NotImplemented


def _figure_copy(fig) -> bytes | None:
    """A snapshot of a matplotlib figure as pickled bytes (about 10 ms, against a few hundred for rendering it to
    PNG and SVG in the call), or None when it cannot be pickled (an artist holding a lambda, say)."""
    buf = io.BytesIO()
    try:
        _DetachedPickler(buf, fig).dump(fig)
    except Exception:
        return None
    return buf.getvalue()


def _savefig(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    # no creation date or software in the file: the same figure is the same bytes, stored once
    meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    fig.savefig(buf, format=fmt, metadata=meta, bbox_inches="tight")
    return buf.getvalue()


def kaleido_available() -> bool:
    """Whether plotly can render static images here (the kaleido package)."""
    import importlib.util

    return importlib.util.find_spec("kaleido") is not None


def _plotly_png(text: str) -> Files:
    """The PNG of a plotly figure's JSON when kaleido is installed (on the writer thread); else nothing."""
    if not kaleido_available():
        return []
    import plotly.io as pio

    try:
        return [("figure.png", pio.to_image(pio.from_json(text, skip_invalid=True), format="png"))]
    except Exception:  # kaleido without a browser it can drive: the JSON alone is the figure
        return []


# -- images --------------------------------------------------------------------------------------------------------

def image_renderings(image: Any) -> Callable[[], Files]:
    """Check an image and copy it now; its PNG is encoded later (on the writer thread)."""
    if (type(image).__module__ or "").startswith("PIL.") and hasattr(image, "save"):
        snap = image.copy()
        return lambda: [("image.png", _pil_png(snap))]
    arr = image_array(image)
    return lambda: [("image.png", _array_png(arr))]


def image_array(image: Any) -> np.ndarray:
    """A copy of ``image`` as uint8, HW or HWC (C 1, 3 or 4); InvalidInput naming ``image`` otherwise."""
    import numpy as np

    try:
        arr = np.array(image, copy=True)
    except Exception as e:
        raise InvalidInput(f"log_image: image must be a numpy array or a PIL image, not {type(image).__name__} "
                           f"({e})") from None
    if arr.dtype == object or arr.dtype.kind not in "buif":
        raise InvalidInput(f"log_image: image must hold numbers (uint8, or floats in [0, 1]), not {arr.dtype}")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        hint = (" (channels first? pass image.transpose(1, 2, 0))"
                if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) else "")
        raise InvalidInput(f"log_image: image has shape {arr.shape}; expected (height, width) or (height, width, "
                           f"channels) with 1, 3 or 4 channels{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInput(f"log_image: image has shape {arr.shape}; it has no pixels")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise InvalidInput(f"log_image: image has {arr.shape[0] * arr.shape[1]} pixels; the limit is {MAX_PIXELS}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidInput("log_image: image holds NaN or infinite values; floats must be finite, in [0, 1]")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 1:
            raise InvalidInput(f"log_image: image holds floats in [{lo:g}, {hi:g}]; floats must be in [0, 1] "
                               "(or pass uint8 values 0-255)")
        arr = np.rint(arr * 255).astype(np.uint8)
    elif arr.dtype.kind == "b":
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise InvalidInput(f"log_image: image is {arr.dtype} with values in [{lo}, {hi}]; integers must be "
                               "uint8 values 0-255 (or pass floats in [0, 1])")
        arr = arr.astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return np.ascontiguousarray(arr)


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise InvalidInput("log_image needs Pillow to write PNG files: pip install pillow") from None
    return Image


def _array_png(arr) -> bytes:
    return _pil_png(_pil().fromarray(arr))


def _pil_png(img) -> bytes:
    if img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        img = img.convert("RGBA" if "A" in img.mode else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# -- confusion matrices --------------------------------------------------------------------------------------------

def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence | None = None,
                     normalize: str | None = None) -> ConfusionMatrix:
    """The counts: ``counts[i][j]`` samples of true label ``labels[i]`` predicted ``labels[j]`` (samples whose
    labels are not in ``labels`` are left out); scikit-learn's when the kernel has imported it, else the same
    counts by numpy."""
    import numpy as np

    if normalize not in NORMALIZE:
        raise InvalidInput(f"log_confusion_matrix: normalize must be None, 'true', 'pred' or 'all', not {normalize!r}")
    yt, yp = (_labels_array(v, arg) for v, arg in ((y_true, "y_true"), (y_pred, "y_pred")))
    if len(yt) != len(yp):
        raise InvalidInput(f"log_confusion_matrix: y_true has {len(yt)} labels but y_pred has {len(yp)}")
    if labels is None:
        if not len(yt):
            raise InvalidInput("log_confusion_matrix: y_true and y_pred are empty; pass labels= to log an empty "
                               "matrix")
        try:
            labs = np.unique(np.concatenate([yt, yp]))
        except TypeError:
            raise InvalidInput("log_confusion_matrix: y_true and y_pred mix label types that cannot be sorted; "
                               "pass labels=") from None
    else:
        labs = _labels_array(labels, "labels")
        if not len(labs):
            raise InvalidInput("log_confusion_matrix: labels is empty")
        if len(set(labs.tolist())) != len(labs):
            raise InvalidInput("log_confusion_matrix: labels lists a label twice")
    if len(labs) > MAX_LABELS:
        raise InvalidInput(f"log_confusion_matrix: {len(labs)} labels; the limit is {MAX_LABELS}")
    counts = _counts(yt, yp, labs)
    return {"labels": [_json_label(x) for x in labs.tolist()], "counts": counts.tolist(), "normalize": normalize}


def _labels_array(v: Any, arg: str):
    import numpy as np

    try:
        a = np.asarray(v)
    except Exception:
        raise InvalidInput(f"log_confusion_matrix: {arg} must be a sequence of labels") from None
    if a.ndim != 1:
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        else:
            raise InvalidInput(f"log_confusion_matrix: {arg} must be one label per sample (1-D), not shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InvalidInput(f"log_confusion_matrix: {arg} holds NaN or infinite labels")
    return a


def _counts(yt, yp, labs):
    import numpy as np

    sk_confusion = None
    if "sklearn" in sys.modules:  # the user's own scikit-learn; importing it here would cost seconds
        from sklearn.metrics import confusion_matrix as sk_confusion
    if sk_confusion is not None and len(yt):
        try:
            return sk_confusion(yt, yp, labels=labs).astype(np.int64)
        except ValueError as e:
            raise InvalidInput(f"log_confusion_matrix: {e}") from None
    index = {x: i for i, x in enumerate(labs.tolist())}
    out = np.zeros((len(labs), len(labs)), dtype=np.int64)
    for t, p in zip(yt.tolist(), yp.tolist()):
        i, j = index.get(t), index.get(p)
        if i is not None and j is not None:
            out[i, j] += 1
    return out


def _json_label(x: Any) -> Any:
    return x if isinstance(x, (str, int, float, bool)) or x is None else str(x)


def normalized(m: ConfusionMatrix, how: str | None):
    """The matrix as fractions: of each true label's row (``true``), each predicted column (``pred``), all."""
    import numpy as np

    c = np.asarray(m["counts"], dtype=float)
    if how is None:
        return c
    with np.errstate(invalid="ignore", divide="ignore"):
        d = c.sum(axis=1, keepdims=True) if how == "true" else c.sum(axis=0, keepdims=True) if how == "pred" \
            else c.sum()
        return np.nan_to_num(c / d)


def confusion_renderings(m: ConfusionMatrix) -> Callable[[], Files]:
    text = json.dumps(m).encode("utf-8")
    return lambda: [("matrix.json", text), *_confusion_png(m)]


def _confusion_png(m: ConfusionMatrix) -> Files:
    """A heatmap with the counts (or fractions) written in the cells; nothing when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return []
    values = normalized(m, m["normalize"])
    n = len(m["labels"])
    size = min(2 + 0.5 * n, 20)
    fig = Figure(figsize=(size, size * 0.9))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(values, cmap="Blues")
    fig.colorbar(im, ax=ax)
    names = [str(x) for x in m["labels"]]
    ax.set_xticks(range(n), names, rotation=45 if n > 6 else 0, ha="right" if n > 6 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        top = values.max() if values.size else 0
        for i in range(n):
            for j in range(n):
                v = values[i, j]
                ax.text(j, i, f"{v:.2f}" if m["normalize"] else str(int(v)), ha="center", va="center",
                        color="white" if top and v > top / 2 else "black", fontsize=9)
    return [("figure.png", _savefig(fig, "png"))]
