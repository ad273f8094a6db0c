"""Handoff: client profiles, their identities across channels, visits and notes.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they were at this revision (not imported from the live models, which will change).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("membership", sa.String(32), nullable=True),
        sa.Column("tier_override", sa.String(16), nullable=True),
        sa.Column("concierge_agent_id", sa.String(64), nullable=True),
        sa.Column("home_location", sa.String(64), nullable=True),
        sa.Column("preferences", JSON, nullable=False),
        sa.Column("merged_into", sa.String(32), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("external_id", name=op.f("uq_clients_external_id")),
        sa.ForeignKeyConstraint(["merged_into"], ["clients.id"], name=op.f("fk_clients_merged_into_clients")),
    )
    op.create_table(
        "client_identities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_identities")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_client_identities_kind_value")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_identities_client_id_clients")
        ),
    )
    op.create_index(op.f("ix_client_identities_client_id"), "client_identities", ["client_id"])
    op.create_table(
        "client_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("location", sa.String(64), nullable=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("staff", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_visits")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_visits_client_id_clients")
        ),
    )
    op.create_index(
        op.f("ix_client_visits_client_id_visited_on"), "client_visits", ["client_id", "visited_on"]
    )
    op.create_table(
        "client_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_notes")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_notes_client_id_clients")
        ),
    )
    op.create_index(op.f("ix_client_notes_client_id"), "client_notes", ["client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_client_notes_client_id"), table_name="client_notes")
    op.drop_table("client_notes")
    op.drop_index(op.f("ix_client_visits_client_id_visited_on"), table_name="client_visits")
    op.drop_table("client_visits")
    op.drop_index(op.f("ix_client_identities_client_id"), table_name="client_identities")
    op.drop_table("client_identities")
    op.drop_table("clients")
