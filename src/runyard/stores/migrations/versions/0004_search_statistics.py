"""PostgreSQL extended statistics on the (key, value) columns that search-runs filters on.

Which values a param or tag takes depends strongly on its key (``model`` holds a handful of names,
``seed`` a different value per run), and the planner, which by default treats the two columns as
independent, underestimates how many runs ``params.model = 'b'`` matches by a factor of three or more.
With the wrong count it sorts every match instead of walking the metric index in order and stopping
at the end of the page. Other databases have no equivalent: this revision changes nothing there.

Revision ID: 0004_search_statistics
Revises: 0003_compute
"""

from __future__ import annotations

from alembic import op

revision = "0004_search_statistics"
down_revision = "0003_compute"
branch_labels = None
depends_on = None

STATISTICS = {"st_params_key_value": "params", "st_run_tags_key_value": "run_tags"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table in STATISTICS.items():
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (dependencies, mcv) ON key, value FROM {table}")
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")
