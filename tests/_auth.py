"""Users with fixed rights for authentication and authorisation tests: an identity provider that knows three
extra tokens, and an authorizer that grants by user name and records every question it is asked.

    reader-token  → user "reader":  "read" on the resource "mltrack"
    writer-token  → user "writer":  "read" and "write" on "mltrack"
    nobody-token  → user "nobody":  nothing

Any other authenticated user (the server's own token) may do everything, so fixtures can still set data up."""

from __future__ import annotations

import threading

from jupyter_server.auth import Authorizer, IdentityProvider, User

TOKENS = {"reader-token": "reader", "writer-token": "writer", "nobody-token": "nobody"}
RIGHTS = {"reader": {"read"}, "writer": {"read", "write"}, "nobody": set()}
RESOURCE = "mltrack"

#: (user name, action, resource, request path) of every authorisation question, in order
ASKED: list[tuple[str, str, str, str]] = []
_lock = threading.Lock()


def header(user: str) -> dict:
    token = next(t for t, u in TOKENS.items() if u == user)
    return {"Authorization": f"token {token}"}


class TokenUsers(IdentityProvider):
    """The server's token as usual, plus the three tokens above, each naming a fixed user."""

    async def get_user_token(self, handler):
        name = TOKENS.get(self.get_token(handler) or "")
        if name is not None:
            return User(username=name)
        return await super().get_user_token(handler)


class RoleAuthorizer(Authorizer):
    def is_authorized(self, handler, user, action, resource) -> bool:
        with _lock:
            ASKED.append((user.username, action, resource, handler.request.path))
        rights = RIGHTS.get(user.username)
        if rights is None:
            return True
        return resource == RESOURCE and action in rights


def asked_since(n: int) -> list[tuple[str, str, str, str]]:
    with _lock:
        return list(ASKED[n:])


def asked_count() -> int:
    with _lock:
        return len(ASKED)
