"""core/migrate.py and migrations/: the migrated schema is exactly schema.metadata; opening is cheap and safe."""

from __future__ import annotations

import math
import re
import sqlite3

import pytest
from sqlalchemy import Boolean, create_engine, inspect, text

from jupyter_mltrack.core import migrate, schema
from jupyter_mltrack.core.store import Store

from ._helpers import sql


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
                got = re.sub(r"::[a-z ]+$", "", cols[c.name]["default"] or "").strip("'\"")  # PostgreSQL: ''::text
                want = str(c.server_default.arg).strip("'\"")
                if isinstance(c.type, Boolean):  # SQLite stores false() as 0
                    got, want = {"0": "false", "1": "true"}.get(got, got), {"0": "false", "1": "true"}.get(want, want)
                assert got == want, (name, c.name)
        want_ix = {ix.name: [col.name for col in ix.columns] for ix in table.indexes}
        got_ix = {ix["name"]: ix["column_names"] for ix in insp.get_indexes(name)
                  if not ix.get("duplicates_constraint")}  # PostgreSQL lists a unique constraint's index too
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
    from sqlalchemy.exc import IntegrityError

    # SQLite's words, PostgreSQL's words
    with pytest.raises(IntegrityError, match='CHECK constraint failed: ck_runs_status|violates check constraint "ck_runs_status"'):
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


def test_upgrading_to_0011_stores_a_nan_last_value_as_null(store):
    """Before 0011 PostgreSQL kept a NaN last value (sorted and compared above every number there); the upgrade
    makes it NULL, as SQLite stores it and as every write now does, and reads still give NaN."""
    from alembic import command

    store.write_batch({"runs": [{"id": "r"}], "metrics": [{"run_id": "r", "name": "m", "values": [1.0, "NaN"]}]})
    with store.engine.connect() as conn:
        command.downgrade(migrate.alembic_config(conn), "0010")
        conn.execute(text("UPDATE metric_series SET last = :v"), {"v": math.nan})  # a PostgreSQL store held NaN
        conn.commit()
    migrate.upgrade(store.engine)
    assert sql(store, "SELECT last, count FROM metric_series") == [(None, 2)]
    assert math.isnan(store.get_run("r")["metrics"][0]["last"])
    assert store.search_runs(filter="metrics.m > 0")[1] == 0


def _narrow_store_facts(store):
    return (store.search_runs(order_by="name")[0], store.run_table(order_by="name"),
            store.search_runs_json(order_by="name")[0], store.run_frame(order_by="name")["numeric"].keys(),
            [r["id"] for r in store.search_runs(filter="params.lr > 0.05 and params.opt = 'adam'")[0]],
            [r["id"] for r in store.search_runs(filter="params.opt like 'ad%' and tags.team = 'x'")[0]])


def test_upgrading_to_0012_keeps_params_tags_and_listings(store):
    """0012 drops the stored metric summaries, shares the DataFrame key lists, clusters params and tags by their
    keys on SQLite and keeps only set values in the param indexes: the same facts read back, before and after."""
    from alembic import command

    store.write_batch({
        "runs": [{"id": f"r{i}", "name": f"run {i}"} for i in range(4)],
        "params": [{"run_id": f"r{i}", "key": k, "value": v} for i in range(4)
                   for k, v in (("lr", 0.01 * (i + 1) ** 2), ("opt", "adam" if i % 2 else "sgd"), ("n", i))],
        "tags": [{"run_id": f"r{i}", "key": "team", "value": "x"} for i in (1, 2)],
        "metrics": [{"run_id": f"r{i}", "name": "acc", "context": {"subset": "val"}, "values": [0.1 * i, 0.2 * i]}
                    for i in range(4)],
        "updates": [{"run_id": f"r{i}", "status": "finished"} for i in range(4)],
    })
    before = _narrow_store_facts(store)
    assert before[4] == ["r3"] and before[5] == ["r1"]
    rows = [sql(store, f"SELECT * FROM {t} ORDER BY run_id, key") for t in ("params", "tags")]
    with store.engine.connect() as conn:
        command.downgrade(migrate.alembic_config(conn), "0011")
        conn.commit()
    assert "run_summaries" in inspect(store.engine).get_table_names()
    assert [sql(store, f"SELECT * FROM {t} ORDER BY run_id, key") for t in ("params", "tags")] == rows
    migrate.upgrade(store.engine)
    assert [sql(store, f"SELECT * FROM {t} ORDER BY run_id, key") for t in ("params", "tags")] == rows
    assert sql(store, "SELECT count(*) FROM runs WHERE table_row = ''")[0][0] == 4  # rebuilt by the next read
    assert _narrow_store_facts(store) == before
    assert "run_summaries" not in inspect(store.engine).get_table_names()
    if store.engine.dialect.name == "sqlite":
        ddl = dict(sql(store, "SELECT name, sql FROM sqlite_schema WHERE tbl_name IN ('params', 'tags')"))
        assert ddl["params"].endswith("WITHOUT ROWID") and ddl["tags"].endswith("WITHOUT ROWID")
        assert ddl["ix_params_key_num_run_id"].endswith("WHERE num IS NOT NULL")
        assert ddl["ix_params_key_text_run_id"].endswith("WHERE text IS NOT NULL")
        # the filters' param subqueries read the partial indexes (a comparison implies the value is set)
        plan = " ".join(row[3] for row in sql(store, "EXPLAIN QUERY PLAN SELECT run_id FROM params "
                                                     "WHERE key = 'lr' AND num > 0.05"))
        assert "USING COVERING INDEX ix_params_key_num_run_id" in plan
    else:
        defs = dict(sql(store, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'params'"))
        assert defs["ix_params_key_num_run_id"].endswith("WHERE (num IS NOT NULL)")


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


def _store_at_0001_with_a_chunk(path, n):
    """A store file migrated to 0001 only, holding one run with one full chunk of ``n`` points."""
    import numpy as np
    from alembic import command
    from sqlalchemy import text

    from jupyter_mltrack.core import series as SER

    p = SER.Points(np.arange(n, dtype=np.int64), 1.7e9 + np.arange(n) * 0.5, np.sin(np.arange(n) / 40.0))
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            command.upgrade(migrate.alembic_config(conn), "0001")
            conn.commit()
        assert migrate.current_revision(engine) == "0001"
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO projects (id, name, created_at) VALUES (1, 'Default', 0)"))
            conn.execute(text("INSERT INTO runs (id, project_id, start_time, updated_at) VALUES ('r', 1, 0, 0)"))
            conn.execute(text(
                "INSERT INTO metric_series (id, run_id, name, context, count, last, last_step, last_time, min, max,"
                " chunks) VALUES (1, 'r', 'm', '{}', :n, :last, :ls, :lt, :lo, :hi, 1)"),
                {"n": n, "last": float(p.values[-1]), "ls": n - 1, "lt": float(p.timestamps[-1]),
                 "lo": float(p.values.min()), "hi": float(p.values.max())})
            conn.execute(text(
                "INSERT INTO metric_chunks (series_id, seq, count, step_min, step_max, data) "
                "VALUES (1, 0, :n, 0, :smax, :data)"), {"n": n, "smax": n - 1, "data": SER.encode_chunk(p)})
    finally:
        engine.dispose()
    return p


def test_upgrading_a_0001_store_keeps_its_points_and_reads_them(tmp_path):
    import numpy as np

    from jupyter_mltrack.core import series as SER

    db = tmp_path / "mltrack.db"
    n = SER.CHUNK_POINTS
    p = _store_at_0001_with_a_chunk(db, n)
    s = Store(db)  # ensure_schema upgrades it
    try:
        assert migrate.current_revision(s.engine) == migrate.HEAD
        cols = {c["name"] for c in inspect(s.engine).get_columns("metric_chunks")}
        assert {"overview", "overview_count"} <= cols
        got = s.get_series("r", "m")
        assert got["total_count"] == n and np.array_equal(got["points"].values, p.values)
        assert np.array_equal(got["points"].steps, p.steps)
        # a chart read: the old chunk has no overview and is read in full
        chart = s.get_series("r", "m", max_points=100)
        want, _ = SER.downsample(p, 100)
        assert chart["total_count"] == n and chart["downsampled"]
        assert np.array_equal(chart["points"].steps, want.steps)
        (many,) = s.get_series_many(["r"], "m", max_points=100, step_range=(10, n - 10))
        assert many["total_count"] == n - 19 and len(many["points"]) <= 100
        # new full chunks get overviews, the old one keeps none
        s.write_batch({"metrics": [{"run_id": "r", "name": "m", "steps": np.arange(n, 3 * n),
                                    "values": np.cos(np.arange(2 * n) / 30.0)}]})
        from ._helpers import sql

        rows = sql(s, "SELECT seq, count, overview_count FROM metric_chunks ORDER BY seq")
        assert [(r.seq, r.count, r.overview_count is not None) for r in rows] == [
            (0, n, False), (1, n, True), (2, n, True)]
        assert s.get_series("r", "m", max_points=100)["total_count"] == 3 * n
        assert s.get_run("r")["metrics"][0]["count"] == 3 * n
    finally:
        s.close()


def test_downgrade_to_0001_keeps_the_points(store):
    import numpy as np
    from alembic import command

    from jupyter_mltrack.core import series as SER

    n = 2 * SER.CHUNK_POINTS
    values = np.random.default_rng(0).standard_normal(n)
    store.write_batch({"runs": [{"id": "r"}], "metrics": [{"run_id": "r", "name": "m", "values": values}]})
    with store.engine.connect() as conn:
        command.downgrade(migrate.alembic_config(conn), "0001")
        conn.commit()
    assert migrate.current_revision(store.engine) == "0001"
    assert "overview" not in {c["name"] for c in inspect(store.engine).get_columns("metric_chunks")}
    migrate.upgrade(store.engine)
    assert migrate.current_revision(store.engine) == migrate.HEAD
    got = store.get_series("r", "m", max_points=100)
    assert got["total_count"] == n and got["downsampled"]
    assert np.array_equal(store.get_series("r", "m")["points"].values, values)


def test_a_store_from_a_newer_version_says_to_upgrade_in_one_sentence(store_dir):
    from sqlalchemy import text

    from jupyter_mltrack.core.errors import MLTrackError
    from jupyter_mltrack.core.store import Store

    s = Store(store_dir)
    with s.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    s.close()
    with pytest.raises(MLTrackError) as e:
        Store(store_dir)
    message = str(e.value)
    assert "0099" in message and migrate.HEAD in message and "upgrade the package" in message
    assert "Can't locate revision" not in message and message.count(". ") == 0
