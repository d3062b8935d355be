"""metric summaries out of the runs table

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:40:00.000000

``runs.summary`` (every metric's summary as REST JSON, ~2 KB a run) moves to its own table ``run_summaries``: the
runs rows get about three times narrower, which makes the run table, the DataFrame and filters faster. The runs
get the DataFrame's fragments (``frame_keys``, ``frame_nums``, ``frame_text``). Every run-table fragment is
cleared, so readers rebuild them (NaN last values are now written as "NaN").
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('run_summaries',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('metrics', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_summaries_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_run_summaries'))
    )
    # A plain DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): batch mode would copy and drop the runs table, and dropping
    # it with foreign keys on would cascade to every param, tag and series.
    op.execute("ALTER TABLE runs DROP COLUMN summary")
    op.add_column('runs', sa.Column('frame_keys', sa.Text(), nullable=True))
    op.add_column('runs', sa.Column('frame_nums', sa.LargeBinary(), nullable=True))
    op.add_column('runs', sa.Column('frame_text', sa.Text(), nullable=True))
    op.execute("UPDATE runs SET table_row = ''")


def downgrade() -> None:
    for column in ('frame_text', 'frame_nums', 'frame_keys'):
        op.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    op.add_column('runs', sa.Column('summary', sa.Text(), server_default='', nullable=False))
    op.execute("UPDATE runs SET table_row = ''")
    op.drop_table('run_summaries')
