"""The team workspace from Python and the ``mltrack`` command: users, API keys, project members.

On a database store (a SQLite file, PostgreSQL) these act as the store's administrator — whoever can open the
database can do anything to it; through a server (``http(s)://…``, with a Jupyter token or an API key) they act as
the caller, under the caller's role, over the REST routes of docs/rest-api.md.
"""

from __future__ import annotations

from urllib.parse import urlencode

from .tracking import get_client


def _local():
    """The store of a database backend, or None when the client talks to a server."""
    backend = get_client().backend
    return backend.store if backend.kind == "local" else None


def _rest(method: str, path: str, **kw):
    return get_client().backend.call(method, path, **kw)


def add_user(name: str, admin: bool = False, email: str = "") -> dict:
    store = _local()
    if store is not None:
        return store.add_user(name, admin, email)
    return _rest("POST", "users", json={"name": name, "admin": admin, "email": email})


def list_users() -> list[dict]:
    store = _local()
    return store.list_users() if store is not None else _rest("GET", "users")["users"]


def create_key(user: str | None = None, label: str = "", expires_days: float | None = None) -> dict:
    """A new API key (``key`` holds the secret: keep it, it is not shown again). Through a server, ``user``
    defaults to the caller."""
    store = _local()
    if store is not None:
        if not user:
            raise ValueError("name the user the key is for")
        return store.create_key(user, label, expires_days)
    body: dict = {"label": label}
    if user:
        body["user"] = user
    if expires_days is not None:
        body["expires_days"] = expires_days
    return _rest("POST", "keys", json=body)


def list_keys(user: str | None = None) -> list[dict]:
    store = _local()
    if store is not None:
        if not user:
            raise ValueError("name the user whose keys to list")
        return store.list_keys(user)
    return _rest("GET", "keys" + (f"?{urlencode({'user': user})}" if user else ""))["keys"]


def revoke_key(key_id: int) -> dict:
    store = _local()
    return store.revoke_key(int(key_id)) if store is not None else _rest("DELETE", f"keys/{int(key_id)}")


def set_member(project: str, user: str, role: str) -> dict:
    store = _local()
    if store is not None:
        return store.set_member(project, user, role)
    return _rest("PUT", "members", json={"project": project, "user": user, "role": role})


def list_members(project: str) -> list[dict]:
    store = _local()
    if store is not None:
        return store.list_members(project)
    return _rest("GET", "members?" + urlencode({"project": project}))["members"]


def remove_member(project: str, user: str) -> None:
    store = _local()
    if store is not None:
        return store.remove_member(project, user)
    _rest("DELETE", "members?" + urlencode({"project": project, "user": user}))
