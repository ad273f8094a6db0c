"""The proactive scheduler's tables: messages the concierge sends first, and opt-outs.

- ``proactive_messages``: one row per message to send first (an appointment reminder, a
  birthday greeting, a follow-up, a milestone), unique on ``key`` so the same reminder is
  never scheduled twice; ``state`` is ``scheduled``, ``awaiting_approval``, ``sending``
  (claimed by one sender until ``lease_until``), ``sent`` (``sent_seq``: the line in the
  conversation's log), ``skipped`` (``reason``) or ``cancelled``.
- ``proactive_optouts``: a client's "stop": every later proactive message to that
  conversation (or client) is skipped.

Rows cascade with their conversation (a privacy erase deletes it).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they are at this revision (not imported from the live models, which may change).
TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "proactive_messages",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("sent_seq", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_proactive_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_proactive_messages_key")),
    )
    op.create_index("ix_proactive_messages_state_due_at", "proactive_messages", ["state", "due_at"])
    op.create_index(op.f("ix_proactive_messages_conversation_id"), "proactive_messages", ["conversation_id"])
    op.create_index(op.f("ix_proactive_messages_client_id"), "proactive_messages", ["client_id"])
    op.create_table(
        "proactive_optouts",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_proactive_optouts_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_proactive_optouts")),
    )
    op.create_index(op.f("ix_proactive_optouts_client_id"), "proactive_optouts", ["client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_proactive_optouts_client_id"), table_name="proactive_optouts")
    op.drop_table("proactive_optouts")
    op.drop_index(op.f("ix_proactive_messages_client_id"), table_name="proactive_messages")
    op.drop_index(op.f("ix_proactive_messages_conversation_id"), table_name="proactive_messages")
    op.drop_index("ix_proactive_messages_state_due_at", table_name="proactive_messages")
    op.drop_table("proactive_messages")
