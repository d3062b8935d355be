"""jobs: definitions, upstream jobs, executions per trigger, the scheduler's lease

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:45:00.000000

A job runs a notebook or a script as tracked runs — now, on a cron schedule, after other jobs (``core/jobs.py``).
Each trigger (a cron tick, a "run now") runs a job at most once (unique trigger and job); the servers sharing a
store elect one scheduler through a lease.
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('params', sa.Text(), server_default='{}', nullable=False),
    sa.Column('schedule', sa.String(length=250), server_default='', nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('timeout', sa.Float(), nullable=True),
    sa.Column('retries', sa.Integer(), server_default='0', nullable=False),
    sa.Column('retry_delay', sa.Float(), server_default='10', nullable=False),
    sa.Column('max_concurrent', sa.Integer(), server_default='1', nullable=False),
    sa.Column('paused', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('user', sa.String(length=250), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('last_tick', sa.Float(), nullable=True),
    sa.CheckConstraint("kind IN ('notebook', 'script')", name=op.f('ck_jobs_kind')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_jobs_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('name', name=op.f('uq_jobs_name'))
    )
    op.create_index(op.f('ix_jobs_project_id'), 'jobs', ['project_id'], unique=False)
    op.create_table('job_upstreams',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('upstream_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_upstreams_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upstream_id'], ['jobs.id'], name=op.f('fk_job_upstreams_upstream_id_jobs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'upstream_id', name=op.f('pk_job_upstreams'))
    )
    op.create_index(op.f('ix_job_upstreams_upstream_id'), 'job_upstreams', ['upstream_id'], unique=False)
    op.create_table('job_executions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('trigger_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('scheduled_for', sa.Float(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=True),
    sa.Column('ended_at', sa.Float(), nullable=True),
    sa.Column('heartbeat_at', sa.Float(), nullable=True),
    sa.Column('worker', sa.String(length=250), server_default='', nullable=False),
    sa.CheckConstraint("status IN ('pending', 'queued', 'running', 'finished', 'failed', 'killed', 'skipped')",
                       name=op.f('ck_job_executions_status')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_executions_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_job_executions_run_id_runs'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_executions')),
    sa.UniqueConstraint('trigger_id', 'job_id', name=op.f('uq_job_executions_trigger_id_job_id'))
    )
    op.create_index(op.f('ix_job_executions_job_id_created_at'), 'job_executions', ['job_id', 'created_at'],
                    unique=False)
    op.create_index(op.f('ix_job_executions_status'), 'job_executions', ['status'], unique=False)
    op.create_table('job_leases',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('holder', sa.String(length=250), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_leases'))
    )


def downgrade() -> None:
    op.drop_table('job_leases')
    op.drop_index(op.f('ix_job_executions_status'), table_name='job_executions')
    op.drop_index(op.f('ix_job_executions_job_id_created_at'), table_name='job_executions')
    op.drop_table('job_executions')
    op.drop_index(op.f('ix_job_upstreams_upstream_id'), table_name='job_upstreams')
    op.drop_table('job_upstreams')
    op.drop_index(op.f('ix_jobs_project_id'), table_name='jobs')
    op.drop_table('jobs')
