"""Knowledge gaps as a read model of the event log, and golden questions in the database.

- ``kb_gap_clusters``: one row per group of gap questions (their lexical ``key``), with how
  often and when they were asked and an example; ``kb_gaps`` rows now come from the log's
  ``knowledge_gap`` events (``seq`` names the event) and point at their cluster. Rows stored
  before this revision had no event behind them: they keep ``cluster_id`` NULL and a
  rebuild (``concierge projections rebuild``) drops them.
- ``kb_golden_questions``: the golden questions the publish gate and ``concierge kb test``
  run (``data/knowledge_tests.yml`` is their seed, imported idempotently at start-up).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they are at this revision (not imported from the live models, which may change).
TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "kb_gap_clusters",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", TIMESTAMP, nullable=False),
        sa.Column("last_seen", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_gap_clusters")),
        sa.UniqueConstraint("key", name=op.f("uq_kb_gap_clusters_key")),
    )
    with op.batch_alter_table("kb_gaps") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cluster_id", BIGINT_ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_kb_gaps_cluster_id_kb_gap_clusters"),
            "kb_gap_clusters",
            ["cluster_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_index(op.f("ix_kb_gaps_cluster_id"), "kb_gaps", ["cluster_id"])
    op.create_index(op.f("ix_kb_gaps_conversation_id"), "kb_gaps", ["conversation_id"])
    op.create_table(
        "kb_golden_questions",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("question", sa.String(500), nullable=False),
        sa.Column("wording", sa.String(500), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("expect", JSON, nullable=False),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_golden_questions")),
        sa.UniqueConstraint("language", "wording", name=op.f("uq_kb_golden_questions_language_wording")),
    )


def downgrade() -> None:
    op.drop_table("kb_golden_questions")
    op.drop_index(op.f("ix_kb_gaps_conversation_id"), table_name="kb_gaps")
    op.drop_index(op.f("ix_kb_gaps_cluster_id"), table_name="kb_gaps")
    with op.batch_alter_table("kb_gaps") as batch:
        batch.drop_constraint(op.f("fk_kb_gaps_cluster_id_kb_gap_clusters"), type_="foreignkey")
        batch.drop_column("cluster_id")
        batch.drop_column("seq")
    op.drop_table("kb_gap_clusters")
