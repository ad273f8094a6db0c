"""Inbound attempts: how many times a stored message's processing was started, on any process.

``inbound_messages.attempts`` is incremented in a committed transaction of its own before
each recovery attempt (:class:`bot.recovery.RecoveryLoop`), so an attempt that kills its
process (``kill -9``, out of memory) still counts, and a poison message is parked after
``max_attempts`` starts across all processes and restarts, not ``max_attempts`` per process.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("attempts")
