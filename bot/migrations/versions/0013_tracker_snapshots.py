"""Tracker snapshots (``tracker_snapshots``): a conversation's tracker as folded up to a
``seq``, so the first turn after a restart, or on another worker, reads one row plus the
events after it instead of folding the whole log (``bot/store/snapshots.py``).

A row is only a cache of the log: it names the model fingerprint it was folded with (a
retrained domain or config ignores it) and the seq, type and timestamp of the last event
it folded (a rewritten or erased log ignores it); it cascades with its conversation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they are at this revision (not imported from the live models, which may change).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tracker_snapshots",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("last_type", sa.String(64), nullable=False),
        sa.Column("last_timestamp", sa.Float(), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_tracker_snapshots_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_tracker_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("tracker_snapshots")
