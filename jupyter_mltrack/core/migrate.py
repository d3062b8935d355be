"""Create or upgrade a store's schema with Alembic — safe when several processes open a new store at once.

Opening an up-to-date store costs one query (the fast path below never imports Alembic). Otherwise the upgrade
runs under an exclusive lock: a lock file beside a SQLite database, an advisory lock on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

#: The newest revision in migrations/versions (a test checks it against Alembic's head).
HEAD = "0012"
_PG_LOCK_ID = 0x6D6C74726B  # "mltrk"


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@contextlib.contextmanager
def _exclusive(engine: Engine, loc):
    if loc is not None and loc.kind == "sqlite":
        import fcntl

        lock_path = loc.path + ".migrate-lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_ID})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_ID})
                conn.commit()
    else:
        yield


def _refuse_newer(revision: str | None) -> None:
    """A store upgraded by a newer version of the package cannot be opened by this one: say so in one sentence."""
    if revision is not None and revision.isdigit() and int(revision) > int(HEAD):
        from .. import version
        from .errors import MLTrackError

        raise MLTrackError(
            f"this store has schema version {revision}, written by a newer jupyter_mltrack than this one "
            f"({version.__version__}, schema version {HEAD}): upgrade the package (pip install -U jupyter_mltrack)"
        )


def ensure_schema(engine: Engine, loc=None) -> None:
    rev = current_revision(engine)
    if rev == HEAD:
        return
    _refuse_newer(rev)
    with _exclusive(engine, loc):
        rev = current_revision(engine)
        if rev == HEAD:  # another process finished while we waited
            return
        _refuse_newer(rev)
        upgrade(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.connect().execution_options(mltrack_write=True) as conn:
        cfg = alembic_config(conn)
        command.upgrade(cfg, revision)
        conn.commit()
