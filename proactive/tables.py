"""The scheduler's tables (Alembic revision ``0017_proactive``; the migration test compares them).

- ``proactive_messages``: one row per message the concierge sends first, unique on ``key``
  (``appointment_reminder:MH-12345:24h``) so the same reminder is never scheduled twice.
  ``state``: ``scheduled`` -> ``sending`` (claimed by one sender until ``lease_until``;
  ``attempts`` is the claim's number) -> ``sent`` (``sent_seq``: its line in the log) or
  ``skipped`` (``reason``); ``awaiting_approval`` until an agent approves (``scheduled``) or
  rejects (``cancelled``) it; ``cancelled`` by an action's ``cancel_reminder`` too.
- ``proactive_optouts``: a client's "stop"; every later proactive message to the
  conversation (or to the same client) is skipped.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table, UniqueConstraint

from bot.store.tables import NAMING_CONVENTION, BigIntId, JSONType, UTCDateTime

METADATA = MetaData(naming_convention=NAMING_CONVENTION)

proactive_messages = Table(
    "proactive_messages",
    METADATA,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column(
        "conversation_id",
        String(255),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("client_id", String(64), nullable=True, index=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("state", String(24), nullable=False),
    Column("reason", String(255), nullable=True),
    Column("params", JSONType, nullable=False),
    Column("language", String(8), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("decided_by", String(255), nullable=True),
    Column("sent_seq", Integer, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("key"),
    Index("ix_proactive_messages_state_due_at", "state", "due_at"),
)

proactive_optouts = Table(
    "proactive_optouts",
    METADATA,
    Column(
        "conversation_id",
        String(255),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("client_id", String(64), nullable=True, index=True),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
