"""Quality scores: every resolved conversation's replies scored on the eight auto-QA categories.

``quality_scores`` is a read model (:mod:`handoff.quality_scores`): one row per speaker
(the bot, the agent who replied last) of each resolved conversation, with the overall score
and each category's score, reason and source. The handoff runtime fills it from the log at
its next start (it rebuilds this read model when it is empty and a conversation was ever
resolved); ``concierge projections rebuild --only quality_scores`` does the same by hand.

Rows cascade with their conversation.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they are at this revision (not imported from the live models, which may change).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "quality_scores",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("speaker", sa.String(8), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.Float(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("overall", sa.Float(), nullable=True),
        sa.Column("categories", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_quality_scores_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "speaker", name=op.f("pk_quality_scores")),
    )
    op.create_index(op.f("ix_quality_scores_agent_id"), "quality_scores", ["agent_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_quality_scores_agent_id"), table_name="quality_scores")
    op.drop_table("quality_scores")
