"""Channels: opaque conversation ids. ``channel_addresses`` keeps each conversation's channel
address (the only place a phone, e-mail or provider id of a client's channel lives);
``server_keys`` keeps the HMAC key ids are derived with, shared by every process.

Conversations stored before this revision keep their ids (``<channel>:<address>``); see
docs/security.md, "Conversation ids".

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_addresses",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_channel_addresses")),
    )
    op.create_index("ix_channel_addresses_channel_address", "channel_addresses", ["channel", "address"])
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_keys")),
    )


def downgrade() -> None:
    op.drop_table("server_keys")
    op.drop_index("ix_channel_addresses_channel_address", table_name="channel_addresses")
    op.drop_table("channel_addresses")
