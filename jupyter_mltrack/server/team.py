"""REST handlers of the team workspace: who am I, users (admins), API keys, project members.

Each route is as thin as the others: parse, call the store on a worker thread with the caller's actor, answer
JSON. The rules — who may list users, whose keys one may see, who manages members, the last owner — live in the
store (``core/users.py``, ``core/access.py``). Without access control (single-user mode) there are no users to
speak of: these routes answer 404 with a sentence saying how to switch team mode on, except ``me``.
"""

from __future__ import annotations


import tornado.web
from jupyter_server.auth.decorator import authorized

from ..core.errors import InvalidInput, NotFound
from .base import ApiError, BaseHandler

_TEAM_OFF = ("team mode is off on this server: start it with --MLTrackApp.access_control=True "
             "(c.MLTrackApp.access_control = True) to have users, API keys and project members")


class TeamHandler(BaseHandler):
    def team_only(self) -> None:
        if not self.access_control:
            raise ApiError(NotFound(_TEAM_OFF))


class MeHandler(TeamHandler):
    """Who the caller is in the store, and whether team mode is on."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        a = self.actor
        self.send({"access_control": self.access_control, "user": a.name if a else self.current_user.username,
                   "admin": bool(a.admin) if a else None,
                   "authenticated_by": "api_key" if self._key_authenticated else "jupyter"})


class UsersHandler(TeamHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.team_only()
        self.send({"users": await self.call(self.store.list_users, self.actor)})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        self.team_only()
        b = self.body_fields(("name",), ("admin", "email"), '{"name": "...", "admin": false, "email": "..."}')
        user = await self.call(self.store.add_user, b["name"], b.get("admin", False), b.get("email", ""),
                               self.actor, write=True)
        self.send(user, 201)


class KeysHandler(TeamHandler):
    """``GET keys?user=…`` lists a user's keys (default: the caller's); ``POST keys`` creates one — its secret is
    in the answer, once."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.team_only()
        user = self.str_arg("user") or self.actor.name
        self.send({"keys": await self.call(self.store.list_keys, user, self.actor)})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        self.team_only()
        b = self.body_fields((), ("user", "label", "expires_days"),
                             '{"label": "...", "expires_days": 90, "user": "..."} (all optional)')
        key = await self.call(self.store.create_key, b.get("user") or self.actor.name, b.get("label", ""),
                              b.get("expires_days"), self.actor, write=True)
        self.set_header("Cache-Control", "no-store")  # the secret is in this answer
        self.send(key, 201)


class KeyHandler(TeamHandler):
    @tornado.web.authenticated
    @authorized
    async def delete(self, key_id: str):
        self.team_only()
        self.send(await self.call(self.store.revoke_key, int(key_id), self.actor, write=True))


class MembersHandler(TeamHandler):
    """``GET members?project=…`` lists a project's members; ``PUT members`` adds one or changes their role;
    ``DELETE members?project=…&user=…`` removes one."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        project = self.str_arg("project")
        if project is None:
            raise ApiError(InvalidInput("query parameter 'project' (a project id or name) is required"))
        self.team_only()
        self.send({"members": await self.call(self.store.list_members, project, self.actor)})

    @tornado.web.authenticated
    @authorized
    async def put(self):
        self.team_only()
        b = self.body_fields(("project", "user", "role"), (),
                             '{"project": "...", "user": "...", "role": "owner" | "contributor" | "viewer"}')
        for k in ("project", "user", "role"):
            if not isinstance(b[k], (str, int)) or isinstance(b[k], bool):
                raise ApiError(InvalidInput(f"field {k!r} must be a string, not {b[k]!r:.40}"))
        self.send(await self.call(self.store.set_member, b["project"], b["user"], b["role"], self.actor, write=True))

    @tornado.web.authenticated
    @authorized
    async def delete(self):
        project, user = self.str_arg("project"), self.str_arg("user")
        if project is None or user is None:
            raise ApiError(InvalidInput("query parameters 'project' and 'user' are required"))
        self.team_only()
        await self.call(self.store.remove_member, project, user, self.actor, write=True)
        self.set_status(204)
        self.finish()


_P = r"mltrack/api/"
TEAM_ROUTES = [
    (_P + r"me", MeHandler),
    (_P + r"users", UsersHandler),
    (_P + r"keys", KeysHandler),
    (_P + r"keys/(?P<key_id>[0-9]{1,18})", KeyHandler),
    (_P + r"members", MembersHandler),
]
