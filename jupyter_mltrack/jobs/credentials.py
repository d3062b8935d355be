"""A job's process and a Dask task reach the store without its password in their environment or arguments.

A store on PostgreSQL is named by a URL that may hold the database password. What a job runs is user code, and
what a Dask task carries goes through the cluster's scheduler (which may log it), so neither gets that URL whole:

- a **local job's process** gets ``MLTRACK_URI`` without the password, and the password in a libpq password file
  (``PGPASSFILE``, mode 0600) inside the attempt's private temporary folder, which is deleted when the attempt ends;
  libpq (under psycopg) reads it when it connects. The job's code never sees the password in ``os.environ``.
- a **Dask task** carries the URL without its password; the worker connects with its own credentials — libpq's
  ``~/.pgpass``, ``PGPASSFILE`` or ``PGPASSWORD`` in the worker's environment, or the worker's own ``MLTRACK_URI``
  naming the same database with its password (:func:`worker_url`) — as a cluster's workers are given credentials
  by whoever runs the cluster, not by each task.

SQLite stores and server (``http``) stores have no password; their URLs pass unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path


def split_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password (None when it has none or is no database server's URL)."""
    if "://" not in url or url.startswith(("sqlite:", "http://", "https://")):
        return url, None
    from sqlalchemy.engine import URL, make_url

    u = make_url(url)
    if u.password is None:
        return url, None
    bare = URL.create(u.drivername, u.username, None, u.host, u.port, u.database, u.query)
    return bare.render_as_string(hide_password=False), str(u.password)


def _pgpass_field(value: object) -> str:
    return "*" if value in (None, "") else str(value).replace("\\", "\\\\").replace(":", "\\:")


def write_password_file(url: str, password: str, folder: str | os.PathLike) -> Path:
    """A libpq password file for ``url``'s server, database and user, readable by its owner only."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    line = ":".join(_pgpass_field(v) for v in (u.host or "localhost", u.port or 5432, u.database, u.username,
                                               password))
    path = Path(folder) / ".pgpass"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(line + "\n")
    return path


def process_store_env(url: str, folder: str | os.PathLike) -> dict[str, str]:
    """The environment entries that let a job's process open the store at ``url``: ``MLTRACK_URI`` without the
    password and, when there is one, ``PGPASSFILE`` in ``folder``."""
    safe, password = split_password(url)
    env = {"MLTRACK_URI": safe}
    if password is not None:
        env["PGPASSFILE"] = str(write_password_file(safe, password, folder))
    return env


def worker_url(task_url: str) -> str:
    """The URL a Dask worker opens for a task's (password-less) store URL: the worker's own ``MLTRACK_URI`` when it
    names the same database (with the worker's password), else the task's URL (libpq finds the password)."""
    own = os.environ.get("MLTRACK_URI") or ""
    if own and split_password(own)[0] == task_url:
        return own
    return task_url
