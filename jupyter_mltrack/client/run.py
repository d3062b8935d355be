"""The public tracking API: Run, start_run, the active-run stack, the fluent functions and the read API.

Logging methods validate at call time (so a mistake raises in the cell that made it, naming the key) and then
only append to the process's :class:`~jupyter_mltrack.client.writer.Writer`; they never wait for the store.
"""

from __future__ import annotations

import atexit
import getpass
import os
import secrets
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..core.errors import Conflict, InvalidInput, MLTrackError, NotFound
from ..core.validation import (
    check_key,
    context_json,
    metric_step,
    param_json,
    series_key,
    tag_value,
)
from .writer import Writer, register

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_time = time.time


def new_run_id() -> str:
    """12 characters of base 36 (62 bits): short enough to read, unique enough for millions of runs."""
    n = secrets.randbits(62)
    out = []
    for _ in range(12):
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
    return "".join(out)


# ----------------------------------------------------------------------------------------------------------------
# process-wide client: backend + writer


class _Client:
    def __init__(self, uri: str | None):
        from .backend import open_backend

        self.backend = open_backend(uri)
        self.uri = self.backend.uri
        self.writer = register(Writer(self.backend))


_client: _Client | None = None
_client_lock = threading.Lock()
_active: list["Run"] = []
_active_lock = threading.RLock()


def _get_client() -> _Client:
    global _client
    c = _client
    if c is None:
        with _client_lock:
            if _client is None:
                _client = _Client(None)
            c = _client
    return c


def set_tracking_uri(uri: str | os.PathLike | None) -> None:
    """Use another store from now on: a path, a SQLAlchemy URL or ``http(s)://server/`` (see docs). ``None`` goes
    back to ``MLTRACK_URI`` / the default. Open runs are flushed first."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.writer.close()
        _client = _Client(os.fspath(uri) if uri is not None else None)


def get_tracking_uri() -> str:
    return _get_client().uri


def _backend():
    return _get_client().backend


def flush(timeout: float | None = 60.0) -> None:
    """Wait until everything logged so far is stored (raises if the writer could not store something)."""
    if _client is not None:
        _client.writer.flush(timeout=timeout)


# ----------------------------------------------------------------------------------------------------------------
# Run


class Run:
    """A run: created by :func:`start_run` (active, loggable) or returned by :func:`get_run` (read view).

    Use it as a context manager so it always ends: ``finished`` normally, ``failed`` with the error when the block
    raises, ``killed`` on KeyboardInterrupt."""

    def __init__(self, run_id: str, *, name: str = "", project: str = "", experiments: Sequence[str] = (),
                 parent_id: str | None = None, _client: _Client | None = None, _active: bool = False,
                 _params: Mapping[str, str] | None = None):
        self.id = run_id
        self.name = name
        self.project = project
        self.experiments = list(experiments)
        self.parent_id = parent_id
        self._client = _client
        self._writer: Writer | None = _client.writer if _client is not None else None
        self._live = _active
        self._status = "running" if _active else None
        self._params: dict[str, str] = dict(_params or {})
        self._bufs: dict = {}
        self._ended_event = threading.Event()
        self._children: list[Run] = []
        self._on_end: list = []
        if not _active:
            self._ended_event.set()

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

    def _check_live(self) -> Writer:
        if not self._live:
            if self._status is None:
                raise InvalidInput(
                    f"run {self.id} was opened for reading; start a new run with mlt.start_run() to log"
                )
            raise InvalidInput(f"run {self.id} has ended ({self._status}); start a new run to log more")
        w = self._writer
        if w._unreported or w._warn_only:
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
        w = self._writer
        if not self._live or w._unreported or w._warn_only:
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
            buf = self._bufs.get(k)
        except TypeError:  # an unhashable context value: let the validation say what is wrong
            context_json(context)
            raise
        if buf is None:
            buf = self._series(name, context, k)
        cls = value.__class__
        if cls is not float:
            if isinstance(value, (str, bytes)) or value is None:
                raise InvalidInput(f"metric {name!r}: value {value!r} of type {cls.__name__} is not a number")
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"metric {name!r}: value {value!r} of type {cls.__name__} is not a number") from None
            except OverflowError:
                raise InvalidInput(f"metric {name!r}: value {value!r} is too large for a float") from None
        if step is not None:
            if step.__class__ is not int:
                step = metric_step(name, step)
            if not -(2**63) <= step < 2**63:
                raise InvalidInput(f"metric {name!r}: step {step} does not fit in 64 bits")
        w.add_point(buf, step, value, _time())

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None,
                    context: Mapping[str, Any] | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise InvalidInput(f"log_metrics takes a dict of name → number, got {type(metrics).__name__}")
        for name, value in metrics.items():  # validate all first: nothing half-logged
            check_key("metric", name)
            if isinstance(value, (str, bytes)) or value is None:
                raise InvalidInput(f"metric {name!r}: value {value!r} of type {type(value).__name__} is not a number")
            try:
                float(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"metric {name!r}: value {value!r} of type {type(value).__name__} is not a number") from None
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
            start = buf.next_step
            st = np.arange(start, start + n, dtype=np.int64)
        else:
            st = np.asarray(steps)
            if st.dtype.kind not in "iu" and not (st.dtype.kind == "f" and np.all(np.mod(st, 1) == 0)):
                raise InvalidInput(f"metric {name!r}: steps must be integers")
            st = st.astype(np.int64).ravel()
        ts = np.full(n, _time()) if timestamps is None else np.asarray(timestamps, dtype=np.float64).ravel()
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
                                       "metadata": dict(metadata or {}), "files": files})

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

    def log_input(self, artifact: Mapping[str, Any] | int, role: str = "input") -> None:
        """Record that this run consumed an artifact (an ``artifacts`` entry of another run, or its id)."""
        w = self._check_live()
        aid = artifact["id"] if isinstance(artifact, Mapping) else int(artifact)
        w.add("inputs", {"run_id": self.id, "artifact_id": aid, "role": role})

    def snapshot(self, cell_source: str | None = None) -> None:
        """Store the notebook as it is now as a version of this run's ``notebook`` artifact: the execution history,
        the saved file and, in JupyterLab, the live document with unsaved edits (it arrives once the running cell
        has finished). ``%%track_run`` calls this when its cell ends."""
        from .notebook import capture, request_live_snapshot, snapshot_artifact

        if self._writer is None:
            raise InvalidInput(f"run {self.id} was opened for reading")
        snap = capture(cell_source)
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
                self._writer._report(f"jupyter_mltrack: while ending run {self.id}: {e!r}")
        upd = {"run_id": self.id, "status": status, "end_time": _time()}
        if error:
            upd["error"] = str(error)[:20000]
        self._writer.add("updates", upd)
        self._writer.open_runs.discard(self.id)
        self._live = False
        self._status = status
        with _active_lock:
            if self in _active:
                _active.remove(self)
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
        return self._client.backend if self._client is not None else _backend()

    @property
    def info(self) -> dict:
        """Everything stored about the run (params, metric summaries, tags, artifacts, inputs, children…)."""
        if self._writer is not None and (self._live or self._status is not None):
            self._writer.flush()
        return self._backend().get_run(self.id)


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _loads(text: str):
    import json

    return json.loads(text)


def _media_type(path: str) -> str:
    import mimetypes

    if path.endswith(".ipynb"):
        return "application/x-ipynb+json"
    t, _ = mimetypes.guess_type(path)
    return t or "application/octet-stream"


# ----------------------------------------------------------------------------------------------------------------
# start_run & the active-run stack


def start_run(
    name: str | None = None,
    *,
    project: str | None = None,
    experiment: str | Iterable[str] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str = "",
    parent: "Run | str | None | bool" = None,
    source: str | None = None,
    campaign: str | Iterable[str] | None = None,
    capture_environment: bool | None = None,
) -> Run:
    """Start a run and make it the active one. Inside another active run it becomes its child (pass
    ``parent=False`` for a top-level run). Use as ``with mlt.start_run(...) as run:``.

    ``project`` defaults to the parent's project, then ``MLTRACK_PROJECT``, then "Default"; ``experiment`` may be
    one name or several. ``capture_environment`` (default: top-level runs only) stores Python, packages, git,
    host and hardware as the run's "environment" artifact, gathered in the background."""
    client = _get_client()
    client.writer.warn_errors()
    _install_excepthook()
    with _active_lock:
        parent_run = None
        if parent is None:
            parent_run = _active[-1] if _active else None
        elif isinstance(parent, Run):
            parent_run = parent
        parent_id = parent_run.id if parent_run is not None else (parent if isinstance(parent, str) else None)
        if project is None:
            project = parent_run.project if parent_run is not None else (os.environ.get("MLTRACK_PROJECT") or "Default")
        check_key("project", project)
        exps = [experiment] if isinstance(experiment, str) else list(experiment or [])
        for e in exps:
            check_key("experiment", e)
        camps = [campaign] if isinstance(campaign, str) else list(campaign or [])
        for c in camps:
            check_key("campaign", c)
        if name is not None and not isinstance(name, str):
            raise InvalidInput(f"run name must be a string, not {name!r}")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput("params must be a dict")
        # validate params and tags before creating anything
        checked_params = {check_key("param", k): param_json(k, v) for k, v in (params or {}).items()}
        checked_tags = {check_key("tag", k): tag_value(k, v) for k, v in (tags or {}).items()}
        run_id = new_run_id()
        run = Run(run_id, name=name or "", project=project, experiments=exps, parent_id=parent_id,
                  _client=client, _active=True)
        w = client.writer
        w.add("runs", {
            "id": run_id, "name": name or "", "project": project, "experiments": exps, "campaigns": camps,
            "parent_id": parent_id, "user": _user(), "source": source if source is not None else _source(),
            "description": description or "", "start_time": _time(), "status": "running",
        })
        w.open_runs.add(run_id)
        for k, text in checked_params.items():
            run._params[k] = text
            w.add("params", {"run_id": run_id, "key": k, "value": _loads(text)})
        for k, v in checked_tags.items():
            w.add("tags", {"run_id": run_id, "key": k, "value": v})
        if parent_run is not None and parent_run._live:
            parent_run._children.append(run)
        _active.append(run)
    if capture_environment if capture_environment is not None else parent_id is None:
        from .environment import environment_artifact

        w.defer(environment_artifact(run_id, client.backend))
    return run


_uncaught: list[BaseException] = []


def _install_excepthook() -> None:
    """Remember an uncaught exception so that runs still open at exit end ``failed`` rather than ``finished``."""
    prev = sys.excepthook
    if getattr(prev, "_mltrack", False):
        return

    def hook(exc_type, exc, tb):
        _uncaught.append(exc)
        prev(exc_type, exc, tb)

    hook._mltrack = True
    sys.excepthook = hook


@atexit.register
def _end_open_runs_at_exit() -> None:
    """Runs must not stay "running" after the process: a script that ends normally finishes its runs, one that dies
    of an exception fails them, a kernel that shuts down kills them. (Registered after the writer's own exit hook, so
    it runs before it and the final flush carries these updates.)"""
    with _active_lock:
        open_runs = list(_active)
    if not open_runs:
        return
    in_kernel = "IPython" in sys.modules and sys.modules["IPython"].get_ipython() is not None
    if in_kernel:
        status, error = "killed", "the kernel shut down while the run was open"
    elif _uncaught:
        e = _uncaught[-1]
        status, error = "failed", "".join(traceback.format_exception(type(e), e, e.__traceback__))
    else:
        status, error = "finished", None
    for r in reversed(open_runs):
        try:
            r.end(status, error=error)
        except Exception:  # pragma: no cover
            pass


def active_run() -> Run | None:
    """The innermost active run of this process, or None."""
    with _active_lock:
        return _active[-1] if _active else None


def _require_active() -> Run:
    r = active_run()
    if r is None:
        raise InvalidInput("no active run: start one with mlt.start_run() or run the cell under %%track_run")
    return r


def end_run(status: str = "finished") -> None:
    r = active_run()
    if r is not None:
        r.end(status)


def log_param(key: str, value: Any) -> None:
    _require_active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require_active().log_params(params)


def log_metric(name: str, value: Any, step: int | None = None, context: Mapping[str, Any] | None = None) -> None:
    _require_active().log_metric(name, value, step, context)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, context: Mapping[str, Any] | None = None) -> None:
    _require_active().log_metrics(metrics, step, context)


def set_tag(key: str, value: Any) -> None:
    _require_active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _require_active().set_tags(tags)


def log_artifact(path, name: str | None = None, type: str = "", metadata=None) -> None:
    _require_active().log_artifact(path, name=name, type=type, metadata=metadata)


def _user() -> str:
    for var in ("JUPYTERHUB_USER", "MLTRACK_USER"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _source() -> str:
    from .notebook import current_source

    try:
        return current_source()
    except Exception:
        return ""


# ----------------------------------------------------------------------------------------------------------------
# reading


def get_run(run_id: str) -> Run:
    """A read view of a stored run (``.params``, ``.metrics``, ``.tags``, ``.artifacts``, ``.metric_history()``)."""
    with _active_lock:
        for r in _active:
            if r.id == run_id:
                return r
    client = _get_client()
    client.writer.flush(raise_errors=False)
    info = client.backend.get_run(run_id)
    return Run(info["id"], name=info["name"], project=info["project"], experiments=info["experiments"],
               parent_id=info["parent_id"], _client=client)


def search_runs(
    project: str | None = None,
    experiment: str | None = None,
    filter: str | None = None,
    order_by: str | None = None,
    max_results: int | None = None,
    campaign: str | None = None,
):
    """Runs as a pandas DataFrame, one row per run: ``run_id``, ``name``, ``status``, ``start_time``,
    ``end_time``, ``duration``, ``project``, ``experiments``, ``user``, ``parent_id``, ``source``, then
    ``params.*``, ``metrics.*`` (last value of each series, the context in brackets) and ``tags.*``.

    ``filter`` is the search language (``"metrics.acc > 0.5 and params.optimizer = 'adam'"``, see
    :mod:`jupyter_mltrack.core.search`), ``order_by`` e.g. ``"metrics.acc DESC"`` (default: newest first)."""
    client = _get_client()
    client.writer.flush(raise_errors=False)
    client.writer.warn_errors()
    from ..core.store import gc_paused

    # one pause over the read and the frame; the intermediate dicts are freed before the collector resumes, so it
    # has only the frame to look at
    read = getattr(client.backend, "run_frame", None) or client.backend.run_table
    with gc_paused():
        table = read(project=project, experiment=experiment, campaign=campaign, filter=filter, order_by=order_by,
                     limit=max_results)
        df = runs_dataframe(table)
        del table
    return df


def runs_dataframe(table: dict):
    """Build the run DataFrame from :meth:`Store.run_table`'s columnar material."""
    from ..core.store import gc_paused

    with gc_paused():
        return _runs_dataframe(table)


def _runs_dataframe(table: dict):
    import numpy as np
    import pandas as pd

    base = pd.DataFrame.from_records(table["base"], columns=list(table["columns"]))
    start = base["start_time"].to_numpy(dtype="float64", na_value=np.nan)
    end = base["end_time"].to_numpy(dtype="float64", na_value=np.nan)
    beat = base["heartbeat_at"].to_numpy(dtype="float64", na_value=np.nan)
    last_seen = np.where(np.isnan(end), np.where(np.isnan(beat), start, beat), end)
    df = pd.DataFrame({
        "run_id": base["run_id"],
        "name": base["name"],
        "status": base["status"],
        "start_time": pd.to_datetime(start, unit="s", utc=True),
        "end_time": pd.to_datetime(end, unit="s", utc=True),
        "duration": last_seen - start,
        "project": base["project"],
        "experiments": pd.Series(table["experiments"], dtype=object),
        "user": base["user"],
        "parent_id": base["parent_id"],
        "source": base["source"],
    })
    if "numeric" in table:  # Store.run_frame: numbers arrive as arrays
        return _frame_with_arrays(df, table)
    parts = [df]
    for prefix, dicts, numeric in (("params.", table["params"], False), ("metrics.", table["metrics"], True),
                                   ("tags.", table["tags"], False)):
        if not any(dicts):
            continue
        frame = pd.DataFrame.from_records(dicts, index=df.index) if len(dicts) else pd.DataFrame(index=df.index)
        frame = frame[sorted(frame.columns)]
        if numeric:  # non-finite values arrive as "NaN", "Infinity", "-Infinity" (older stores: NaN as None)
            for c in frame.columns:
                if frame[c].dtype == object:
                    frame[c] = pd.to_numeric(frame[c], errors="coerce")
            frame = frame.astype("float64")
        frame.columns = [prefix + c for c in frame.columns]
        parts.append(frame)
    return pd.concat(parts, axis=1) if len(parts) > 1 else df


def _frame_with_arrays(df, table: dict):
    """The run DataFrame from :meth:`Store.run_frame`: numeric params and metrics as given arrays, the other params
    and tags from their dicts (pandas infers those columns), columns ordered as the dict path orders them."""
    import numpy as np
    import pandas as pd

    numeric = table["numeric"]
    text = {}
    for prefix, dicts in (("params.", table["params"]), ("tags.", table["tags"])):
        if any(dicts):
            frame = pd.DataFrame.from_records(dicts, index=df.index)
            text.update({prefix + c: frame[c] for c in frame.columns})
    columns = {}
    rank = {"params": 0, "metrics": 1, "tags": 2}
    for name in sorted(set(numeric) | set(text), key=lambda c: (rank[c.split(".", 1)[0]], c.split(".", 1)[1])):
        if name in numeric and name in text:  # numbers in some runs, other values in others: pandas infers
            key, nums = name.split(".", 1)[1], numeric[name]
            have = ~np.isnan(nums) if nums.dtype.kind == "f" else np.ones(len(nums), bool)
            values = [d[key] if key in d else (nums[i].item() if have[i] else np.nan)
                      for i, d in enumerate(table["params"])]
            columns[name] = pd.Series(values, index=df.index)
        else:
            columns[name] = numeric[name] if name in numeric else text[name]
    extra = pd.DataFrame(columns, index=df.index, copy=False)
    return pd.concat([df, extra], axis=1) if columns else df


def register_model(name: str, run: "Run | str", artifact: str = "model", version: int | None = None,
                   stage: str = "", description: str = "", project: str | None = None) -> dict:
    """Register the artifact ``artifact`` of ``run`` (newest version by default) as a new version of the model
    ``name`` in the run's project. Embedded stores only for now."""
    from .backend import LocalBackend

    client = _get_client()
    client.writer.flush()
    if not isinstance(client.backend, LocalBackend):
        raise InvalidInput("register_model needs an embedded or database store (not a server URL) for now")
    store = client.backend.store
    run_id = run.id if isinstance(run, Run) else run
    art = store.find_artifact(run_id, artifact, version)
    info = store.get_run(run_id)
    return store.register_model(project or info["project"], name, art["id"], stage, description)


def list_models(project: str | None = None):
    import pandas as pd

    from .backend import LocalBackend

    client = _get_client()
    if not isinstance(client.backend, LocalBackend):
        raise InvalidInput("list_models needs an embedded or database store (not a server URL) for now")
    return pd.DataFrame(client.backend.store.list_models(project))


class RunDiff(dict):
    """What differs between two runs: ``params``, ``metrics`` (last values), ``tags`` ({key: {"a", "b"}}) and
    ``notebook`` (cell-by-cell comparison of their notebook snapshots, with unified diffs of changed sources)."""

    def _repr_html_(self) -> str:
        import html

        def table(title, d):
            if not d:
                return f"<p><b>{title}</b>: no difference</p>"
            rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(repr(v['a']))}</td>"
                           f"<td>{html.escape(repr(v['b']))}</td></tr>" for k, v in d.items())
            return f"<p><b>{title}</b></p><table><tr><th></th><th>{self['a']}</th><th>{self['b']}</th></tr>{rows}</table>"

        parts = [table("Params", self["params"]), table("Metrics (last)", self["metrics"]), table("Tags", self["tags"])]
        nb = self.get("notebook")
        if nb is None:
            parts.append(f"<p><b>Notebook</b>: {html.escape(self.get('notebook_note', ''))}</p>")
        else:
            s = nb["summary"]
            parts.append(f"<p><b>Notebook</b>: {s['modified']} modified, {s['added']} added, {s['removed']} removed, "
                         f"{s['unchanged']} unchanged cells; outputs changed in {nb['outputs_changed']}</p>")
            for c in nb["cells"]:
                if c["change"] == "unchanged" and not c["outputs_changed"]:
                    continue
                body = c["source_diff"] or (c["source_b"] if c["change"] == "added" else c["source_a"]) or ""
                parts.append(f"<p>{c['change']} cell (a: {c['a']}, b: {c['b']})"
                             f"{' — outputs changed' if c['outputs_changed'] else ''}</p>"
                             f"<pre>{html.escape(body)}</pre>")
        return "<div>" + "".join(parts) + "</div>"


def diff_notebooks(run_a: "Run | str", run_b: "Run | str") -> RunDiff:
    """Compare two runs: params, last metric values, tags and their notebook snapshots (cells via nbdime)."""
    from ..report.diff import run_diff

    client = _get_client()
    client.writer.flush(raise_errors=False)
    a = client.backend.get_run(run_a.id if isinstance(run_a, Run) else run_a)
    b = client.backend.get_run(run_b.id if isinstance(run_b, Run) else run_b)
    return RunDiff(run_diff(a, b, client.backend.read_artifact_file))


def _run_ids(runs) -> list[str]:
    if isinstance(runs, (str, Run)):
        runs = [runs]
    if hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):  # a search_runs DataFrame
        return [str(x) for x in runs["run_id"]]
    out = []
    for r in runs:
        out.append(r.id if isinstance(r, Run) else str(r))
    if not out:
        raise InvalidInput("no runs given")
    return out


def export_report(runs, path: str | os.PathLike = "mltrack-report.html", title: str | None = None,
                  max_points: int = 2000, progress: bool | None = None) -> Path:
    """Write a standalone HTML report of one or more runs (Run objects, ids, or a search_runs DataFrame):
    comparison table, metric charts, params, environment and notebook snapshots. Returns the file's path."""
    from ..report.export import export_report as _export

    client = _get_client()
    client.writer.flush(raise_errors=False)
    ids = _run_ids(runs)
    return _export(ids, path, client.backend, title=title, max_points=max_points, progress=progress)


def list_projects():
    import pandas as pd

    return pd.DataFrame(_backend().list_projects())


def list_experiments(project: str | None = None):
    import pandas as pd

    return pd.DataFrame(_backend().list_experiments(project))
