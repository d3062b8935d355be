"""What every REST handler shares: authentication (Jupyter's, or an API key in team mode), the caller's store
identity, running store calls off the event loop, JSON answers and errors, and reading arguments.

A request is authenticated by Jupyter (token, login cookie + XSRF, JupyterHub) or — in team mode
(``c.MLTrackApp.access_control = True``) — by an API key, ``Authorization: Bearer mltk_…``, which acts as the key's
user. In team mode every handler passes :attr:`BaseHandler.actor` to the store, which checks the actor's role in
each project it reads or writes (``core/access.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

import tornado.web
from jupyter_server.base.handlers import APIHandler

from ..core.batch import run_id
from ..core.errors import InvalidInput, MLTrackError
from ..core.users import Actor, looks_like_key
from ..core.validation import MAX_IDS, MAX_QUERY
from ..core.wire import encode_json, jsonable

ACTOR_TTL = 30.0  # seconds a request's user is remembered


class _StoreRoles:
    """The authorizer of API-key requests: Jupyter's permissions do not apply to them; the store's roles do."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return True


_STORE_ROLES = _StoreRoles()

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

    #: Who the request acts as in the store (team mode): an :class:`Actor`; None when access control is off.
    actor: Actor | None = None
    _key_authenticated = False

    @property
    def access_control(self) -> bool:
        return bool(self.settings.get("mltrack_access_control"))

    @property
    def authorizer(self):
        # a request authenticated by an API key is no Jupyter user: its roles are the store's, checked there
        if self._key_authenticated:
            return _STORE_ROLES
        return super().authorizer

    async def prepare(self):
        if len(self.request.query) > MAX_QUERY:
            raise tornado.web.HTTPError(414, f"the query string is {len(self.request.query)} characters long; the "
                                             f"limit is {MAX_QUERY}")
        key = self._api_key()
        if key is not None:
            return await self._authenticate_key(key)
        try:
            await super().prepare()
        except tornado.web.HTTPError as e:  # jupyter_server refuses anonymous requests with 403
            if e.status_code != 403 or getattr(self, "_jupyter_current_user", None) is not None or not self.check_host():
                raise
            self.current_user = None
        if self.current_user is None:  # no or wrong credentials: say how to authenticate (403 is for the role)
            raise tornado.web.HTTPError(401, "authentication required: send 'Authorization: token <token>'")
        if self.access_control:
            self.actor = await self._actor_named(self._user_name())

    def _user_name(self) -> str:
        """The store user a Jupyter-authenticated request acts as. An identity provider that knows users (JupyterHub,
        a custom one) names them; Jupyter's own (one shared token or password, whose requests get random anonymous
        names) stands for the one person the server belongs to: ``c.MLTrackApp.token_user``."""
        from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider

        if type(self.identity_provider) in (IdentityProvider, PasswordIdentityProvider):
            return self.settings["mltrack_token_user"]
        return self.current_user.username

    def _api_key(self) -> str | None:
        """The API key of ``Authorization: Bearer mltk_…`` (team mode only; other credentials are Jupyter's)."""
        if not self.access_control:
            return None
        scheme, _, value = (self.request.headers.get("Authorization") or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() in ("bearer", "token") and looks_like_key(value):
            return value
        return None

    async def _authenticate_key(self, key: str) -> None:
        from jupyter_server.auth.identity import User

        if not self.check_host():
            raise tornado.web.HTTPError(403)
        actor = await self.call(self.store.verify_key, key)
        if actor is None:
            raise tornado.web.HTTPError(401, "unknown, revoked or expired API key")
        self._key_authenticated = True
        self.current_user = self._jupyter_current_user = User(username=actor.name)
        self.actor = actor

    async def _actor_named(self, name: str) -> Actor:
        """The store's user for a name Jupyter authenticated (created on first sight), remembered for a while so
        that a request costs no lookup; a change of admin flag shows within :data:`ACTOR_TTL` seconds."""
        cache: dict = self.settings.setdefault("mltrack_actors", {})
        hit = cache.get(name)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        actor = await self.call(self.store.actor, name)
        if len(cache) > 10_000:
            cache.clear()
        cache[name] = (actor, now + ACTOR_TTL)
        return actor

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

    def body_fields(self, required: tuple[str, ...], optional: tuple[str, ...], example: str,
                    allow_empty: bool = False) -> dict[str, Any]:
        """A JSON object body with exactly these fields: an unknown field or a missing required one is refused by
        name (``example`` shows the expected shape); ``allow_empty``: no body at all reads as ``{}``."""
        if allow_empty and not self.request.body.strip():
            return {}
        body = self.json_object(example)
        unknown = sorted(set(body) - set(required) - set(optional))
        if unknown:
            raise ApiError(InvalidInput(f"unknown field {unknown[0]!r}; expected {', '.join(required + optional)}"))
        missing = [k for k in required if k not in body]
        if missing:
            raise ApiError(InvalidInput(f"field {missing[0]!r} is required: {example}"))
        return body

    def json_object(self, example: str) -> dict[str, Any]:
        """A JSON (or msgpack) object body; anything else is refused showing ``example``, the expected shape."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise ApiError(InvalidInput(f"expected {example}"))
        return body

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
