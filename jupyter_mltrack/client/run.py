"""The public tracking API: Run, start_run, the active-run stack, the fluent functions and the read API.

Logging methods validate at call time (so a mistake raises in the cell that made it, naming the key) and then
only append to the process's :class:`~jupyter_mltrack.client.writer.Writer`; they never wait for the store.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..core.errors import Conflict, InvalidInput, NotFound
from ..core.validation import (
    check_key,
    check_metadata,
    check_relative_path,
    context_json,
    metric_step,
    metric_value,
    param_json,
    steps_array,
    tag_value,
    times_array,
)
from .tracking import TrackingClient, get_client
from .series_buffer import step_overflow
from .writer import Writer

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_time = time.time
_get_ident = threading.get_ident


def new_run_id() -> str:
    """12 characters of base 36 (62 bits): short enough to read, unique enough for millions of runs."""
    n = secrets.randbits(62)
    out = []
    for _ in range(12):
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
    return "".join(out)


class ActiveRuns:
    """The runs open in this process, a stack: the top is the active run (``mlt.active_run()``), which a new run
    becomes the child of. ``lock`` guards look-ups that must stay true while a run is pushed."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._runs: list[Run] = []

    def top(self) -> "Run | None":
        with self.lock:
            return self._runs[-1] if self._runs else None

    def all(self) -> "list[Run]":
        with self.lock:
            return list(self._runs)

    def push(self, run: "Run") -> None:
        with self.lock:
            self._runs.append(run)

    def remove(self, run: "Run") -> None:
        with self.lock:
            if run in self._runs:
                self._runs.remove(run)


ACTIVE = ActiveRuns()


# ----------------------------------------------------------------------------------------------------------------
# Run


class Run:
    """A run: created by :func:`start_run` (active, loggable) or returned by :func:`get_run` (read view).

    Use it as a context manager so it always ends: ``finished`` normally, ``failed`` with the error when the block
    raises, ``killed`` on KeyboardInterrupt."""

    def __init__(self, run_id: str, *, name: str = "", project: str = "", experiments: Sequence[str] = (),
                 parent_id: str | None = None, client: TrackingClient | None = None, active: bool = False,
                 param_texts: Mapping[str, str] | None = None):
        self.id = run_id
        self.name = name
        self.project = project
        self.experiments = list(experiments)
        self.parent_id = parent_id
        self._client = client
        self._writer: Writer | None = client.writer if client is not None else None
        self._live = active
        self._hold = not active  # log_metric's one check: not live, or the writer has something to warn about
        self._status = "running" if active else None
        self._params: dict[str, str] = dict(param_texts or {})
        self._bufs: dict = {}
        self._ended_event = threading.Event()
        self._children: list[Run] = []
        self._on_end: list = []
        if not active:
            self._ended_event.set()
        elif self._writer is not None:
            self._writer.watch(self)

    # -- identity ---------------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Run{label} id={self.id} status={self.status}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def status(self) -> str:
        if self._live or self._status in ("finished", "failed", "killed"):
            return self._status or "running"
        return self.info["status"]

    @property
    def is_active(self) -> bool:
        return self._live

    def writer_alert(self, on: bool) -> None:
        """Called by the writer (``Writer.watch``): it has problems to warn about in the next call, or no more."""
        self._hold = on or not self._live

    def _check_live(self) -> Writer:
        if not self._live:
            if self._status is None:
                raise InvalidInput(
                    f"run {self.id} was opened for reading; start a new run with mlt.start_run() to log"
                )
            raise InvalidInput(f"run {self.id} has ended ({self._status}); start a new run to log more")
        w = self._writer
        w.warn_errors()
        return w

    # -- params -----------------------------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Log one param. Params are immutable: the same value again is a no-op, another value raises."""
        w = self._check_live()
        check_key("param", key)
        text = param_json(key, value)
        old = self._params.get(key)
        if old is not None:
            if old == text:
                return
            raise Conflict(
                f"param {key!r} of run {self.id} is already {old}; params are immutable, cannot set it to {text}. "
                "Use a tag for values that change, or a new run."
            )
        self._params[key] = text
        w.add("params", {"run_id": self.id, "key": key, "value": value if _plain(value) else _loads(text)})

    def log_params(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params, Mapping):
            raise InvalidInput(f"log_params takes a dict, got {type(params).__name__}")
        # validate everything before logging anything, so a bad entry leaves no half-logged dict
        items = []
        for k, v in params.items():
            check_key("param", k)
            text = param_json(k, v)
            old = self._params.get(k)
            if old is not None and old != text:
                raise Conflict(f"param {k!r} of run {self.id} is already {old}; params are immutable, cannot set it to {text}")
            items.append((k, v))
        for k, v in items:
            self.log_param(k, v)

    @property
    def params(self) -> dict:
        if self._live:
            return {k: _loads(v) for k, v in self._params.items()}
        return self.info["params"]

    # -- metrics ----------------------------------------------------------------------------------------------------

    def _series(self, name: str, context, k):
        check_key("metric", name)
        ctx = context_json(context)
        buf = self._writer.series(self.id, name, ctx)
        self._bufs[k] = buf
        return buf

    def log_metric(self, name: str, value: Any, step: int | None = None, context: Mapping[str, Any] | None = None) -> None:
        """Append one point to the series (name, context). ``step`` defaults to the series' previous step + 1.
        NaN and ±inf are stored as they are."""
        me = _get_ident()
        if self._hold:  # not live, or the writer has something to warn about (writer_alert)
            self._check_live()
        if context is None:
            k = name
        else:
            try:
                k = (name, tuple(sorted(context.items())))
            except (AttributeError, TypeError):
                context_json(context)  # raises the clear error
                raise
        try:
            buf = self._bufs[k]
        except KeyError:
            buf = None
        except TypeError:  # an unhashable context value: let the validation say what is wrong
            context_json(context)
            raise
        if buf is None:  # made outside the handler: an error about the name is not chained to a KeyError
            buf = self._series(name, context, k)
        if type(value) is not float:
            value = metric_value(name, value)
        if step is not None and type(step) is not int:
            step = metric_step(name, step)  # an integral number as an int, or the error
        # The thread that made the series writes to its blocks without the lock: no other thread writes to them
        # (series_buffer.py). ``last_step`` is read and set with no call in between: one step under the GIL.
        if buf.owner != me:
            if step is not None and not -(2**63) <= step < 2**63:
                metric_step(name, step)  # raises: outside the 64-bit range
            self._writer.add_point(buf, step, value, _time())
            return
        n = buf.n
        if step is None:
            step = buf.last_step = buf.last_step + 1
            try:
                buf.steps[n] = step
            except ValueError:  # past 2**63 - 1: nothing is written
                buf.last_step = step - 1
                raise step_overflow(buf) from None
        else:
            try:
                buf.steps[n] = step
            except ValueError:
                metric_step(name, step)  # raises: outside the 64-bit range
                raise
            if step > buf.last_step:
                buf.last_step = step
        buf.times[n] = _time()
        buf.values[n] = value
        n += 1
        buf.n = n  # the point counts from here on: the writer takes points below ``n``
        if n >= buf.check_at:
            self._writer.note(buf)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None,
                    context: Mapping[str, Any] | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise InvalidInput(f"log_metrics takes a dict of name → number, got {type(metrics).__name__}")
        for name, value in metrics.items():  # validate all first: nothing half-logged
            check_key("metric", name)
            metric_value(name, value)
        if step is not None:
            step = metric_step("(log_metrics)", step)
        for name, value in metrics.items():
            self.log_metric(name, value, step, context)

    def log_metric_series(self, name: str, values, steps=None, timestamps=None,
                          context: Mapping[str, Any] | None = None) -> None:
        """Append many points of one series at once (numpy arrays or sequences) — the fastest way to log."""
        import numpy as np

        w = self._check_live()
        k = name if context is None else (name, tuple(sorted(dict(context).items())))
        buf = self._bufs.get(k) or self._series(name, context, k)
        try:
            vals = np.asarray(values, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {name!r}: values must be numbers") from None
        n = len(vals)
        if steps is None:
            start = buf.last_step + 1
            st = np.arange(start, start + n, dtype=np.int64)
        else:
            st = steps_array(name, np.asarray(steps).ravel())
        ts = np.full(n, _time()) if timestamps is None else times_array(name, np.asarray(timestamps).ravel())
        if not (len(st) == len(ts) == n):
            raise InvalidInput(f"metric {name!r}: steps, timestamps and values must have the same length")
        w.add_points(buf, st, vals, ts)

    @property
    def metrics(self) -> dict:
        """Last value of every series, keyed ``name`` or ``name[k=v]`` (flushes first when the run is live)."""
        return {m["key"]: m["last"] for m in self.info["metrics"]}

    def metric_history(self, name: str, context: Mapping[str, Any] | None = None, max_points: int | None = None):
        """The series as a DataFrame with columns ``step``, ``timestamp`` (UTC) and ``value``, sorted by step."""
        import pandas as pd

        if self._writer is not None:  # live or just ended here: what was logged must be readable
            self.flush()
        s = self._backend().get_series(self.id, name, context, max_points)
        p = s["points"]
        return pd.DataFrame({
            "step": p.steps,
            "timestamp": pd.to_datetime(p.timestamps, unit="s", utc=True),
            "value": p.values,
        })

    # -- tags -------------------------------------------------------------------------------------------------------

    def set_tag(self, key: str, value: Any) -> None:
        w = self._check_live()
        check_key("tag", key)
        w.add("tags", {"run_id": self.id, "key": key, "value": tag_value(key, value)})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if not isinstance(tags, Mapping):
            raise InvalidInput(f"set_tags takes a dict, got {type(tags).__name__}")
        checked = [(check_key("tag", k), tag_value(k, v)) for k, v in tags.items()]
        for k, v in checked:
            self.set_tag(k, v)

    def delete_tag(self, key: str) -> None:
        w = self._check_live()
        check_key("tag", key)
        w.add("tags", {"run_id": self.id, "key": key, "value": None})

    @property
    def tags(self) -> dict:
        return self.info["tags"]

    # -- artifacts --------------------------------------------------------------------------------------------------

    def log_artifact(self, path: str | os.PathLike, name: str | None = None, type: str = "",
                     metadata: Mapping[str, Any] | None = None) -> None:
        """Store a file, or every file under a folder, as a new version of the artifact ``name`` (default: the
        file or folder name). Bytes are content-addressed: identical files are stored once."""
        self._check_live()
        p = Path(path)
        if not p.exists():
            raise InvalidInput(f"log_artifact: {os.fspath(path)!r} does not exist")
        name = check_key("artifact", name or p.name)
        meta = check_metadata(f"artifact {name!r}: metadata", dict(metadata or {}))
        if p.is_dir():
            paths = sorted(x for x in p.rglob("*") if x.is_file())
            rel = [x.relative_to(p).as_posix() for x in paths]
        else:
            paths, rel = [p], [p.name]
        backend = self._backend()
        files = []
        for src, r in zip(paths, rel):
            sha, size = backend.put_file(src)
            files.append({"path": r, "sha256": sha, "size": size, "media_type": _media_type(r)})
        self._writer.add("artifacts", {"run_id": self.id, "name": name, "type": str(type or ""),
                                       "metadata": meta, "files": files})

    def log_text(self, text: str, name: str, type: str = "text", path: str | None = None) -> None:
        """Store a string as a one-file artifact."""
        self._log_bytes(name, type, [(path or name, text.encode("utf-8"))])

    def log_dict(self, obj: Mapping[str, Any], name: str, type: str = "json") -> None:
        import json

        fname = name if name.endswith(".json") else name + ".json"
        self._log_bytes(name, type, [(fname, json.dumps(obj, indent=1, default=str).encode("utf-8"))])

    def _log_bytes(self, name: str, type: str, files: list[tuple[str, bytes]], metadata=None) -> None:
        self._check_live()
        check_key("artifact", name)
        for rel, _ in files:  # refused here, in the cell, before any bytes are stored
            check_relative_path(f"artifact {name!r}: path", rel)
        backend = self._backend()
        out = []
        for rel, data in files:
            sha, size = backend.put_bytes(data)
            out.append({"path": rel, "sha256": sha, "size": size, "media_type": _media_type(rel)})
        self._writer.add("artifacts", {"run_id": self.id, "name": name, "type": type,
                                       "metadata": dict(metadata or {}), "files": out})

    @property
    def artifacts(self) -> list[dict]:
        return self.info["artifacts"]

    def read_artifact(self, name: str, path: str | None = None, version: int | None = None) -> bytes:
        """The bytes of a file of an artifact (the only file when ``path`` is omitted; newest version by default)."""
        arts = [a for a in self.artifacts if a["name"] == name and (version is None or a["version"] == version)]
        if not arts:
            raise NotFound(f"run {self.id} has no artifact {name!r}" + (f" version {version}" if version else ""))
        art = arts[-1]
        if path is None:
            if len(art["files"]) != 1:
                raise InvalidInput(f"artifact {name!r} has {len(art['files'])} files; name one with path=")
            path = art["files"][0]["path"]
        return self._backend().read_artifact_file(art["id"], path)

    # -- figures and images (client/figures.py, core/figures.py) ---------------------------------------------------

    def log_figure(self, fig: Any, name: str, step: int | None = None,
                   context: Mapping[str, Any] | None = None) -> None:
        """Store a matplotlib figure (PNG and SVG) or a plotly figure (its JSON; a PNG too when kaleido is
        installed) as the figure ``name`` (at ``step``, in ``context``). A matplotlib figure is rendered in the
        call (its snapshot); uploading happens on the writer thread."""
        from .figures import figure_renderings

        self._add_figure("log_figure", name, step, context, lambda: figure_renderings(fig))

    def log_image(self, image: Any, name: str, step: int | None = None,
                  context: Mapping[str, Any] | None = None) -> None:
        """Store an image as PNG at ``step`` of the image series ``name``: a numpy array (height × width, or
        height × width × 1/3/4 channels; uint8, or floats in [0, 1]) or a PIL image."""
        from .figures import image_renderings

        self._add_figure("log_image", name, step, context, lambda: ("image", image_renderings(image)))

    def log_confusion_matrix(self, y_true: Any, y_pred: Any, labels: Sequence | None = None,
                             context: Mapping[str, Any] | None = None, normalize: str | None = None,
                             name: str = "confusion_matrix", step: int | None = None) -> None:
        """Count the confusion matrix of ``y_true`` against ``y_pred`` (rows: true labels, in ``labels`` order,
        default the sorted labels seen) and store it (its counts as JSON, a PNG drawn with matplotlib, normalised
        by ``normalize``: None, "true", "pred" or "all")."""
        from .figures import confusion_matrix, confusion_renderings

        self._add_figure("log_confusion_matrix", name, step, context, lambda: (
            "confusion_matrix", confusion_renderings(confusion_matrix(y_true, y_pred, labels, normalize))))

    def _add_figure(self, call: str, name: Any, step: Any, context: Any, render) -> None:
        from .figures import figure_target, store_figure

        w = self._check_live()
        name, step, ctx = figure_target(call, name, step, context)
        kind, make_files = render()
        w.defer(store_figure(self.id, name, kind, step, ctx, make_files, self._backend()))

    @property
    def figures(self) -> list[dict]:
        """The run's figures and images by name and context, with their steps and files (``core/figures.py``)."""
        if self._writer is not None:
            self._writer.flush()
        return self._backend().list_figures(self.id)

    def log_input(self, artifact: Mapping[str, Any] | int, role: str = "input") -> None:
        """Record that this run consumed an artifact (an ``artifacts`` entry of another run, or its id)."""
        w = self._check_live()
        aid = artifact["id"] if isinstance(artifact, Mapping) else int(artifact)
        w.add("inputs", {"run_id": self.id, "artifact_id": aid, "role": role})

    def snapshot(self, cell_source: str | None = None, execution_count: int | None = None,
                 started: float | None = None) -> None:
        """Store the notebook as it is now as a version of this run's ``notebook`` artifact: the execution history,
        the saved file and, in JupyterLab, the live document with unsaved edits (it arrives once the running cell
        has finished). ``%%track_run`` calls this when its cell ends, with the cell's source (magic line included) and
        its execution count (its outputs are read from IPython's output history) and start time (a saved file older
        than that is marked stale)."""
        from .notebook import capture, request_live_snapshot, snapshot_artifact

        if self._writer is None:
            raise InvalidInput(f"run {self.id} was opened for reading")
        snap = capture(cell_source, execution_count, started)
        self._writer.defer(snapshot_artifact(self.id, snap, self._backend()))
        request_live_snapshot(self.id, snap, self._backend(), self._writer)

    def chart(self, metrics: str | list[str] | None = None, **kwargs):
        """A live :class:`~jupyter_mltrack.MetricChart` of this run (display it, e.g. as a cell's last line)."""
        from ..widgets.metric_chart import MetricChart

        return MetricChart([self.id], metrics=metrics, **kwargs)

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def end(self, status: str = "finished", error: str | None = None) -> None:
        """End the run (idempotent). ``status``: finished, failed, killed or crashed."""
        if not self._live:
            return
        if status not in ("finished", "failed", "killed", "crashed"):
            raise InvalidInput(f"end: status must be finished, failed, killed or crashed, not {status!r}")
        for child in list(self._children):
            child.end(status if status != "finished" else "finished")
        for cb in self._on_end:
            try:
                cb(self, status)
            except Exception as e:
                self._writer.report(f"jupyter_mltrack: while ending run {self.id}: {e!r}")
        upd = {"run_id": self.id, "status": status, "end_time": _time()}
        if error:
            upd["error"] = str(error)[:20000]
        self._writer.add("updates", upd)
        self._writer.open_runs.discard(self.id)
        self._live = False
        self._hold = True
        self._writer.retire(self._bufs.values())
        self._status = status
        ACTIVE.remove(self)
        self._ended_event.set()

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait until everything this process logged so far is stored."""
        if self._writer is not None:
            self._writer.flush(timeout=timeout)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.end("finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("killed", error="KeyboardInterrupt")
        else:
            self.end("failed", error="".join(traceback.format_exception(exc_type, exc, tb)))
        return False

    # -- reading ----------------------------------------------------------------------------------------------------

    def _backend(self):
        return self._client.backend if self._client is not None else get_client().backend

    @property
    def info(self) -> dict:
        """Everything stored about the run (params, metric summaries, tags, artifacts, inputs, children…)."""
        if self._writer is not None and (self._live or self._status is not None):
            self._writer.flush()
        return self._backend().get_run(self.id)

    def lineage(self, direction: str = "up", depth: int | None = None) -> dict:
        """The runs, artifacts, dataset versions and model versions ``direction`` "up" (what this run came from) or
        "down" (what came of it), ``depth`` hops at most (None: to the end): ``{"nodes", "edges", …}``
        (docs/rest-api.md, ``Lineage``)."""
        if self._writer is not None:
            self._writer.flush()
        return self._backend().lineage(self.id, direction, depth)


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _loads(text: str):
    return json.loads(text)


def _media_type(path: str) -> str:
    import mimetypes

    if path.endswith(".ipynb"):
        return "application/x-ipynb+json"
    t, _ = mimetypes.guess_type(path)
    return t or "application/octet-stream"
