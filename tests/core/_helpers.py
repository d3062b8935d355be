"""Plain helpers shared by the store-core tests (fixtures live in conftest.py)."""

from __future__ import annotations

import itertools
import os
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_counter = itertools.count()


def subprocess_env(**extra: str) -> dict:
    """The current environment (with the test's MLTRACK_HOME) plus the source tree on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(extra)
    return env


def write_script(folder: Path, code: str) -> Path:
    p = folder / f"script_{next(_counter)}.py"
    p.write_text(textwrap.dedent(code))
    return p


def sql(store, query: str, **params) -> list:
    """Rows of a raw SQL query on the store's database."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        rows = conn.execute(text(query), params).all()
        conn.rollback()
    return rows


def execute(store, query: str, **params) -> None:
    """Run a raw SQL statement and commit it (for setting up states the API cannot produce, e.g. an old heartbeat)."""
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(text(query), params)


def run_ids(store, **kw) -> set[str]:
    runs, _ = store.search_runs(**kw)
    return {r["id"] for r in runs}
