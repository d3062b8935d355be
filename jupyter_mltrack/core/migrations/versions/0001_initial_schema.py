"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:20:01.568454
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    store_meta = op.create_table('store_meta',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('revision', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_meta'))
    )
    op.bulk_insert(store_meta, [{'id': 1, 'revision': 0}])
    op.create_table('blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blobs'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('name', name=op.f('uq_campaigns_name'))
    )
    op.create_table('projects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('email', sa.String(length=250), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=128), nullable=False),
    sa.Column('label', sa.String(length=250), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('last_used_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('experiments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_experiments_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiments')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_experiments_project_id_name'))
    )
    op.create_table('models',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_models_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_models_project_id_name'))
    )
    op.create_table('project_members',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.CheckConstraint("role IN ('owner', 'contributor', 'viewer')", name=op.f('ck_project_members_role')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_members_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_project_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'user_id', name=op.f('pk_project_members'))
    )
    op.create_table('runs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='running', nullable=False),
    sa.Column('start_time', sa.Float(), nullable=False),
    sa.Column('end_time', sa.Float(), nullable=True),
    sa.Column('heartbeat_at', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('user', sa.String(length=250), server_default='', nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('source', sa.Text(), server_default='', nullable=False),
    sa.Column('parent_id', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), server_default='', nullable=False),
    sa.Column('table_row', sa.Text(), server_default='', nullable=False),
    sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'killed', 'crashed')", name=op.f('ck_runs_status')),
    sa.ForeignKeyConstraint(['parent_id'], ['runs.id'], name=op.f('fk_runs_parent_id_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_runs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_project_id_start_time'), ['project_id', 'start_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_start_time'), ['start_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_updated_at'), ['updated_at'], unique=False)

    op.create_table('artifacts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('type', sa.String(length=100), server_default='', nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('meta', sa.Text(), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_artifacts_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
    sa.UniqueConstraint('run_id', 'name', 'version', name=op.f('uq_artifacts_run_id_name_version'))
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifacts_type'), ['type'], unique=False)

    op.create_table('campaign_runs',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_runs_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_campaign_runs_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'run_id', name=op.f('pk_campaign_runs'))
    )
    with op.batch_alter_table('campaign_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_runs_run_id'), ['run_id'], unique=False)

    op.create_table('metric_series',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('context', sa.String(length=500), server_default='{}', nullable=False),
    sa.Column('count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last', sa.Float(), nullable=True),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.Column('last_time', sa.Float(), nullable=True),
    sa.Column('min', sa.Float(), nullable=True),
    sa.Column('max', sa.Float(), nullable=True),
    sa.Column('chunks', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_metric_series_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_series')),
    sa.UniqueConstraint('run_id', 'name', 'context', name=op.f('uq_metric_series_run_id_name_context'))
    )
    with op.batch_alter_table('metric_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metric_series_name_context_last'), ['name', 'context', 'last'], unique=False)

    op.create_table('params',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('num', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_params_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_params'))
    )
    with op.batch_alter_table('params', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_params_key_num'), ['key', 'num'], unique=False)
        batch_op.create_index(batch_op.f('ix_params_key_text'), ['key', 'text'], unique=False)

    op.create_table('run_experiments',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], name=op.f('fk_run_experiments_experiment_id_experiments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_experiments_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'experiment_id', name=op.f('pk_run_experiments'))
    )
    with op.batch_alter_table('run_experiments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_experiments_experiment_id'), ['experiment_id'], unique=False)

    op.create_table('tags',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_tags_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_tags'))
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tags_key_value'), ['key', 'value'], unique=False)

    op.create_table('artifact_files',
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=200), server_default='application/octet-stream', nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_artifact_files_artifact_id_artifacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sha256'], ['blobs.sha256'], name=op.f('fk_artifact_files_sha256_blobs')),
    sa.PrimaryKeyConstraint('artifact_id', 'path', name=op.f('pk_artifact_files'))
    )
    with op.batch_alter_table('artifact_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_files_sha256'), ['sha256'], unique=False)

    op.create_table('metric_chunks',
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('step_min', sa.BigInteger(), nullable=False),
    sa.Column('step_max', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['metric_series.id'], name=op.f('fk_metric_chunks_series_id_metric_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'seq', name=op.f('pk_metric_chunks'))
    )
    op.create_table('model_versions',
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=50), server_default='', nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_model_versions_artifact_id_artifacts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_model_versions_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_id', 'version', name=op.f('pk_model_versions'))
    )
    op.create_table('run_inputs',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=100), server_default='input', nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_run_inputs_artifact_id_artifacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_inputs_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'artifact_id', name=op.f('pk_run_inputs'))
    )
    with op.batch_alter_table('run_inputs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_inputs_artifact_id'), ['artifact_id'], unique=False)



def downgrade() -> None:
    op.drop_table('store_meta')
    with op.batch_alter_table('run_inputs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_inputs_artifact_id'))

    op.drop_table('run_inputs')
    op.drop_table('model_versions')
    op.drop_table('metric_chunks')
    with op.batch_alter_table('artifact_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_files_sha256'))

    op.drop_table('artifact_files')
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tags_key_value'))

    op.drop_table('tags')
    with op.batch_alter_table('run_experiments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_experiments_experiment_id'))

    op.drop_table('run_experiments')
    with op.batch_alter_table('params', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_params_key_text'))
        batch_op.drop_index(batch_op.f('ix_params_key_num'))

    op.drop_table('params')
    with op.batch_alter_table('metric_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metric_series_name_context_last'))

    op.drop_table('metric_series')
    with op.batch_alter_table('campaign_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_runs_run_id'))

    op.drop_table('campaign_runs')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifacts_type'))

    op.drop_table('artifacts')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_updated_at'))
        batch_op.drop_index(batch_op.f('ix_runs_start_time'))
        batch_op.drop_index(batch_op.f('ix_runs_project_id_start_time'))
        batch_op.drop_index(batch_op.f('ix_runs_parent_id'))

    op.drop_table('runs')
    op.drop_table('project_members')
    op.drop_table('models')
    op.drop_table('experiments')
    op.drop_table('api_keys')
    op.drop_table('users')
    op.drop_table('projects')
    op.drop_table('campaigns')
    op.drop_table('blobs')
