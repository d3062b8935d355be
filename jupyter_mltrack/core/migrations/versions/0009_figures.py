"""figures: what each logged figure or image is

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:20:00.000000

A logged figure (matplotlib, plotly, an image, a confusion matrix) is an artifact of type "figure" holding its
renderings, plus a ``figures`` row naming its kind, name, context and step (``core/figures.py``).
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('figures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('context', sa.String(length=500), server_default='{}', nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=True),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.CheckConstraint("kind IN ('matplotlib', 'plotly', 'image', 'confusion_matrix')", name=op.f('ck_figures_kind')),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_figures_artifact_id_artifacts'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_figures_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_figures'))
    )
    op.create_index(op.f('ix_figures_run_id_name'), 'figures', ['run_id', 'name'], unique=False)
    op.create_index(op.f('ix_figures_artifact_id'), 'figures', ['artifact_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_figures_artifact_id'), table_name='figures')
    op.drop_index(op.f('ix_figures_run_id_name'), table_name='figures')
    op.drop_table('figures')
