"""a narrower store: no stored metric summaries, shared DataFrame key lists, params and tags clustered

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 23:30:00.000000

About half of a run's bytes were copies kept for reading speed. ``run_summaries`` (each run's metric summaries as
REST JSON, ~2 KB a run at ten metrics) goes: the full run list puts them together from the series rows of the runs
it reads. ``runs.frame_keys`` (the DataFrame fragment's key list, the same text in nearly every run) becomes
``runs.frame_layout``, a reference to a ``frame_layouts`` row; every run-table fragment is cleared, so readers
rebuild them. On SQLite, ``params`` and ``tags`` become WITHOUT ROWID tables (the primary key is the table, not a
second copy of every row's keys). Each param has a number or a text, so the two param indexes hold only the rows
where their column is set.
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_PARAMS = """CREATE TABLE {name} (
	run_id VARCHAR(32) NOT NULL,
	"key" VARCHAR(250) NOT NULL,
	value TEXT NOT NULL,
	num FLOAT,
	text TEXT,
	CONSTRAINT pk_params PRIMARY KEY (run_id, "key"),
	CONSTRAINT fk_params_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
){options}"""

_TAGS = """CREATE TABLE {name} (
	run_id VARCHAR(32) NOT NULL,
	"key" VARCHAR(250) NOT NULL,
	value TEXT NOT NULL,
	CONSTRAINT pk_tags PRIMARY KEY (run_id, "key"),
	CONSTRAINT fk_tags_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
){options}"""

_PARAM_INDEXES = [('ix_params_key_num_run_id', ['key', 'num', 'run_id'], 'num IS NOT NULL'),
                  ('ix_params_key_text_run_id', ['key', 'text', 'run_id'], 'text IS NOT NULL')]


def _rebuild(table: str, ddl: str, columns: str, rowid: bool) -> None:
    """SQLite: copy ``table`` into a new one made by ``ddl`` (with or without rowid) and put it in its place."""
    op.execute(ddl.format(name=f"_{table}_new", options="" if rowid else " WITHOUT ROWID"))
    op.execute(f"INSERT INTO _{table}_new ({columns}) SELECT {columns} FROM {table}")
    op.execute(f"DROP TABLE {table}")  # nothing refers to it: its rows go with it, no cascade
    op.execute(f"ALTER TABLE _{table}_new RENAME TO {table}")


def _params_and_tags(narrow: bool) -> None:
    """Params and tags clustered by their keys on SQLite (WITHOUT ROWID) and partial param indexes, or as before."""
    for name, _cols, _where in _PARAM_INDEXES:
        op.drop_index(name, table_name='params')
    if op.get_bind().dialect.name == 'sqlite':
        op.drop_index('ix_tags_key_value_run_id', table_name='tags')
        _rebuild('params', _PARAMS, 'run_id, "key", value, num, text', rowid=not narrow)
        _rebuild('tags', _TAGS, 'run_id, "key", value', rowid=not narrow)
        op.create_index('ix_tags_key_value_run_id', 'tags', ['key', 'value', 'run_id'], unique=False)
    for name, cols, where in _PARAM_INDEXES:
        kw = {'sqlite_where': sa.text(where), 'postgresql_where': sa.text(where)} if narrow else {}
        op.create_index(name, 'params', cols, unique=False, **kw)


def upgrade() -> None:
    op.create_table('frame_layouts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('key_list', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_frame_layouts')),
    sa.UniqueConstraint('sha256', name=op.f('uq_frame_layouts_sha256'))
    )
    op.execute("UPDATE runs SET table_row = ''")
    op.execute("ALTER TABLE runs DROP COLUMN frame_keys")  # a plain DROP COLUMN: see 0003
    op.add_column('runs', sa.Column('frame_layout', sa.Integer(), nullable=True))
    op.drop_table('run_summaries')
    _params_and_tags(narrow=True)


def downgrade() -> None:
    _params_and_tags(narrow=False)
    op.create_table('run_summaries',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('metrics', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_summaries_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_run_summaries'))
    )
    op.execute("ALTER TABLE runs DROP COLUMN frame_layout")
    op.add_column('runs', sa.Column('frame_keys', sa.Text(), nullable=True))
    op.execute("UPDATE runs SET table_row = ''")
    op.drop_table('frame_layouts')
