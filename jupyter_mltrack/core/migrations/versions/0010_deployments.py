"""deployments: model services run by the server extension

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:30:00.000000

A deployment is a registered model (or an A/B test of several) served over HTTP by a process of its own
(``core/deployments.py``, ``jupyter_mltrack/serving``): its name (unique in the store), project, kind, spec JSON,
status and, while it runs, the process's pid and loopback port.
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deployments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('host', sa.String(length=250), server_default='', nullable=False),
    sa.Column('model', sa.String(length=250), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), server_default='', nullable=False),
    sa.Column('user', sa.String(length=250), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=True),
    sa.Column('stopped_at', sa.Float(), nullable=True),
    sa.CheckConstraint("kind IN ('model', 'ab_test')", name=op.f('ck_deployments_kind')),
    sa.CheckConstraint("status IN ('running', 'stopped', 'failed')", name=op.f('ck_deployments_status')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_deployments_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments')),
    sa.UniqueConstraint('name', name=op.f('uq_deployments_name'))
    )
    op.create_index(op.f('ix_deployments_project_id'), 'deployments', ['project_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_deployments_project_id'), table_name='deployments')
    op.drop_table('deployments')
