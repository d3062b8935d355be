"""REST handlers — thin: parse the request, call the store core on a worker thread, answer JSON.

Every handler requires an authenticated user (``@tornado.web.authenticated``) and authorization on the resource
``mltrack`` (``@authorized``: GET needs "read", POST/PUT "write"). Domain errors become JSON 4xx
(``{"error": {"code", "message"}}``); database calls never run on the event loop: reads go to a small thread pool,
writes to a single writer thread, so the server's writes to SQLite are serialised and never wait on each other.
"""

from __future__ import annotations

import asyncio
import math
from urllib.parse import quote

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler

from ..version import __version__
from ..core.errors import InvalidInput, MLTrackError, NotFound
from ..core.validation import INT64_MAX, INT64_MIN, check_media_type
from ..core.wire import encode_json, series_lists
from .base import MAX_LIMIT, MAX_OFFSET, ApiError, BaseHandler
from .lifecycle import LIFECYCLE_ROUTES
from .jobs import JOB_ROUTES
from .serving import SERVING_ROUTES
from .ab import AB_ROUTES
from .figures import FIGURE_ROUTES
from .describe import DESCRIBE_ROUTES
from ..report.charts import PLOTLY_MODES
from .team import TEAM_ROUTES
from .series_format import MSGPACK, encode_msgpack, packed_series, wants_msgpack

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
        self.send({"projects": await self.call(self.store.list_projects, self.actor)})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_object('{"name": "...", "description": "..."}')
        store, actor = self.store, self.actor

        def work():  # validated as a batch's projects item: one set of rules
            store.write_batch({"projects": [body]}, actor)
            return store.project_named(body["name"], actor)

        self.send(await self.call(work, write=True), 201)


class ExperimentsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"experiments": await self.call(self.store.list_experiments, self.str_arg("project"), self.actor)})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_object('{"project": "...", "name": "...", "description": "..."}')
        store, actor = self.store, self.actor

        def work():  # validated as a batch's experiments item: one set of rules
            store.write_batch({"experiments": [body]}, actor)
            return store.experiment_named(body["project"], body["name"], actor)

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
            limit=limit, offset=offset, view=view, actor=self.actor,
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
            campaign=self.str_arg("campaign"), filter=self.str_arg("filter"), actor=self.actor))


class RunHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send(await self.call(self.store.get_run, run_id, self.actor))

    @tornado.web.authenticated
    @authorized
    async def patch(self, run_id: str):
        """Change the run's description, name and tags (core/describe.py: run_edit_batch); answers the run."""
        body = self.json_body()
        self.send(await self.call(self.store.edit_run, run_id, body, self.actor, write=True))


class _SeriesAnswer(BaseHandler):
    """A route answering series: no ETag. Tornado hashes every answer for one (0.16 ms of a 2 ms read for a
    10k-point series, 240 KB) and, for a request that matches it, still builds the whole answer before sending a
    304: it saves bytes on the wire, not work."""

    def compute_etag(self) -> None:
        return None


class SeriesHandler(_SeriesAnswer):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str):
        name = self.str_arg("name")
        if name is None:
            raise ApiError(InvalidInput("query parameter 'name' (the metric name) is required"))
        context = self.str_arg("context")
        max_points = self.int_arg("max_points", None, 3, 1_000_000)
        store, actor, binary = self.store, self.actor, wants_msgpack(self.request.headers.get("Accept"))

        def work() -> bytes:  # reading, listing and encoding all happen off the event loop
            s = store.get_series(run_id, name, context, max_points, actor)
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


class SeriesManyHandler(_SeriesAnswer):
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
        store, actor, context = self.store, self.actor, self.str_arg("context")
        binary = wants_msgpack(self.request.headers.get("Accept"))

        def work() -> bytes:
            out = store.get_series_many(run_ids, name, context, max_points, step_range, actor)
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

            store, actor = self.store, self.actor
            return run_diff(store.get_run(a, actor), store.get_run(b, actor),
                            lambda aid, path: store.read_artifact_file(aid, path, actor))

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
        plotly = self.str_arg("plotly") or "cdn"
        if plotly not in PLOTLY_MODES:
            raise ApiError(InvalidInput(f"query parameter 'plotly' must be one of {', '.join(PLOTLY_MODES)}, "
                                        f"not {plotly!r:.40}"))

        def work():
            from ..report.export import build_report

            store, actor = self.store, self.actor
            run_dicts = [store.get_run(i, actor) for i in ids]

            def series_of(run_id, name, ctx):
                try:
                    return store.get_series(run_id, name, ctx, 2000, actor)
                except MLTrackError:
                    return None

            return build_report(run_dicts, lambda aid, path: store.read_artifact_file(aid, path, actor), series_of,
                                title, lambda run_id: store.list_figures(run_id, actor), plotly=plotly)

        body = await self.call(work)
        name = (f"mltrack-{ids[0]}" if len(ids) == 1 else f"mltrack-{len(ids)}-runs") + ".html"
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        disp = "attachment" if (self.str_arg("download") or "1") in ("1", "true") else "inline"
        self.set_header("Content-Disposition", f"{disp}; filename={name}")
        # the report runs plotly.js (embedded or from its CDN): keep it off the Jupyter origin's privileges
        self.set_header("Content-Security-Policy", "sandbox allow-scripts allow-popups")
        self.finish(body, set_content_type="text/html; charset=UTF-8")  # APIHandler.finish would say JSON


class ArtifactFileHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, artifact_id: str, path: str):
        f = await self.call(self.store.artifact_file, int(artifact_id), path, self.actor)
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
        try:  # the bytes from the store's blobs (a folder or an object store), never a path the client names
            fh, size = await loop.run_in_executor(pool, self.store.blobs.open_sized, f["sha256"])
        except NotFound:
            raise ApiError(NotFound(f"the bytes of {path!r} of artifact {artifact_id} are missing from the store")) from None
        self.set_header("Content-Length", str(size))  # the bytes sent, whatever was said
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
        written = await self.call(self.store.write_batch, body, self.actor, write=True)
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
        body = self.body_fields((), ("grace_hours", "dry_run"),
                                '{"grace_hours": number, "dry_run": boolean} or an empty body', allow_empty=True)
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
        self.send(await self.call(self.store.gc, **kw, actor=self.actor, write=True))


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
    (_P + r"diff", DiffHandler),
    (_P + r"report", ReportHandler),
    (_P + r"artifacts/(?P<artifact_id>[0-9]{1,18})/files/(?P<path>.+)", ArtifactFileHandler),
    (_P + r"batch", BatchHandler),
    (_P + r"blobs/(?P<sha256>[0-9a-f]{64})", BlobHandler),
    (_P + r"gc", GcHandler),
    (_P + r"openapi\.json", OpenAPIHandler),
    *LIFECYCLE_ROUTES,
    *TEAM_ROUTES,
    *JOB_ROUTES,
    *SERVING_ROUTES,
    *AB_ROUTES,
    *FIGURE_ROUTES,
    *DESCRIBE_ROUTES,
    (_P + r"(?P<path>.*)", UnknownRouteHandler),
]

#: Not part of the REST API (and of openapi.json): files the widgets load.
STATIC_ROUTES = [(r"mltrack/static/(?P<name>[A-Za-z0-9_.-]+)", StaticHandler)]
