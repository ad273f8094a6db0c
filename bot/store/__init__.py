"""The durable event log (SQLAlchemy 2 async): SQLite by default, PostgreSQL by URL.

``EventStore.from_url(url)`` then ``await store.migrate()``; the schema is owned by the
Alembic revisions in :mod:`bot.migrations`.
"""

from bot.store.database import async_url, create_engine, scratch_schema
from bot.store.event_store import (
    ConversationSummary,
    EventStore,
    InboundStatus,
    StoredEvent,
    split_conversation_id,
)

__all__ = [
    "ConversationSummary",
    "EventStore",
    "InboundStatus",
    "StoredEvent",
    "async_url",
    "create_engine",
    "scratch_schema",
    "split_conversation_id",
]
