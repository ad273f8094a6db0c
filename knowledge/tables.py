"""The knowledge base's tables: articles, their versions, and knowledge gaps.

Own ``MetaData`` (same naming convention as the event log's) so this package stays
separate; the schema is built by the Alembic revision ``0002_knowledge`` in
:mod:`bot.migrations`, never by ``create_all``. Alembic's ``env.py`` should list
``knowledge.tables.metadata`` in ``target_metadata`` so autogenerate and the schema
test see these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from bot.store.tables import NAMING_CONVENTION, BigIntId, UTCDateTime

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ARTICLE_STATUSES = ("draft", "published", "unpublished")
GAP_REASONS = ("no_answer", "low_confidence", "handoff")

articles = Table(
    "kb_articles",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("published_version", Integer, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(255), nullable=False),
    CheckConstraint("status IN ('draft', 'published', 'unpublished')", name="status"),
)

article_versions = Table(
    "kb_article_versions",
    metadata,
    Column("article_id", String(128), ForeignKey("kb_articles.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("author", String(255), nullable=False),
    Column("note", String(500), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("article_id", "version"),
)

gaps = Table(
    "kb_gaps",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("question", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("score", Float, nullable=True),
    Column("conversation_id", String(255), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("tried", Text, nullable=True),  # revision 0012: what was tried before giving up
    CheckConstraint("reason IN ('no_answer', 'low_confidence', 'handoff')", name="reason"),
    Index(None, "created_at"),
)
