"""The outbox table: one durable row per message we send to a client (SQLAlchemy Core).

Created by the Alembic revision ``0004_outbox`` (``EventStore.migrate()``); a test checks
the migrated schema against this definition. ``idempotency_key`` is unique, so a turn
that is retried (a provider redelivery, a restart) cannot enqueue the same reply twice.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Integer, MetaData, String, Table, Text

from bot.store.tables import NAMING_CONVENTION, BigIntId, JSONType, UTCDateTime

OUTBOX_STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed")

METADATA = MetaData(naming_convention=NAMING_CONVENTION)

outbox = Table(
    "outbox",
    METADATA,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("recipient_id", String(255), nullable=False),
    Column("conversation_id", String(255), nullable=False),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("payload", JSONType, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("provider_message_id", String(255), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("read_at", UTCDateTime(), nullable=True),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in OUTBOX_STATUSES) + ")", name="status"),
    # the worker's "what is due" scan
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    # one conversation's messages in order (the worker sends the oldest unfinished first)
    Index("ix_outbox_conversation_id_id", "conversation_id", "id"),
    # receipts find their row by the provider's message id
    Index("ix_outbox_channel_provider_message_id", "channel", "provider_message_id"),
)

#: the one place a client's channel address (phone, e-mail, chat id, page-scoped id) lives;
#: conversation ids are ``<channel>:<opaque token>`` (:mod:`bot.channels.addresses`)
channel_addresses = Table(
    "channel_addresses",
    METADATA,
    Column("conversation_id", String(255), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("address", String(320), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # privacy: the conversations written from one address (export, erase, recognition)
    Index("ix_channel_addresses_channel_address", "channel", "address"),
)

#: server secrets kept in the database, so every process and host derives the same ids
#: (``conversation_ids``: the HMAC key of conversation ids); generated once, on first use
server_keys = Table(
    "server_keys",
    METADATA,
    Column("name", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
