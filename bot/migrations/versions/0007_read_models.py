"""Read models: handoff tickets (queue, agent load) and per-conversation facts.

Both are projections of the event log (``handoff/projections.py``), kept in step by the
event store in each append's transaction; a database that already holds handoff events
is backfilled from the log when the handoff runtime starts (``concierge projections
rebuild`` does the same by hand).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they were at this revision (not imported from the live models, which will change).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "handoff_tickets",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.Float(), nullable=True),
        sa.Column("queued_at", sa.Float(), nullable=True),
        sa.Column("assigned_to", sa.String(64), nullable=True),
        sa.Column("first_response_at", sa.Float(), nullable=True),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.Column("pending", JSON, nullable=True),
        sa.Column("status_event", JSON, nullable=True),
        sa.Column("status_changed_at", sa.Float(), nullable=True),
        sa.Column("routing", sa.Text(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handoff_tickets_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_handoff_tickets")),
    )
    op.create_index(
        op.f("ix_handoff_tickets_status_assigned_to"), "handoff_tickets", ["status", "assigned_to"]
    )
    op.create_table(
        "conversation_facts",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("tier", sa.String(32), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("detected_language", sa.String(16), nullable=True),
        sa.Column("first_user_at", sa.Float(), nullable=True),
        sa.Column("last_user_at", sa.Float(), nullable=True),
        sa.Column("first_response_at", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        sa.Column("sentiment_scores", JSON, nullable=False),
        sa.Column("sentiment_label", sa.String(16), nullable=True),
        sa.Column("last_client_text", sa.Text(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_facts_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_facts")),
    )
    op.create_index(op.f("ix_conversation_facts_first_user_at"), "conversation_facts", ["first_user_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_conversation_facts_first_user_at"), table_name="conversation_facts")
    op.drop_table("conversation_facts")
    op.drop_index(op.f("ix_handoff_tickets_status_assigned_to"), table_name="handoff_tickets")
    op.drop_table("handoff_tickets")
