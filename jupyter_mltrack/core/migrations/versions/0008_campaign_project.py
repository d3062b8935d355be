"""campaigns: the project a campaign was created in

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:10:00.000000

A campaign keeps its store-wide name; it now records the project it was created in (by ``create_campaign`` or by
its first run), which lists it and, in team mode, decides who may describe it. Existing campaigns take the project
of their earliest run.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _keeping_campaign_runs(alter) -> None:
    """Run ``alter`` (a batch operation on ``campaigns``) keeping ``campaign_runs``: on SQLite the batch copies the
    table and drops the old one, and with foreign keys on, that drop deletes every campaign's run links (ON DELETE
    CASCADE). They are read first and written back (the campaigns keep their ids)."""
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        alter()
        return
    links = [tuple(r) for r in conn.execute(sa.text("SELECT campaign_id, run_id FROM campaign_runs"))]
    alter()
    if links:
        conn.execute(sa.text("INSERT OR IGNORE INTO campaign_runs (campaign_id, run_id) VALUES (:c, :r)"),
                     [{"c": c, "r": r} for c, r in links])


def upgrade() -> None:
    def alter():
        with op.batch_alter_table('campaigns') as batch_op:
            batch_op.add_column(sa.Column('project_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(batch_op.f('fk_campaigns_project_id_projects'), 'projects', ['project_id'],
                                        ['id'], ondelete='SET NULL')
            batch_op.create_index(batch_op.f('ix_campaigns_project_id'), ['project_id'], unique=False)

    _keeping_campaign_runs(alter)
    op.execute(
        "UPDATE campaigns SET project_id = (SELECT runs.project_id FROM campaign_runs JOIN runs "
        "ON runs.id = campaign_runs.run_id WHERE campaign_runs.campaign_id = campaigns.id "
        "ORDER BY runs.start_time, runs.id LIMIT 1)")


def downgrade() -> None:
    def alter():
        with op.batch_alter_table('campaigns') as batch_op:
            batch_op.drop_index(batch_op.f('ix_campaigns_project_id'))
            batch_op.drop_constraint(batch_op.f('fk_campaigns_project_id_projects'), type_='foreignkey')
            batch_op.drop_column('project_id')

    _keeping_campaign_runs(alter)
