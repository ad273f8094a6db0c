"""Automation's tables (Alembic revision ``0010_automation``; a test compares them).

- ``automation_inbox``: one row per (conversation, event seq, trigger) a rule could fire on,
  written by :class:`automation.inbox.AutomationInbox` in the SAME transaction as the append
  that produced the event, so no event is missed whichever process wrote it. ``due_at`` is
  set for time-based triggers (an SLA watch starts at the queueing time); ``done`` once a
  runner has evaluated it.
- ``automation_firings``: what fired, unique on (rule, conversation, seq): two runners (two
  processes) that both evaluate an inbox row both try to insert; the database lets one win,
  and only the winner runs the actions.
- ``automation_rule_versions``: every saved rule set (console edits), newest wins; the
  file ``automation.yml`` is version 0 until someone saves one.
- ``conversation_labels``: tags and a priority set by rules (``tag:<name>``, ``priority``).

Rows that name a conversation cascade with it (privacy erase deletes the conversation).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.store.tables import NAMING_CONVENTION, BigIntId, JSONType, UTCDateTime

METADATA = MetaData(naming_convention=NAMING_CONVENTION)


def _conversation() -> Column[str]:
    return Column(
        "conversation_id", String(255), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )


automation_inbox = Table(
    "automation_inbox",
    METADATA,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    _conversation(),
    Column("seq", Integer, nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Column("due_at", Float, nullable=True),
    Column("done", Boolean, nullable=False, default=False),
    UniqueConstraint("conversation_id", "seq", "trigger"),
    Index("ix_automation_inbox_done_id", "done", "id"),
)

automation_firings = Table(
    "automation_firings",
    METADATA,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("rule_id", String(64), nullable=False),
    _conversation(),
    Column("seq", Integer, nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("rules_version", Integer, nullable=False),
    Column("fired_at", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("results", JSONType, nullable=False),
    UniqueConstraint("rule_id", "conversation_id", "seq"),
)

automation_rule_versions = Table(
    "automation_rule_versions",
    METADATA,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("source", Text, nullable=False),
    Column("author", String(64), nullable=False),
    Column("comment", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

conversation_labels = Table(
    "conversation_labels",
    METADATA,
    Column(
        "conversation_id",
        String(255),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("label", String(80), primary_key=True),
    Column("value", String(80), nullable=False),
    Column("added_by", String(80), nullable=False),
    Column("added_at", Float, nullable=False),
)
