"""Database tables of the client profiles (SQLAlchemy Core; SQLite and PostgreSQL).

Created by the Alembic revision ``0003_handoff`` (``EventStore.migrate()``); a test checks
the migrated schema against these definitions. Money is stored in
minor units (grosze) as integers: exact on both databases, no Decimal round-trips.
A merged-away client keeps its row with ``merged_into`` pointing at the survivor, so
old references still resolve.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.store.tables import NAMING_CONVENTION, JSONType, UTCDateTime

# The event log's naming convention, so constraint names match the Alembic revision.
METADATA = MetaData(naming_convention=NAMING_CONVENTION)

clients = Table(
    "clients",
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("external_id", String(64), unique=True, nullable=True),
    Column("first_name", String(100), nullable=False, default=""),
    Column("last_name", String(100), nullable=False, default=""),
    Column("language", String(8), nullable=True),
    Column("birthday", Date, nullable=True),
    Column("membership", String(32), nullable=True),
    Column("tier_override", String(16), nullable=True),
    Column("concierge_agent_id", String(64), nullable=True),
    Column("home_location", String(64), nullable=True),
    Column("preferences", JSONType, nullable=False, default=dict),
    Column("merged_into", String(32), ForeignKey("clients.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

client_identities = Table(
    "client_identities",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), ForeignKey("clients.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("kind", "value"),
)

client_visits = Table(
    "client_visits",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), ForeignKey("clients.id"), nullable=False),
    Column("visited_on", Date, nullable=False),
    Column("category", String(32), nullable=False),
    Column("service", String(200), nullable=False, default=""),
    Column("location", String(64), nullable=True),
    Column("amount_minor", Integer, nullable=False, default=0),
    Column("currency", String(3), nullable=False, default="PLN"),
    Column("staff", String(100), nullable=True),
    Index("ix_client_visits_client_id_visited_on", "client_id", "visited_on"),
)

client_notes = Table(
    "client_notes",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), ForeignKey("clients.id"), nullable=False, index=True),
    Column("author", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
