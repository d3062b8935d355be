"""model lifecycle: model aliases and content, datasets and their versions and aliases

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:40:00.000000

A model version records the content of its artifact (registering the same bytes again answers the existing
version) and a model has aliases (champion, challenger, …), each naming one version. Datasets are named per
project; each version is a stored artifact identified by its content, with table metadata; datasets have aliases
too.
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions') as batch_op:
        batch_op.add_column(sa.Column('content', sa.String(length=64), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_model_versions_model_id_content'), ['model_id', 'content'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_versions_artifact_id'), ['artifact_id'], unique=False)
    op.create_table('model_aliases',
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=250), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_model_aliases_model_id_models'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_id', 'alias', name=op.f('pk_model_aliases'))
    )
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_datasets_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_datasets_project_id_name'))
    )
    op.create_table('dataset_versions',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('meta', sa.Text(), server_default='{}', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_dataset_versions_artifact_id_artifacts'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_versions_dataset_id_datasets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'version', name=op.f('pk_dataset_versions')),
    sa.UniqueConstraint('dataset_id', 'content', name=op.f('uq_dataset_versions_dataset_id_content'))
    )
    op.create_index(op.f('ix_dataset_versions_artifact_id'), 'dataset_versions', ['artifact_id'], unique=False)
    op.create_table('dataset_aliases',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=250), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_aliases_dataset_id_datasets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'alias', name=op.f('pk_dataset_aliases'))
    )


def downgrade() -> None:
    op.drop_table('dataset_aliases')
    op.drop_index(op.f('ix_dataset_versions_artifact_id'), table_name='dataset_versions')
    op.drop_table('dataset_versions')
    op.drop_table('datasets')
    op.drop_table('model_aliases')
    with op.batch_alter_table('model_versions') as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_artifact_id'))
        batch_op.drop_index(batch_op.f('ix_model_versions_model_id_content'))
        batch_op.drop_column('content')
