"""REST handlers of deployments, and the authenticated front door of the model services.

- ``GET mltrack/api/deployments?project=``, ``POST mltrack/api/deployments`` (``{"name", "project", "model":
  "house@champion"}``, or ``{"name", "project", "kind": "ab_test", "models": {…}, "strategy", "options"}``),
  ``GET|DELETE mltrack/api/deployments/{name}``, ``POST mltrack/api/deployments/{name}/stop|start|restart``: the
  process manager (``jupyter_mltrack/serving/manager.py``) on a pool of its own — starting a service waits for its
  ``/health``, which must hold neither the store's write thread nor its read threads.
- ``POST|GET mltrack/serve/{name}/predict`` (and ``feedback``, ``info``, ``health``): authenticated like every
  route; the caller must be able to read the deployment's project (a viewer may predict, a contributor deploys);
  the request is proxied to the service's loopback port with tornado's non-blocking HTTP client and its status and
  body answered as they come. Deployment names are unique in the store, so ``{name}`` alone finds the project.

A deployment's JSON is its row (``core/deployments.py``) plus ``url`` (this server's path of the service:
``{base_url}mltrack/serve/{name}``) and ``service_url`` (the service's own loopback address while it runs).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import tornado.web
from jupyter_server.auth.decorator import authorized
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ..core.errors import InvalidInput, MLTrackError
from ..core.validation import DEPLOYMENT_KINDS
from .base import ApiError, BaseHandler

_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})"
#: Seconds a caller's right to call a deployment (and its port) is remembered by the front door.
ROUTE_TTL = 2.0
PROXY_TIMEOUT = 300.0
_FORWARD = ("Content-Type", "X-MLTrack-Key", "Accept")


class Unavailable(MLTrackError):
    """The deployment exists but its service is not running (503)."""

    code = "unavailable"
    http_status = 503


class DeploymentsBase(BaseHandler):
    @property
    def manager(self):
        return self.settings["mltrack_deployments"]

    async def manage(self, fn: Callable, *args) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.settings["mltrack_serving_pool"], lambda: fn(*args))
        except MLTrackError as e:
            raise ApiError(e) from None

    async def named(self, name: str, project: str | None) -> dict:
        """The deployment ``name`` the caller may read — in ``project`` (``?project=``) when given."""
        from ..core.errors import NotFound

        d = await self.manage(self.manager.rows.get, name, self.actor)
        if project not in (None, "") and project != d["project"]:
            raise ApiError(NotFound(f"no deployment named {name!r} in project {project!r}"))
        return d

    def described(self, d: dict) -> dict:
        base = self.settings.get("base_url") or "/"
        return {**d, "url": f"{base}mltrack/serve/{d['name']}", "service_url": self.manager.url(d)}


def spec_from_body(body: Any):
    """The service spec a ``POST deployments`` body describes (checked: each mistake names its field)."""
    from ..serving.spec import ServiceSpec

    if not isinstance(body, dict):
        raise InvalidInput('expected {"name": "...", "project": "...", "model": "house@champion"}')
    known = {"name", "project", "model", "kind", "models", "strategy", "options", "poll_interval"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    for field in ("name", "project"):
        if field not in body:
            raise InvalidInput(f"field {field!r} is required")
    kind = body.get("kind", "model")
    if kind not in DEPLOYMENT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DEPLOYMENT_KINDS)}, not {kind!r:.60}")
    extra = {k: body[k] for k in ("poll_interval",) if k in body}
    if kind == "model":
        if "model" not in body:
            raise InvalidInput("field 'model' is required: the model reference, e.g. 'house@champion'")
        if "models" in body or "strategy" in body:
            raise InvalidInput("fields 'models' and 'strategy' are for kind 'ab_test'; kind 'model' takes 'model'")
        return ServiceSpec(name=body["name"], project=body["project"], kind="model", models={body["model"]: 1.0},
                           options=body.get("options") or {}, **extra).validate()
    if "models" not in body:
        raise InvalidInput("field 'models' is required for kind 'ab_test': {model reference: weight, …}")
    if "model" in body:
        raise InvalidInput("field 'model' is for kind 'model'; an A/B test takes 'models'")
    spec = ServiceSpec(name=body["name"], project=body["project"], kind="ab_test", models=body["models"],
                       strategy=body.get("strategy"), options=body.get("options") or {}, **extra).validate()
    try:
        from ..serving.ab import check_ab_options  # the A/B test's own checks, where they exist
    except ImportError:
        return spec
    check_ab_options(spec.strategy, spec.models, dict(spec.options))
    return spec


class DeploymentsHandler(DeploymentsBase):
    """``GET deployments?project=`` lists deployments with their status; ``POST deployments`` deploys."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        ds = await self.manage(self.manager.list, self.str_arg("project"), self.actor)
        self.send({"deployments": [self.described(d) for d in ds]})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        try:
            spec = spec_from_body(self.json_body())
        except MLTrackError as e:
            raise ApiError(e) from None
        user = self.actor.name if self.actor is not None else ""
        d = await self.manage(self.manager.deploy, spec, self.actor, user)
        self.send(self.described(d), 201)


class DeploymentHandler(DeploymentsBase):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str):
        await self.named(name, self.str_arg("project"))
        self.send(self.described(await self.manage(self.manager.get, name, self.actor)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str):
        await self.named(name, self.str_arg("project"))
        await self.manage(self.manager.delete, name, self.actor)
        self.settings.get("mltrack_serve_routes", {}).clear()
        self.set_status(204)
        self.finish()


class DeploymentStopHandler(DeploymentsBase):
    """``POST deployments/{name}/stop`` (and, as subclasses, ``start`` and ``restart``)."""

    action = "stop"

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str):
        await self.named(name, self.str_arg("project"))
        d = await self.manage(getattr(self.manager, self.action), name, self.actor)
        self.settings.get("mltrack_serve_routes", {}).clear()
        self.send(self.described(d))


class DeploymentStartHandler(DeploymentStopHandler):
    action = "start"


class DeploymentRestartHandler(DeploymentStopHandler):
    action = "restart"


class ServeHandler(DeploymentsBase):
    """``POST mltrack/serve/{name}/predict|feedback``, ``GET mltrack/serve/{name}/info|health``: proxied to the
    deployment's service."""

    async def _route(self, name: str, fresh: bool = False) -> tuple[str, int]:
        cache: dict = self.settings.setdefault("mltrack_serve_routes", {})
        key = (name, self.actor.name if self.actor is not None else None)
        hit = cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] > now and not fresh:
            return hit[0]
        d = await self.manage(self.manager.rows.get, name, self.actor, "viewer", "calling a deployment")
        if d["status"] != "running" or not d["port"]:
            cache.pop(key, None)
            raise ApiError(Unavailable(f"deployment {name!r} is {d['status']}: start it first"
                                       + (f" ({d['error'][:300]})" if d["error"] else "")))
        target = (d["host"] or "127.0.0.1", d["port"])
        if len(cache) > 10_000:
            cache.clear()
        cache[key] = (target, now + ROUTE_TTL)
        return target

    async def _proxy(self, name: str, endpoint: str) -> None:
        client: AsyncHTTPClient = self.settings["mltrack_serve_client"]
        headers = {h: self.request.headers[h] for h in _FORWARD if h in self.request.headers}
        method = self.request.method or "GET"
        body = self.request.body if method == "POST" else None
        for attempt in (0, 1):
            host, port = await self._route(name, fresh=attempt == 1)
            req = HTTPRequest(f"http://{host}:{port}/{endpoint}", method=method, headers=headers, body=body,
                              request_timeout=PROXY_TIMEOUT, follow_redirects=False, decompress_response=False,
                              allow_nonstandard_methods=True, streaming_callback=self.write)
            try:
                resp = await client.fetch(req, raise_error=False)
            except OSError:  # the port closed between the lookup and the call: look again once
                resp = None
            if resp is not None and resp.code != 599:
                self.set_status(resp.code)
                self.set_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
                self.finish()
                return
            self.clear()  # nothing was written: a 599 carries no body
        raise ApiError(Unavailable(f"deployment {name!r} does not answer: its process may have stopped"))

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, endpoint: str):
        if endpoint in ("predict", "feedback"):
            raise tornado.web.HTTPError(405, f"{endpoint} takes POST with a JSON body")
        await self._proxy(name, endpoint)

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, endpoint: str):
        if endpoint in ("info", "health"):
            raise tornado.web.HTTPError(405, f"{endpoint} takes GET")
        await self._proxy(name, endpoint)


def make_client() -> AsyncHTTPClient:
    """The front door's HTTP client: its own instance, with room for many requests in flight at once."""
    return AsyncHTTPClient(force_instance=True, max_clients=256)


_P = r"mltrack/api/"
SERVING_ROUTES = [
    (_P + r"deployments", DeploymentsHandler),
    (_P + r"deployments/" + _NAME, DeploymentHandler),
    (_P + r"deployments/" + _NAME + r"/stop", DeploymentStopHandler),
    (_P + r"deployments/" + _NAME + r"/start", DeploymentStartHandler),
    (_P + r"deployments/" + _NAME + r"/restart", DeploymentRestartHandler),
]
#: The services' front door: outside ``mltrack/api/`` (the service's own API, not the tracking API's), registered
#: beside the static routes; docs/rest-api.md ("Deployments") describes it.
SERVE_ROUTES = [
    (r"mltrack/serve/" + _NAME + r"/(?P<endpoint>predict|feedback|info|health)", ServeHandler),
]
