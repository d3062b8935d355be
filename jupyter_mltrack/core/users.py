"""Users and their API keys (team mode).

A user is a name: the one Jupyter's identity provider gives (a JupyterHub user, the token user) — created on first
sight — or one an admin adds (``mltrack users add``). An API key lets a script, a job or CI act as its user:
``Authorization: Bearer mltk_<key id>_<secret>``. The secret is 256 random bits shown once, at creation; the store
keeps only its SHA-256 (a fast hash is right for a random secret: there is no dictionary to try) and compares it
in constant time. A key may expire and may be revoked; a revoked key stays listed with the time it was revoked.

Writes run inside a write transaction (the store's write thread); reads in a read transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from . import schema as S
from .errors import Conflict, InvalidInput, NotFound
from .validation import check_key, check_text

KEY_PREFIX = "mltk_"
SECRET_BYTES = 32  # 256 bits
MAX_KEY_DAYS = 3650
_TOKEN = re.compile(r"^mltk_([0-9]{1,18})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Actor:
    """Who a request or a call acts as: a user of the store. ``admin`` sees and manages everything."""

    user_id: int
    name: str
    admin: bool = False


def _user_row(row) -> dict:
    m = dict(row._mapping)
    m["is_admin"] = bool(m["is_admin"])
    return m


def get_user(conn: Connection, name: str) -> dict:
    row = conn.execute(select(S.users).where(S.users.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user {name!r}")
    return _user_row(row)


def find_user(conn: Connection, name: str) -> dict | None:
    row = conn.execute(select(S.users).where(S.users.c.name == name)).first()
    return None if row is None else _user_row(row)


def list_users(conn: Connection) -> list[dict]:
    return [_user_row(r) for r in conn.execute(select(S.users).order_by(S.users.c.name))]


def add_user(conn: Connection, name: str, admin: bool = False, email: str = "", exist_ok: bool = False) -> dict:
    """Create the user ``name`` (a :class:`Conflict` when it exists, unless ``exist_ok``: then an admin flag given
    here is set on the existing user, never taken away)."""
    name = check_key("user", name)
    email = check_text("email", email or "", 250)
    if not isinstance(admin, bool):
        raise InvalidInput(f"admin must be true or false, not {admin!r}")
    existing = find_user(conn, name)
    if existing is not None:
        if not exist_ok:
            raise Conflict(f"user {name!r} exists already")
        if admin and not existing["is_admin"]:
            conn.execute(update(S.users).where(S.users.c.id == existing["id"]).values(is_admin=True))
            existing["is_admin"] = True
        return existing
    from .db import get_or_insert

    get_or_insert(conn, S.users, {"name": name}, email=email, created_at=time.time(), is_admin=admin)
    return get_user(conn, name)


def set_admin(conn: Connection, name: str, admin: bool) -> dict:
    user = get_user(conn, name)
    conn.execute(update(S.users).where(S.users.c.id == user["id"]).values(is_admin=bool(admin)))
    return {**user, "is_admin": bool(admin)}


def actor_of(user: dict) -> Actor:
    return Actor(user["id"], user["name"], bool(user["is_admin"]))


# -- API keys --------------------------------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(conn: Connection, user: str, label: str = "", expires_days: float | None = None,
               now: float | None = None) -> dict:
    """A new API key for ``user``: its row (``id``, ``label``, ``created_at``, ``expires_at``) plus ``key``, the
    secret token — returned this once and never stored."""
    u = get_user(conn, user)
    label = check_text("label", label or "", 250)
    now = time.time() if now is None else now
    expires_at = None
    if expires_days is not None:
        if isinstance(expires_days, bool) or not isinstance(expires_days, (int, float)) or not (
                0 < expires_days <= MAX_KEY_DAYS):
            raise InvalidInput(f"expires_days must be a number of days in (0, {MAX_KEY_DAYS}], not {expires_days!r}")
        expires_at = now + float(expires_days) * 86400
    secret = secrets.token_urlsafe(SECRET_BYTES)  # 43 characters
    res = conn.execute(S.api_keys.insert().values(user_id=u["id"], key_hash=_digest(secret), label=label,
                                                  created_at=now, expires_at=expires_at))
    key_id = res.inserted_primary_key[0]
    return {"id": key_id, "user": u["name"], "label": label, "created_at": now, "expires_at": expires_at,
            "last_used_at": None, "revoked_at": None, "key": f"{KEY_PREFIX}{key_id}_{secret}"}


def _key_rows(conn: Connection, where) -> list[dict]:
    k, u = S.api_keys, S.users
    q = (select(k.c.id, u.c.name.label("user"), k.c.label, k.c.created_at, k.c.expires_at, k.c.last_used_at,
                k.c.revoked_at).join(u, u.c.id == k.c.user_id).where(where).order_by(k.c.id))
    return [dict(r._mapping) for r in conn.execute(q)]


def list_keys(conn: Connection, user: str) -> list[dict]:
    """The keys of ``user`` (never their secrets), revoked ones included."""
    return _key_rows(conn, S.api_keys.c.user_id == get_user(conn, user)["id"])


def get_key(conn: Connection, key_id: int) -> dict:
    rows = _key_rows(conn, S.api_keys.c.id == key_id)
    if not rows:
        raise NotFound(f"no API key {key_id}")
    return rows[0]


def revoke_key(conn: Connection, key_id: int, now: float | None = None) -> dict:
    """Revoke the key ``key_id`` (at once: the next request with it is refused). Revoking twice is harmless."""
    key = get_key(conn, key_id)
    if key["revoked_at"] is None:
        key["revoked_at"] = time.time() if now is None else now
        conn.execute(update(S.api_keys).where(S.api_keys.c.id == key_id).values(revoked_at=key["revoked_at"]))
    return key


def verify_key(conn: Connection, token: str, now: float | None = None) -> tuple[Actor, int] | None:
    """The user a key token acts as, and the key's id — or None for a malformed, unknown, revoked or expired key
    (which of these is not said: a caller learns nothing about other keys)."""
    m = _TOKEN.match(token or "")
    if m is None:
        return None
    k, u = S.api_keys, S.users
    row = conn.execute(select(k.c.key_hash, k.c.expires_at, k.c.revoked_at, u.c.id, u.c.name, u.c.is_admin)
                       .join(u, u.c.id == k.c.user_id).where(k.c.id == int(m.group(1)))).first()
    if row is None or not hmac.compare_digest(row.key_hash, _digest(m.group(2))):
        return None
    now = time.time() if now is None else now
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return Actor(row.id, row.name, bool(row.is_admin)), int(m.group(1))


def touch_key(conn: Connection, key_id: int, now: float) -> None:
    """Record when a key was last used (at most once a minute per key: the caller throttles)."""
    conn.execute(update(S.api_keys).where(S.api_keys.c.id == key_id).values(last_used_at=now))


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)
