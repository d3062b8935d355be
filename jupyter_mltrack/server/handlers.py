"""REST handlers — thin: parse the request, call the store core on a worker thread, answer JSON.

Every handler requires an authenticated user (``@tornado.web.authenticated``) and authorization on the resource
``mltrack`` (``@authorized``: GET needs "read", POST/PUT "write"). Domain errors become JSON 4xx
(``{"error": {"code", "message"}}``); database calls never run on the event loop: reads go to a small thread pool,
writes to a single writer thread, so the server's writes to SQLite are serialised and never wait on each other.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from typing import Any, Callable
from urllib.parse import quote

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler

from ..version import __version__
from ..core.batch import run_id
from ..core.errors import InvalidInput, MLTrackError, NotFound
from ..core.validation import INT64_MAX, INT64_MIN, MAX_IDS, MAX_QUERY, check_media_type
from ..core.wire import encode_json, jsonable, series_lists
from .series_format import MSGPACK, encode_msgpack, packed_series, wants_msgpack

_CODES = {400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 414: "too_large"}
MAX_LIMIT = 10_000
MAX_OFFSET = 2**62
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


class ApiError(tornado.web.HTTPError):
    def __init__(self, err: MLTrackError):
        super().__init__(err.http_status, log_message=str(err))  # tornado escapes '%' for its log itself
        self.message = str(err)
        self.code = err.code
        self.items = getattr(err, "items", None)


class BaseHandler(APIHandler):
    auth_resource = "mltrack"

    @property
    def store(self):
        return self.settings["mltrack_store"]

    async def prepare(self):
        if len(self.request.query) > MAX_QUERY:
            raise tornado.web.HTTPError(414, f"the query string is {len(self.request.query)} characters long; the "
                                             f"limit is {MAX_QUERY}")
        try:
            await super().prepare()
        except tornado.web.HTTPError as e:  # jupyter_server refuses anonymous requests with 403
            if e.status_code != 403 or getattr(self, "_jupyter_current_user", None) is not None or not self.check_host():
                raise
            self.current_user = None
        if self.current_user is None:  # no or wrong credentials: say how to authenticate (403 is for the role)
            raise tornado.web.HTTPError(401, "authentication required: send 'Authorization: token <token>'")

    async def call(self, fn: Callable, *args, write: bool = False, **kw):
        pool = self.settings["mltrack_write_pool" if write else "mltrack_read_pool"]
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, lambda: fn(*args, **kw))
        except MLTrackError as e:
            raise ApiError(e) from None

    def send(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(encode_json(jsonable(obj)))

    def send_bytes(self, body: bytes, status: int = 200) -> None:
        """Send JSON already encoded (by :func:`encode_json` on a worker thread)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        err: dict[str, Any]
        if isinstance(exc, ApiError):
            err = {"code": exc.code, "message": exc.message}
            if exc.items:
                err["items"] = exc.items
        elif isinstance(exc, tornado.web.HTTPError):
            msg = exc.log_message % exc.args if exc.log_message and exc.args else (exc.log_message or exc.reason)
            err = {"code": _CODES.get(status_code, "error"), "message": msg or self._reason}
        else:
            err = {"code": "internal", "message": "internal server error; the server log has the details"}
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'token realm="jupyter_mltrack"')
        if status_code == 405:
            cls = type(self)
            self.set_header("Allow", ", ".join(
                m for m in _METHODS if getattr(cls, m.lower()) is not getattr(tornado.web.RequestHandler, m.lower())))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": err}))

    # -- argument helpers -------------------------------------------------------------------------------------------

    def query(self, name: str) -> str | None:
        """A query parameter's last value exactly as sent (tornado's own readers turn control characters into
        spaces and strip them, so ``offset=%1B8`` would read as 8): control characters are refused."""
        values = self.request.query_arguments.get(name)
        if not values:
            return None
        try:
            v = values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(InvalidInput(f"query parameter {name!r} is not UTF-8")) from None
        if any(ord(c) < 32 or ord(c) == 127 for c in v):
            raise ApiError(InvalidInput(f"query parameter {name!r} holds a control character"))
        return v

    def int_arg(self, name: str, default: int | None, lo: int = 0, hi: int | None = None) -> int | None:
        raw = self.query(name)
        if raw is None:
            return default
        try:
            if not raw.strip().lstrip("+-").isdigit() or len(raw) > 30:
                raise ValueError
            v = int(raw)
        except ValueError:
            raise ApiError(InvalidInput(f"query parameter {name!r} must be an integer, not {raw!r}")) from None
        if v < lo or (hi is not None and v > hi):
            raise ApiError(InvalidInput(f"query parameter {name!r} must be between {lo} and {hi}, not {v}"))
        return v

    def str_arg(self, name: str) -> str | None:
        v = self.query(name)
        return v if v not in (None, "") else None

    def ids_arg(self, name: str) -> list[str] | None:
        """A comma-separated list of 1 to MAX_IDS run ids (None when the parameter is absent)."""
        raw = self.query(name)
        if raw is None:
            return None
        ids = raw.split(",")
        if len(ids) > MAX_IDS:
            raise ApiError(InvalidInput(f"query parameter {name!r} lists {len(ids)} run ids; the limit is {MAX_IDS}"))
        try:
            return [run_id(i, f"query parameter {name!r}") for i in ids]
        except InvalidInput as e:
            raise ApiError(e) from None

    def json_body(self) -> Any:
        ctype = (self.request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        body = self.request.body
        if not body:
            raise ApiError(InvalidInput("the request body is empty"))
        if ctype in ("application/msgpack", "application/x-msgpack"):
            import msgpack

            try:  # map keys must be strings (strict_map_key)
                return msgpack.unpackb(body, raw=False, strict_map_key=True)
            except Exception as e:
                raise ApiError(InvalidInput(f"the body is not valid msgpack with string keys: {e}")) from None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(InvalidInput(f"the body is not valid JSON: {e}")) from None
        except RecursionError:
            raise ApiError(InvalidInput("the body nests too deeply to be a batch")) from None


class StatusHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        rev = await self.call(self.store.revision)
        self.send({"version": __version__, "backend": self.store.backend, "revision": rev})


class ProjectsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"projects": await self.call(self.store.list_projects)})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_body()
        if not isinstance(body, dict):
            raise ApiError(InvalidInput('expected {"name": "...", "description": "..."}'))
        store = self.store

        def work():  # validated as a batch's projects item: one set of rules
            store.write_batch({"projects": [body]})
            return store.project_named(body["name"])

        self.send(await self.call(work, write=True), 201)


class ExperimentsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"experiments": await self.call(self.store.list_experiments, self.str_arg("project"))})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_body()
        if not isinstance(body, dict):
            raise ApiError(InvalidInput('expected {"project": "...", "name": "...", "description": "..."}'))
        store = self.store

        def work():  # validated as a batch's experiments item: one set of rules
            store.write_batch({"experiments": [body]})
            return store.experiment_named(body["project"], body["name"])

        self.send(await self.call(work, write=True), 201)


class RunsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        limit = self.int_arg("limit", 100, 0, MAX_LIMIT)
        offset = self.int_arg("offset", 0, 0, MAX_OFFSET)
        view = self.str_arg("view") or "full"
        if view not in ("full", "table"):
            raise ApiError(InvalidInput(f"query parameter 'view' must be 'full' or 'table', not {view!r:.40}"))
        runs_json, total = await self.call(
            self.store.search_runs_json,
            project=self.str_arg("project"), experiment=self.str_arg("experiment"),
            campaign=self.str_arg("campaign"), filter=self.str_arg("filter"), order_by=self.str_arg("order_by"),
            limit=limit, offset=offset, view=view,
        )
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish('{"runs":%s,"total":%d,"limit":%d,"offset":%d}' % (runs_json, total, limit, offset))


class ColumnsHandler(BaseHandler):
    """The param, metric and tag keys used by the runs in scope (column choosers)."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send(await self.call(
            self.store.run_columns, project=self.str_arg("project"), experiment=self.str_arg("experiment"),
            campaign=self.str_arg("campaign"), filter=self.str_arg("filter")))


class RunHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send(await self.call(self.store.get_run, run_id))


class SeriesHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str):
        name = self.str_arg("name")
        if name is None:
            raise ApiError(InvalidInput("query parameter 'name' (the metric name) is required"))
        context = self.str_arg("context")
        max_points = self.int_arg("max_points", None, 3, 1_000_000)
        store, binary = self.store, wants_msgpack(self.request.headers.get("Accept"))

        def work() -> bytes:  # reading, listing and encoding all happen off the event loop
            s = store.get_series(run_id, name, context, max_points)
            if binary:  # raw little-endian arrays (series_format.py)
                return encode_msgpack(packed_series(s))
            s.update(series_lists(s.pop("points")))
            return encode_json(s)

        send_series(self, await self.call(work), binary)


def send_series(handler: BaseHandler, body: bytes, binary: bool) -> None:
    """The answer of a series route: JSON, or msgpack when ``Accept`` asked for it (``Vary: Accept``)."""
    handler.set_header("Vary", "Accept")
    if not binary:
        return handler.send_bytes(body)
    handler.finish(body, set_content_type=MSGPACK)  # APIHandler.finish sets the Content-Type


class SeriesManyHandler(BaseHandler):
    """One metric of many runs, for overlay charts."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        name = self.str_arg("name")
        run_ids = self.ids_arg("runs")
        if name is None or run_ids is None:
            raise ApiError(InvalidInput("query parameters 'runs' (comma-separated run ids) and 'name' are required"))
        max_points = self.int_arg("max_points", None, 3, 1_000_000)
        lo, hi = self.int_arg("step_min", None, INT64_MIN, INT64_MAX), self.int_arg("step_max", None, INT64_MIN, INT64_MAX)
        step_range = None
        if lo is not None or hi is not None:
            step_range = (INT64_MIN if lo is None else lo, INT64_MAX if hi is None else hi)
        store, context = self.store, self.str_arg("context")
        binary = wants_msgpack(self.request.headers.get("Accept"))

        def work() -> bytes:
            out = store.get_series_many(run_ids, name, context, max_points, step_range)
            if binary:
                return encode_msgpack({"series": [packed_series(s) for s in out]})
            for s in out:
                s.update(series_lists(s.pop("points")))
            return encode_json({"series": out})

        send_series(self, await self.call(work), binary)


class DiffHandler(BaseHandler):
    """What differs between two runs (params, metrics, tags, notebook cells)."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        a, b = self.str_arg("a"), self.str_arg("b")
        if a is None or b is None:
            raise ApiError(InvalidInput("query parameters 'a' and 'b' (two run ids) are required"))

        def work():
            from ..report.diff import run_diff

            store = self.store
            return run_diff(store.get_run(a), store.get_run(b), store.read_artifact_file)

        self.send(await self.call(work))


class ReportHandler(BaseHandler):
    """A standalone HTML report of one or more runs (the same as ``mlt.export_report``), as a download."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        ids = self.ids_arg("runs")
        if ids is None:
            raise ApiError(InvalidInput("query parameter 'runs' (comma-separated run ids) is required"))
        title = self.str_arg("title")

        def work():
            from ..report.export import build_report

            store = self.store
            run_dicts = [store.get_run(i) for i in ids]

            def series_of(run_id, name, ctx):
                try:
                    return store.get_series(run_id, name, ctx, 2000)
                except MLTrackError:
                    return None

            return build_report(run_dicts, store.read_artifact_file, series_of, title)

        body = await self.call(work)
        name = (f"mltrack-{ids[0]}" if len(ids) == 1 else f"mltrack-{len(ids)}-runs") + ".html"
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        disp = "attachment" if (self.str_arg("download") or "1") in ("1", "true") else "inline"
        self.set_header("Content-Disposition", f"{disp}; filename={name}")
        # the report embeds plotly.js and runs it: keep it off the Jupyter origin's privileges
        self.set_header("Content-Security-Policy", "sandbox allow-scripts allow-popups")
        self.finish(body, set_content_type="text/html; charset=UTF-8")  # APIHandler.finish would say JSON


class ModelsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"models": await self.call(self.store.list_models, self.str_arg("project"))})


class ArtifactFileHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, artifact_id: str, path: str):
        f = await self.call(self.store.artifact_file, int(artifact_id), path)
        media = f["media_type"] or "application/octet-stream"
        try:  # stored before media types were checked: never let one break the response headers
            check_media_type("media_type", media)
        except InvalidInput:
            media = "application/octet-stream"
        if media == "application/x-ipynb+json":
            media = "application/json"
        self.set_header("Content-Type", media)
        self.set_header("X-Content-Type-Options", "nosniff")
        # artifact bytes are user content: never let them run script with the Jupyter origin
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
        name = path.rsplit("/", 1)[-1]
        disp = "attachment" if self.str_arg("download") in ("1", "true") else "inline"
        self.set_header("Content-Disposition", f"{disp}; filename*=UTF-8''{quote(name)}")
        loop = asyncio.get_running_loop()
        pool = self.settings["mltrack_read_pool"]
        try:
            fh = await loop.run_in_executor(pool, open, f["blob_path"], "rb")
        except FileNotFoundError:
            raise ApiError(NotFound(f"the bytes of {path!r} of artifact {artifact_id} are missing from the store")) from None
        self.set_header("Content-Length", str(os.fstat(fh.fileno()).st_size))  # the bytes sent, whatever was said
        try:
            while True:
                chunk = await loop.run_in_executor(pool, fh.read, 1 << 20)
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
        finally:
            fh.close()
        self.finish(set_content_type=media)  # APIHandler.finish would say JSON (an empty file writes no chunk)


class BatchHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_body()
        written = await self.call(self.store.write_batch, body, write=True)
        self.send({"written": written})


class BlobHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def put(self, sha256: str):
        sha, size = await self.call(self.store.blobs.put_bytes, self.request.body, sha256, write=False)
        self.send({"sha256": sha, "size": size}, 201)


class GcHandler(BaseHandler):
    """Reclaim space (``Store.gc``): blobs no artifact references and abandoned temporary uploads."""

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_body() if self.request.body.strip() else {}
        if not isinstance(body, dict):
            raise ApiError(InvalidInput('expected {"grace_hours": number, "dry_run": boolean} or an empty body'))
        unknown = sorted(set(body) - {"grace_hours", "dry_run"})
        if unknown:
            raise ApiError(InvalidInput(f"unknown field {unknown[0]!r}; expected grace_hours, dry_run"))
        kw = {}
        if "grace_hours" in body:
            g = body["grace_hours"]
            if isinstance(g, bool) or not isinstance(g, (int, float)) or not math.isfinite(g) or g < 0:
                raise ApiError(InvalidInput(f"grace_hours must be a number of hours ≥ 0, not {g!r}"))
            kw["grace_hours"] = float(g)
        if "dry_run" in body:
            if not isinstance(body["dry_run"], bool):
                raise ApiError(InvalidInput(f"dry_run must be true or false, not {body['dry_run']!r}"))
            kw["dry_run"] = body["dry_run"]
        self.send(await self.call(self.store.gc, **kw, write=True))


class OpenAPIHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        from .openapi import document

        self.send(document(__version__))


class StaticHandler(JupyterHandler):
    """plotly.js for the chart widgets, from the installed plotly package (no CDN: works offline)."""

    auth_resource = "mltrack"

    _FILES = {"plotly.min.js": ("plotly", "package_data/plotly.min.js")}

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str):
        if name not in self._FILES:
            raise tornado.web.HTTPError(404, f"no static file {name!r}")
        import importlib.resources

        pkg, rel = self._FILES[name]
        path = importlib.resources.files(pkg).joinpath(rel)
        data = await asyncio.get_running_loop().run_in_executor(self.settings["mltrack_read_pool"], path.read_bytes)
        self.set_header("Content-Type", "text/javascript; charset=UTF-8")
        self.set_header("Cache-Control", "private, max-age=86400")
        self.finish(data)


class UnknownRouteHandler(BaseHandler):
    """Anything else under mltrack/api/: a JSON 404 (after authentication, so nothing is revealed)."""

    async def _no_endpoint(self, path: str):
        raise ApiError(NotFound(f"no such endpoint: mltrack/api/{path}; see mltrack/api/openapi.json"))

    # one decorated function per method: @authorized keeps the action of the first request its function served
    get, post, put, delete, patch = [tornado.web.authenticated(authorized(f)) for f in [_no_endpoint] * 5]


_P = r"mltrack/api/"
ROUTES = [
    (_P + r"status", StatusHandler),
    (_P + r"projects", ProjectsHandler),
    (_P + r"experiments", ExperimentsHandler),
    (_P + r"runs", RunsHandler),
    (_P + r"columns", ColumnsHandler),
    (_P + r"runs/(?P<run_id>[A-Za-z0-9_-]{1,32})", RunHandler),
    (_P + r"runs/(?P<run_id>[A-Za-z0-9_-]{1,32})/metrics", SeriesHandler),
    (_P + r"metrics", SeriesManyHandler),
    (_P + r"models", ModelsHandler),
    (_P + r"diff", DiffHandler),
    (_P + r"report", ReportHandler),
    (_P + r"artifacts/(?P<artifact_id>[0-9]{1,18})/files/(?P<path>.+)", ArtifactFileHandler),
    (_P + r"batch", BatchHandler),
    (_P + r"blobs/(?P<sha256>[0-9a-f]{64})", BlobHandler),
    (_P + r"gc", GcHandler),
    (_P + r"openapi\.json", OpenAPIHandler),
    (_P + r"(?P<path>.*)", UnknownRouteHandler),
]

#: Not part of the REST API (and of openapi.json): files the widgets load.
STATIC_ROUTES = [(r"mltrack/static/(?P<name>[A-Za-z0-9_.-]+)", StaticHandler)]
