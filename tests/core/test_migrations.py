"""core/migrate.py and migrations/: the migrated schema is exactly schema.metadata; opening is cheap and safe."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, inspect

from jupyter_mltrack.core import migrate, schema
from jupyter_mltrack.core.store import Store


def test_head_constant_is_alembics_head():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [migrate.HEAD]
    # one linear history, every revision file loads
    revs = list(script.walk_revisions())
    assert revs[0].revision == migrate.HEAD and revs[-1].down_revision is None


def test_new_store_is_at_head(store):
    assert migrate.current_revision(store.engine) == migrate.HEAD


def test_migrated_schema_matches_metadata(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, schema.metadata)
    assert diffs == []


def test_migrated_schema_tables_columns_indexes_constraints(store):
    insp = inspect(store.engine)
    assert set(insp.get_table_names()) == set(schema.metadata.tables) | {"alembic_version"}
    for name, table in schema.metadata.tables.items():
        cols = {c["name"]: c for c in insp.get_columns(name)}
        assert set(cols) == {c.name for c in table.columns}, name
        for c in table.columns:
            assert bool(cols[c.name]["nullable"]) == bool(c.nullable) or c.primary_key, (name, c.name)
            if c.server_default is not None:
                got = (cols[c.name]["default"] or "").strip("'\"")
                assert got == str(c.server_default.arg).strip("'\""), (name, c.name)
        want_ix = {ix.name: [col.name for col in ix.columns] for ix in table.indexes}
        got_ix = {ix["name"]: ix["column_names"] for ix in insp.get_indexes(name)}
        assert got_ix == want_ix, name
        want_ck = {ck.name for ck in table.constraints if ck.__class__.__name__ == "CheckConstraint"}
        got_ck = {ck["name"] for ck in insp.get_check_constraints(name)}
        assert got_ck == want_ck, name
        want_fk = {(tuple(fk.column_keys), fk.elements[0].column.table.name, fk.ondelete)
                   for fk in table.foreign_key_constraints}
        got_fk = {(tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
                  for fk in insp.get_foreign_keys(name)}
        assert got_fk == want_fk, name
        pk = insp.get_pk_constraint(name)["constrained_columns"]
        assert sorted(pk) == sorted(c.name for c in table.primary_key.columns), name


def test_check_constraints_are_enforced(store):
    store.write_batch({"runs": [{"id": "r"}]})
    with pytest.raises(Exception, match="CHECK constraint failed"):
        from ._helpers import execute

        execute(store, "UPDATE runs SET status = 'paused'")


def test_ensure_schema_is_idempotent(store):
    migrate.ensure_schema(store.engine, store.location)
    migrate.ensure_schema(store.engine, None)
    assert migrate.current_revision(store.engine) == migrate.HEAD


def test_store_without_migrate_creates_nothing_then_upgrades(tmp_path):
    s = Store(tmp_path, migrate=False)
    try:
        assert migrate.current_revision(s.engine) is None
        assert inspect(s.engine).get_table_names() == []
        migrate.upgrade(s.engine)
        assert migrate.current_revision(s.engine) == migrate.HEAD
        s.write_batch({"runs": [{"id": "r"}]})
    finally:
        s.close()


def test_downgrade_to_base_and_back(store):
    from alembic import command

    with store.engine.connect() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
        conn.commit()
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(store.engine)
    assert migrate.current_revision(store.engine) == migrate.HEAD
    store.write_batch({"runs": [{"id": "again"}]})


def test_reopening_an_up_to_date_store_does_not_import_alembic(store_dir, run_py):
    Store(store_dir).close()
    code = """
        import sys
        from jupyter_mltrack.core.store import Store
        s = Store(sys.argv[1])
        s.write_batch({"runs": [{"id": "r"}]})
        s.search_runs(filter="metrics.a > 1")
        s.get_run("r")
        print("alembic" in sys.modules, sorted(m for m in sys.modules if m.startswith("alembic"))[:3])
    """
    out = run_py(code, store_dir).stdout.strip()
    assert out == "False []"
    # and the check is meaningful: creating a store does import it
    out = run_py(code, store_dir / "fresh").stdout.strip()
    assert out.startswith("True")


def test_an_old_unversioned_sqlite_file_is_migrated(tmp_path):
    # a database file someone created by hand (no alembic_version): opening it runs the migrations
    db = tmp_path / "mltrack.db"
    sqlite3.connect(db).close()
    s = Store(db)
    try:
        assert migrate.current_revision(s.engine) == migrate.HEAD
    finally:
        s.close()



def test_current_revision_of_an_empty_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert migrate.current_revision(engine) is None
    finally:
        engine.dispose()
