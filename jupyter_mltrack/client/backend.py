"""Where the client's data goes and comes from: the local store (embedded) or a Jupyter server (remote).

Both backends implement :class:`Backend`; the writer uses ``write``/``put_file``/``put_bytes`` as its sink (and
only the writer thread writes), the read API and the widgets the rest.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from array import array
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from ..core.errors import Conflict, Forbidden, InvalidInput, MLTrackError, NotFound
from ..core.wire import RUN_TABLE_COLUMNS, float_from_wire, metrics_from_wire

if TYPE_CHECKING:
    import numpy as np

#: Run ids per ``GET metrics`` request: lists longer than this are split (the server's limit is larger).
IDS_PER_REQUEST = 500


class Backend(Protocol):
    """What the client needs of a store, embedded or over HTTP."""

    kind: str

    @property
    def uri(self) -> str: ...

    # the writer's sink (called on the writer thread only)
    def write(self, batch: dict) -> dict: ...
    def put_file(self, path) -> tuple[str, int]: ...
    def put_bytes(self, data: bytes) -> tuple[str, int]: ...

    # reads
    def search_runs(self, **kw) -> tuple[list[dict], int]: ...
    def run_table(self, **kw) -> dict: ...
    def run_columns(self, **kw) -> dict: ...
    def revision(self) -> str: ...
    def get_run(self, run_id: str) -> dict: ...
    def get_series(self, run_id, name, context=None, max_points=None) -> dict: ...
    def get_series_many(self, run_ids, name, context=None, max_points=None, step_range=None) -> list[dict]: ...
    def list_projects(self) -> list[dict]: ...
    def list_experiments(self, project=None) -> list[dict]: ...
    def list_campaigns(self, project=None) -> list[dict]: ...
    def list_models(self, project=None, name=None) -> list[dict]: ...
    def resolve_model(self, ref: str, project=None) -> dict: ...
    def list_datasets(self, project=None, name=None) -> list[dict]: ...
    def resolve_dataset(self, name: str, version=None, alias=None, project=None) -> dict: ...
    def diff_datasets(self, name: str, a, b, project=None) -> dict: ...
    def lineage(self, run_id: str, direction: str = "up", depth=None) -> dict: ...
    def read_artifact_file(self, artifact_id: int, path: str) -> bytes: ...
    def list_figures(self, run_id: str) -> list[dict]: ...

    # maintenance
    def gc(self, grace_hours: float = 1.0, dry_run: bool = False) -> dict: ...


def _np(a, dtype) -> np.ndarray:
    import numpy as np

    if isinstance(a, array):
        return np.frombuffer(a, dtype=dtype) if len(a) else np.empty(0, dtype)
    return np.asarray(a, dtype=dtype)


class LocalBackend:
    kind = "local"

    def __init__(self, store):
        self.store = store

    def __repr__(self) -> str:
        return f"<LocalBackend {self.store!r}>"

    @property
    def uri(self) -> str:
        return self.store.location.path or str(self.store.location.url)

    # writer sink
    def write(self, batch: dict) -> dict:
        import numpy as np

        b = dict(batch)
        b["metrics"] = [
            {**m, "steps": _np(m["steps"], np.int64), "timestamps": _np(m["timestamps"], np.float64),
             "values": _np(m["values"], np.float64)}
            for m in batch.get("metrics", [])
        ]
        return self.store.write_batch(b)

    def put_file(self, path) -> tuple[str, int]:
        return self.store.blobs.put_file(path)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        return self.store.blobs.put_bytes(data)

    # reads
    def search_runs(self, **kw):
        return self.store.search_runs(**kw)

    def run_table(self, **kw) -> dict:
        return self.store.run_table(**kw)

    def run_frame(self, **kw) -> dict:
        return self.store.run_frame(**kw)

    def run_columns(self, **kw) -> dict:
        return self.store.run_columns(**kw)

    def revision(self) -> str:
        return self.store.revision()

    def get_run(self, run_id: str) -> dict:
        return self.store.get_run(run_id)

    def get_series(self, run_id, name, context=None, max_points=None) -> dict:
        return self.store.get_series(run_id, name, context, max_points)

    def get_series_many(self, run_ids, name, context=None, max_points=None, step_range=None) -> list[dict]:
        return self.store.get_series_many(run_ids, name, context, max_points, step_range)

    def list_projects(self):
        return self.store.list_projects()

    def list_experiments(self, project=None):
        return self.store.list_experiments(project)

    def list_campaigns(self, project=None):
        return self.store.list_campaigns(project)

    def list_models(self, project=None, name=None):
        return self.store.list_models(project, name=name)

    def resolve_model(self, ref: str, project=None) -> dict:
        return self.store.resolve_model(ref, project)

    def list_datasets(self, project=None, name=None):
        return self.store.list_datasets(project, name)

    def resolve_dataset(self, name: str, version=None, alias=None, project=None) -> dict:
        return self.store.resolve_dataset(name, version, alias, project)

    def diff_datasets(self, name: str, a, b, project=None) -> dict:
        return self.store.diff_datasets(name, a, b, project)

    def lineage(self, run_id: str, direction: str = "up", depth=None) -> dict:
        return dict(self.store.lineage(run_id, direction, depth))

    def read_artifact_file(self, artifact_id: int, path: str) -> bytes:
        return self.store.read_artifact_file(artifact_id, path)

    def list_figures(self, run_id: str) -> list[dict]:
        return [dict(f) for f in self.store.list_figures(run_id)]

    def gc(self, grace_hours: float = 1.0, dry_run: bool = False) -> dict:
        return dict(self.store.gc(grace_hours, dry_run))


_ERRORS = {"invalid": InvalidInput, "not_found": NotFound, "conflict": Conflict, "forbidden": Forbidden}


class HttpBackend:
    """Talks to ``{base_url}mltrack/api/`` of a Jupyter server; keeps one keep-alive session per thread."""

    kind = "http"

    def __init__(self, base_url: str, token: str | None = None, timeout: float | None = None):
        parts = urlsplit(base_url)
        q = parse_qs(parts.query)
        # an API key (team mode: acts as its user) or a Jupyter token: given, in the URI, or from the environment
        self.token = (token or (q.get("api_key") or [None])[0] or (q.get("token") or [None])[0]
                      or os.environ.get("MLTRACK_API_KEY") or os.environ.get("MLTRACK_TOKEN")
                      or os.environ.get("JUPYTERHUB_API_TOKEN"))
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self.base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self.api = self.base + "mltrack/api/"
        # a request that times out is sent again; batches carry ids, so a resent batch is never applied twice
        self.timeout = timeout or float(os.environ.get("MLTRACK_HTTP_TIMEOUT") or 30.0)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<HttpBackend {self.base}>"

    @property
    def uri(self) -> str:
        return self.base

    def _session(self):
        s = getattr(self._local, "session", None)
        if s is None:
            from .http import Session

            s = Session()
            if self.token:
                scheme = "Bearer" if self.token.startswith("mltk_") else "token"
                s.headers["Authorization"] = f"{scheme} {self.token}"
            self._local.session = s
        return s

    def call(self, method: str, path: str, **kw):
        """A call to the server's REST API (``path`` relative to ``mltrack/api/``): its JSON answer (None when empty);
        errors raised as the domain's exceptions."""
        r = self._request(method, path, **kw)
        return r.json() if r.content else None

    def _request(self, method: str, path: str, **kw):
        r = self._session().request(method, self.api + path, timeout=self.timeout, **kw)
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                cls = _ERRORS.get(err.get("code"), MLTrackError)
                e = cls(err.get("message") or r.reason)
                if "items" in err:
                    e.items = err["items"]
            except (ValueError, KeyError, TypeError):
                if r.status_code >= 500:
                    raise ConnectionError(f"server error {r.status_code} from {self.api + path}") from None
                e = MLTrackError(f"HTTP {r.status_code} {r.reason} from {self.api + path}")
            if r.status_code >= 500:
                raise ConnectionError(str(e))
            raise e
        return r

    # writer sink
    def write(self, batch: dict) -> dict:
        import msgpack
        import numpy as np

        def b(a, dtype):
            arr = _np(a, dtype)
            if sys.byteorder != "little":  # pragma: no cover
                arr = arr.byteswap()
            return arr.tobytes()

        body = {k: v for k, v in batch.items() if k != "metrics" and v}
        if batch.get("metrics"):
            body["metrics"] = [
                {**m, "steps": b(m["steps"], np.int64), "timestamps": b(m["timestamps"], np.float64),
                 "values": b(m["values"], np.float64)}
                for m in batch["metrics"]
            ]
        data = msgpack.packb(body, use_bin_type=True, default=_pack_default)
        r = self._request("POST", "batch", data=data, headers={"Content-Type": "application/msgpack"})
        return r.json().get("written", {})

    def put_file(self, path) -> tuple[str, int]:
        from ..core.blobs import sha256_file

        sha, size = sha256_file(path)
        with open(path, "rb") as f:
            self._request("PUT", f"blobs/{sha}", data=f, headers={"Content-Type": "application/octet-stream"})
        return sha, size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        self._request("PUT", f"blobs/{sha}", data=data, headers={"Content-Type": "application/octet-stream"})
        return sha, len(data)

    # reads
    def search_runs(self, project=None, experiment=None, campaign=None, filter=None, order_by=None, limit=None,
                    offset=0, view="full"):
        out, total = [], None
        page = 10_000 if view == "table" else 1000
        fix = (lambda r: r) if view == "table" else _run_from_wire
        while True:
            want = page if limit is None else min(page, limit - len(out))
            params = {k: v for k, v in dict(project=project, experiment=experiment, campaign=campaign, filter=filter,
                                            order_by=order_by, limit=want, offset=offset + len(out),
                                            view=None if view == "full" else view).items()
                      if v not in (None, "")}
            data = self._request("GET", "runs?" + urlencode(params)).json()
            total = data["total"]
            out.extend(fix(r) for r in data["runs"])
            if not data["runs"] or len(out) >= total - offset or (limit is not None and len(out) >= limit):
                return out, total

    def run_table(self, **kw) -> dict:
        """The run table from the REST list's table view (metrics: series key → last value)."""
        rows, total = self.search_runs(**kw, view="table")
        return {
            "total": total,
            "columns": RUN_TABLE_COLUMNS,
            "base": [(r["id"], r["name"], r["status"], r["start_time"], r["end_time"], None,
                      r["project"], r["user"], r["parent_id"], r["source"]) for r in rows],
            "experiments": [r["experiments"] for r in rows],
            "params": [r["params"] for r in rows],
            "tags": [r["tags"] for r in rows],
            "metrics": [r["metrics"] for r in rows],
        }

    def run_columns(self, **kw) -> dict:
        params = {k: v for k, v in kw.items() if v not in (None, "")}
        return self._request("GET", "columns?" + urlencode(params)).json()

    def revision(self) -> str:
        return self._request("GET", "status").json()["revision"]

    def get_run(self, run_id: str) -> dict:
        return _run_from_wire(self._request("GET", f"runs/{quote(run_id, safe='')}").json())

    def get_series(self, run_id, name, context=None, max_points=None) -> dict:
        from ..core.validation import context_json

        params = {"name": name, "context": context_json(context)}
        if max_points is not None:
            params["max_points"] = max_points
        r = self._request("GET", f"runs/{quote(run_id, safe='')}/metrics?" + urlencode(params), headers=_BINARY)
        return _series_from_wire(_answer(r))

    def get_series_many(self, run_ids, name, context=None, max_points=None, step_range=None) -> list[dict]:
        from ..core.validation import context_json

        params = {"name": name, "context": context_json(context)}
        if max_points is not None:
            params["max_points"] = max_points
        if step_range is not None:
            params["step_min"], params["step_max"] = int(step_range[0]), int(step_range[1])
        out = []
        run_ids = list(run_ids)
        for i in range(0, len(run_ids), IDS_PER_REQUEST):  # the server takes at most MAX_IDS ids a request
            q = urlencode({"runs": ",".join(run_ids[i:i + IDS_PER_REQUEST]), **params})
            out.extend(_answer(self._request("GET", "metrics?" + q, headers=_BINARY))["series"])
        return [_series_from_wire(d) for d in out]

    def list_projects(self):
        return self._request("GET", "projects").json()["projects"]

    def list_experiments(self, project=None):
        q = "?" + urlencode({"project": project}) if project is not None else ""
        return self._request("GET", "experiments" + q).json()["experiments"]

    def list_campaigns(self, project=None):
        return self._request("GET", "campaigns" + _query(project=project)).json()["campaigns"]

    def list_models(self, project=None, name=None):
        q = _query(project=project, name=name)
        return self._request("GET", "models" + q).json()["models"]

    def resolve_model(self, ref: str, project=None) -> dict:
        return self._request("GET", "models/resolve" + _query(ref=ref, project=project)).json()

    def list_datasets(self, project=None, name=None):
        return self._request("GET", "datasets" + _query(project=project, name=name)).json()["datasets"]

    def resolve_dataset(self, name: str, version=None, alias=None, project=None) -> dict:
        q = _query(name=name, version=version, alias=alias, project=project)
        return self._request("GET", "datasets/resolve" + q).json()

    def diff_datasets(self, name: str, a, b, project=None) -> dict:
        return self._request("GET", "datasets/diff" + _query(name=name, a=a, b=b, project=project)).json()

    def lineage(self, run_id: str, direction: str = "up", depth=None) -> dict:
        q = _query(direction=direction, depth=depth)
        return self._request("GET", f"runs/{quote(run_id, safe='')}/lineage" + q).json()

    def read_artifact_file(self, artifact_id: int, path: str) -> bytes:
        return self._request("GET", f"artifacts/{artifact_id}/files/{quote(path)}").content

    def list_figures(self, run_id: str) -> list[dict]:
        return self._request("GET", f"runs/{quote(run_id, safe='')}/figures").json()["figures"]

    def gc(self, grace_hours: float = 1.0, dry_run: bool = False) -> dict:
        return self._request("POST", "gc", json={"grace_hours": grace_hours, "dry_run": dry_run}).json()


#: Bytes this process stored through a backend are uploaded again only after this long (which also restarts their
#: blobs' grace period against the collector).
REUPLOAD_SECONDS = 1800.0
_known_blobs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def put_bytes_once(backend, data: bytes) -> tuple[str, int]:
    """``backend.put_bytes(data)``, skipped when this process stored the same bytes through ``backend`` lately (a
    notebook's unchanged cell, the same tracked cell run again): content-addressed, so the answer is the same."""
    import hashlib
    import time

    sha = hashlib.sha256(data).hexdigest()
    now = time.monotonic()
    with _known_lock:
        known = _known_blobs.get(backend)
        if known is None:
            known = _known_blobs[backend] = {}
        t = known.get(sha)
    if t is not None and now - t < REUPLOAD_SECONDS:
        return sha, len(data)
    sha, size = backend.put_bytes(data)
    with _known_lock:
        if len(known) > 100_000:
            known.clear()
        known[sha] = now
    return sha, size


#: Series are asked for in their binary form (msgpack with raw little-endian arrays; docs/rest-api.md), which a
#: server without it answers with JSON: both are read.
_BINARY = {"Accept": "application/msgpack, application/json;q=0.5"}


def _answer(r) -> dict:
    if r.headers.get("Content-Type", "").split(";")[0].strip() == "application/msgpack":
        import msgpack

        return msgpack.unpackb(r.content, raw=False)
    return r.json()


def _series_from_wire(d: dict) -> dict:
    """A series answer (JSON lists, or msgpack raw arrays) with its ``points`` as numpy arrays."""
    import numpy as np

    from ..core.series import Points

    steps, times, values = d.pop("steps"), d.pop("timestamps"), d.pop("values")
    enc = d.pop("encoding", None)
    if enc is not None:  # raw little-endian arrays: read in place, converted to native order
        d["points"] = Points(np.frombuffer(steps, enc["steps"]).astype(np.int64),
                             np.frombuffer(times, enc["timestamps"]).astype(np.float64),
                             np.frombuffer(values, enc["values"]).astype(np.float64))
    else:
        d["points"] = Points(np.asarray(steps, dtype=np.int64), np.asarray(times, dtype=np.float64),
                             np.asarray([float_from_wire(v) for v in values], dtype=np.float64))
    return d


def _query(**params) -> str:
    """``?k=v&…`` of the parameters that are given (None left out)."""
    given = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(given) if given else ""


def _run_from_wire(r: dict) -> dict:
    metrics_from_wire(r.get("metrics", []))
    return r


def _pack_default(o: Any):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, array):
        return list(o)
    raise TypeError(f"cannot send {type(o).__name__}")


def starting_server() -> tuple[str, str] | None:
    """The Jupyter server that started this process, when it serves the very store this process would open by
    default: (its base URL, its token) — else None. Writing through it keeps the store's work (SQLAlchemy, SQLite or
    PostgreSQL writes) out of this process: a kernel's tracking then costs its interpreter almost nothing.
    ``MLTRACK_WRITE_THROUGH_SERVER=0`` opens the store in-process instead."""
    # what a Jupyter server running the extension tells the processes it starts (server/children.py)
    url, token, store = (os.environ.get(k) for k in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN",
                                                        "MLTRACK_SERVER_STORE"))
    if not (url and token and store):
        return None
    if os.environ.get("MLTRACK_WRITE_THROUGH_SERVER", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    from ..core.location import resolve_uri, store_fingerprint

    try:
        loc = resolve_uri(None)
    except Exception:  # an unusable MLTRACK_URI is reported by the store that opens it
        return None
    if loc.kind == "http" or store_fingerprint(loc) != store:
        return None
    return url, token


def open_backend(uri: str | None = None):
    """The backend for ``uri`` (or ``MLTRACK_URI``, or the default local store)."""
    raw = uri if uri is not None else (os.environ.get("MLTRACK_URI") or "")
    if raw.startswith(("http://", "https://")):  # a server: the store's modules (SQLAlchemy) are not imported
        return HttpBackend(raw)
    if uri is None and (server := starting_server()) is not None:
        return HttpBackend(server[0], token=server[1])
    from ..core.store import Store, resolve_uri

    loc = resolve_uri(uri)
    if loc.kind == "http":
        return HttpBackend(loc.url)
    return LocalBackend(Store(uri))
