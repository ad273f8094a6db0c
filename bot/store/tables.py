"""The event log's tables as SQLAlchemy 2 typed ORM models.

These models describe the *current* schema; the schema a database really has is built
by the Alembic revisions in :mod:`bot.migrations` (never by ``create_all``), and a test
checks that the two agree. Queries use Core statements on ``Model.__table__`` so the
hot path (append, load) never builds ORM objects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names keep migrations reproducible across dialects (SQLite batch
# mode and downgrades need to name the constraint they drop).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

INBOUND_STATUSES = ("received", "processed", "failed")

# JSON everywhere, JSONB on PostgreSQL (indexable, compact, what analytics queries want).
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only aliases INTEGER PRIMARY KEY to the rowid; BIGINT there would not autoincrement.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no timezone type and hands back naive values; this stores UTC and
    always returns aware datetimes, so callers never compare naive with aware.
    A naive value given to it is taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # A naive value is taken to be UTC (what providers' epoch timestamps mean).
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the event log; its ``metadata`` is what Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONType, datetime: UTCDateTime()}


class ConversationRow(Base):
    """One conversation; ``last_seq`` is the per-conversation event counter.

    Appending bumps ``last_seq`` with one atomic upsert, which row-locks the
    conversation, so concurrent appenders get consecutive, distinct ``seq`` numbers.
    """

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class EventRow(Base):
    """One event of a conversation, in Rasa's wire format (``data``), numbered by ``seq``."""

    __tablename__ = "events"
    # The unique (conversation_id, seq) index also serves every "events of a conversation"
    # lookup, so conversation_id needs no index of its own.
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class InboundMessageRow(Base):
    """A client message as received, stored before it is acknowledged to the provider.

    The unique (conversation_id, message_id) pair is how provider retries are
    recognised; ``status`` lets a restarted process find what it never finished.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "message_id"),
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in INBOUND_STATUSES) + ")", name="status"),
        # pending_inbound(): "received, oldest first"
        Index("ix_inbound_messages_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="received", server_default="received")
    payload: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    # recovery attempts started on any process, counted before each one (revision 0009)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TrackerSnapshotRow(Base):
    """A conversation's tracker folded up to ``seq`` (a cache of the log, bot/store/snapshots.py).

    Valid only for the model ``fingerprint`` it was folded with and while the stored event
    at ``seq`` still has ``last_type`` and ``last_timestamp``; rebuildable from the log.
    """

    __tablename__ = "tracker_snapshots"

    conversation_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    last_type: Mapped[str] = mapped_column(String(64))
    last_timestamp: Mapped[float] = mapped_column(Float)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


conversations: Table = ConversationRow.__table__  # type: ignore[assignment]
events: Table = EventRow.__table__  # type: ignore[assignment]
inbound_messages: Table = InboundMessageRow.__table__  # type: ignore[assignment]
tracker_snapshots: Table = TrackerSnapshotRow.__table__  # type: ignore[assignment]
