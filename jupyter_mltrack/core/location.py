"""Where a store lives — a SQLite file, a database server's URL or a Jupyter server — worked out from a URI alone,
without importing the database layer (a kernel that writes through a server never imports SQLAlchemy)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInput

DEFAULT_HOME = "~/.mltrack"


@dataclass(frozen=True)
class Location:
    kind: str  # "sqlite" | "sql" | "http"
    url: str  # SQLAlchemy URL, or the server's base URL for http
    artifacts: str | None  # where artifact files live: a folder or s3://bucket/prefix; None: not given
    path: str | None = None  # the SQLite file


def default_home() -> Path:
    return Path(os.environ.get("MLTRACK_HOME") or DEFAULT_HOME).expanduser()


def resolve_uri(uri: str | os.PathLike | None = None) -> Location:
    """Where a store lives: the argument, else ``MLTRACK_URI``, else ``~/.mltrack/mltrack.db``.

    Accepted: a path to a ``.db`` file or to a folder (``<folder>/mltrack.db``), ``sqlite:///…``, any SQLAlchemy
    URL such as ``postgresql+psycopg://…``, or ``http(s)://host/base/`` (a Jupyter server running the extension;
    clients only). Artifact files live in ``MLTRACK_ARTIFACTS`` (a folder or ``s3://bucket/prefix``), else in
    ``artifacts/`` beside a SQLite file; a database server's store has none without ``MLTRACK_ARTIFACTS`` (every
    client must find the same files: never each its own home folder)."""
    raw = os.fspath(uri) if uri is not None else (os.environ.get("MLTRACK_URI") or "")
    artifacts_env = os.environ.get("MLTRACK_ARTIFACTS")
    if not raw:
        home = default_home()
        p = home / "mltrack.db"
        return Location("sqlite", f"sqlite:///{p}", artifacts_env or str(home / "artifacts"), str(p))
    if raw.startswith(("http://", "https://")):
        return Location("http", raw, None)
    if raw.startswith("sqlite:"):
        path = raw.split(":///", 1)[1] if ":///" in raw else ""
        if not path or path == ":memory:":
            raise InvalidInput("an in-memory SQLite store cannot be shared; give a file path")
        p = Path(path.split("?", 1)[0]).expanduser()
        return Location("sqlite", f"sqlite:///{p}", artifacts_env or str(p.parent / "artifacts"), str(p))
    if "://" in raw:  # a database server: its artifact files must live where every client finds them
        return Location("sql", raw, artifacts_env or None)
    p = Path(raw).expanduser()
    if p.is_dir() or raw.endswith(("/", os.sep)) or (not p.suffix and not p.exists()):
        p = p / "mltrack.db"
    p = p.absolute()
    return Location("sqlite", f"sqlite:///{p}", artifacts_env or str(p.parent / "artifacts"), str(p))


def store_fingerprint(loc: Location) -> str:
    """A short name of the store ``loc`` opens, with no secret in it (a database password is left out): what a
    Jupyter server tells the processes it starts, so that they can tell whether they would open the same store."""
    import hashlib
    from urllib.parse import urlsplit, urlunsplit

    url = loc.url
    if loc.kind == "sql":
        parts = urlsplit(url)
        host = parts.netloc.rsplit("@", 1)
        if len(host) == 2:
            url = urlunsplit(parts._replace(netloc=host[0].split(":", 1)[0] + "@" + host[1]))
    return hashlib.sha256(f"{loc.kind} {url}".encode()).hexdigest()[:32]
