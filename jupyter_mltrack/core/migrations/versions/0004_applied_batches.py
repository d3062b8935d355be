"""applied batch ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 04:00:00.000000

Every batch carries a client-generated id; the store records the ids it applied (``applied_batches``, pruned after
a retention window) so that a batch sent again is applied once.
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applied_batches',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('applied_at', sa.Float(), nullable=False),
    sa.Column('result', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applied_batches'))
    )
    op.create_index(op.f('ix_applied_batches_applied_at'), 'applied_batches', ['applied_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_applied_batches_applied_at'), table_name='applied_batches')
    op.drop_table('applied_batches')
