"""Scheduled analytics reports: ``analytics_subscriptions`` (a manager's daily or weekly
e-mail; ``last_period`` makes each period go out once across processes).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they are at this revision (not imported from the live models, which may change).
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analytics_subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("frequency", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_period", sa.String(16), nullable=True),
        sa.Column("last_sent_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_subscriptions")),
        sa.UniqueConstraint("email", "frequency", name=op.f("uq_analytics_subscriptions_email_frequency")),
    )


def downgrade() -> None:
    op.drop_table("analytics_subscriptions")
