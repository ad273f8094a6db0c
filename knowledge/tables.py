"""The knowledge base's tables: articles, their versions, knowledge gaps, golden questions.

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
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.store.tables import NAMING_CONVENTION, BigIntId, JSONType, UTCDateTime

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
    # revision 0019: when this version last went live (None: never published, a draft)
    Column("published_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("article_id", "version"),
)

#: one group of gap questions sharing a lexical key (revision 0016; knowledge/gaps.py)
gap_clusters = Table(
    "kb_gap_clusters",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("key", String(500), nullable=False),
    Column("example", Text, nullable=False),  # the earliest question still held
    Column("count", Integer, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    UniqueConstraint("key"),
)

#: each ``knowledge_gap`` event of the log (``conversation_id``, ``seq``), in its cluster
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
    Column("seq", Integer, nullable=True),  # revision 0016: the event's seq
    Column("cluster_id", BigIntId, ForeignKey("kb_gap_clusters.id", ondelete="CASCADE"), nullable=True),
    CheckConstraint("reason IN ('no_answer', 'low_confidence', 'handoff')", name="reason"),
    Index(None, "created_at"),
    Index(None, "cluster_id"),
    Index(None, "conversation_id"),
)

#: the golden questions the publish gate runs (revision 0016; knowledge/golden_store.py)
golden_questions = Table(
    "kb_golden_questions",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("question", String(500), nullable=False),
    Column("wording", String(500), nullable=False),  # casefolded, for "already a golden question"
    Column("language", String(8), nullable=False),
    Column("expect", JSONType, nullable=False),
    Column("facts", JSONType, nullable=False),
    Column("on_date", Date, nullable=True),
    Column("source", String(16), nullable=False),  # "file" (the seed) or "console"
    Column("created_by", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("language", "wording"),
)
