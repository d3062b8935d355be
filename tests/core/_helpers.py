"""Plain helpers shared by the store-core tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from .._subprocess import REPO, subprocess_env, write_script  # noqa: F401 (re-exported)


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
