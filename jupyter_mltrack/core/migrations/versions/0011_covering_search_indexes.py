"""covering search indexes; NaN last values as NULL on PostgreSQL too

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:00:00.000000

The filters' subqueries read run ids from the params, tags and metric-series indexes alone (run_id added as their
last column), not from the tables' rows: at 100,000 runs a filter on a metric and a param went from ~200 to ~95 ms
(``ANALYZE``-free plans; see docs/benchmarks.md). A NaN last value is NULL on every database (SQLite
stores it so; PostgreSQL kept NaN, which it sorts and compares above every number).
"""

from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_WIDENED = [  # (table, old columns, new columns)
    ('params', ['key', 'num'], ['key', 'num', 'run_id']),
    ('params', ['key', 'text'], ['key', 'text', 'run_id']),
    ('tags', ['key', 'value'], ['key', 'value', 'run_id']),
    ('metric_series', ['name', 'context', 'last'], ['name', 'context', 'last', 'run_id']),
]


def _name(table, cols):
    return op.f(f"ix_{table}_{'_'.join(cols)}")


def upgrade() -> None:
    for table, old, new in _WIDENED:
        op.create_index(_name(table, new), table, new, unique=False)
        op.drop_index(_name(table, old), table_name=table)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE metric_series SET last = NULL WHERE last = 'NaN'")


def downgrade() -> None:
    for table, old, new in _WIDENED:
        op.create_index(_name(table, old), table, old, unique=False)
        op.drop_index(_name(table, new), table_name=table)
