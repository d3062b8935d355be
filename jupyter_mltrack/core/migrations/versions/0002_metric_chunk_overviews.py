"""metric chunk overviews

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:10:00.000000

Full chunks written from now on carry an overview (a min/max-preserving subset of their points, see
core/series.py); chunks written before keep NULL there and are read in full.
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable columns without a default: a plain ALTER TABLE ADD COLUMN on SQLite and PostgreSQL, no table copy
    with op.batch_alter_table('metric_chunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overview', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('overview_count', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('metric_chunks', schema=None) as batch_op:
        batch_op.drop_column('overview_count')
        batch_op.drop_column('overview')
