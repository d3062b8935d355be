"""team access: admins, expiring and revocable API keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:10:00.000000

Team mode (``c.MLTrackApp.access_control = True``) reads the users, API keys and project members tables: a user may
be an admin, and an API key may expire and be revoked (kept, for the record, with the time it was revoked).
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('is_admin')
