"""Privacy: the audit log's ``subject`` (whom an entry is about, indexed, so an erase reads
only that subject's entries) and ``privacy_erasures`` (an erase recorded before it runs, with
the parts still to do in other stores, so an erase interrupted between stores is resumed).

``subject`` is backfilled from the target of entries about a client (``client:<id>``) or a
conversation (``conversation:<id>``); an erased conversation target names nobody.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they are at this revision (not imported from the live models, which may change).
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("console_audit") as batch:
        batch.add_column(sa.Column("subject", sa.String(200), nullable=True))
    op.create_index(op.f("ix_console_audit_subject"), "console_audit", ["subject"])
    op.execute(
        "UPDATE console_audit SET subject = target"
        " WHERE (target LIKE 'client:%' OR target LIKE 'conversation:%')"
        " AND target <> 'conversation:[erased]'"
    )
    op.create_table(
        "privacy_erasures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=True),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pending", JSON, nullable=False),
        sa.Column("work", JSON, nullable=True),
        sa.Column("removed", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("done_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_erasures")),
    )
    op.create_index(op.f("ix_privacy_erasures_status"), "privacy_erasures", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_privacy_erasures_status"), table_name="privacy_erasures")
    op.drop_table("privacy_erasures")
    op.drop_index(op.f("ix_console_audit_subject"), table_name="console_audit")
    with op.batch_alter_table("console_audit") as batch:
        batch.drop_column("subject")
