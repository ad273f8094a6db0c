"""Automation rules: the inbox of events rules may fire on, firings (one per rule, conversation
and event seq: the unique key is what makes a rule fire once across processes), saved rule
versions, and conversation labels (tags, priority) set by rules.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _conversation_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["conversation_id"],
        ["conversations.id"],
        name=op.f(f"fk_{table}_conversation_id_conversations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "automation_inbox",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        _conversation_fk("automation_inbox"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_inbox")),
        sa.UniqueConstraint(
            "conversation_id", "seq", "trigger", name=op.f("uq_automation_inbox_conversation_id_seq_trigger")
        ),
    )
    op.create_index(op.f("ix_automation_inbox_done_id"), "automation_inbox", ["done", "id"])
    op.create_table(
        "automation_firings",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("fired_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("results", JSON, nullable=False),
        _conversation_fk("automation_firings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_firings")),
        sa.UniqueConstraint(
            "rule_id",
            "conversation_id",
            "seq",
            name=op.f("uq_automation_firings_rule_id_conversation_id_seq"),
        ),
    )
    op.create_table(
        "automation_rule_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("comment", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_automation_rule_versions")),
    )
    op.create_table(
        "conversation_labels",
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("value", sa.String(80), nullable=False),
        sa.Column("added_by", sa.String(80), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        _conversation_fk("conversation_labels"),
        sa.PrimaryKeyConstraint("conversation_id", "label", name=op.f("pk_conversation_labels")),
    )


def downgrade() -> None:
    op.drop_table("conversation_labels")
    op.drop_table("automation_rule_versions")
    op.drop_table("automation_firings")
    op.drop_index(op.f("ix_automation_inbox_done_id"), table_name="automation_inbox")
    op.drop_table("automation_inbox")
