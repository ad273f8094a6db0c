"""Outcome facts: what ``handoff.outcomes.classify`` reads, and agents' replies for delivery.

``conversation_facts`` gains the per-conversation facts the outcome rules need (real
questions, answers, fallbacks, first handoff, resolution, reopen and return gaps, CSAT);
``agent_replies`` lists agents' lines with their outbox keys (first response counts
delivered replies only). Both are read models: the upgrade empties ``conversation_facts``
so the handoff runtime refills every read model from the log at its next start (it
rebuilds when the facts are empty and the log is not); ``concierge projections rebuild``
does the same by hand.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("substantive_messages", sa.Integer(), False, "0"),
    ("answers", sa.Integer(), False, "0"),
    ("fallbacks", sa.Integer(), False, "0"),
    ("last_answer_fallback", sa.Boolean(), False, sa.false()),
    ("confirmed", sa.Boolean(), False, sa.false()),
    ("csat_requested", sa.Boolean(), False, sa.false()),
    ("csat_score", sa.Integer(), True, None),
    ("queued_at", sa.Float(), True, None),
    ("handoff_tier", sa.String(32), True, None),
    ("handoff_reason", sa.Text(), True, None),
    ("agent_id", sa.String(64), True, None),
    ("resolved_at", sa.Float(), True, None),
    ("reopened_after", sa.Float(), True, None),
    ("returned_after", sa.Float(), True, None),
    ("sentiment_first", sa.Float(), True, None),
    ("sentiment_last", sa.Float(), True, None),
)


def upgrade() -> None:
    # derived rows without the new facts would read as "nothing happened": drop them so the
    # runtime's start-up backfill (or `concierge projections rebuild`) replays the log
    op.execute(sa.text("DELETE FROM conversation_facts"))
    with op.batch_alter_table("conversation_facts") as batch:
        for name, type_, nullable, default in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))
    op.create_table(
        "agent_replies",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("outbox_key", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_agent_replies_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "seq", name=op.f("pk_agent_replies")),
    )


def downgrade() -> None:
    op.drop_table("agent_replies")
    with op.batch_alter_table("conversation_facts") as batch:
        for name, *_ in reversed(COLUMNS):
            batch.drop_column(name)
