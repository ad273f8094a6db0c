"""Knowledge article versions remember when they went live (``kb_article_versions.published_at``),
so the editor offers a rollback only to a version clients were once told, never to a draft.

Backfill: the version live now went live at the article's last change (``kb_articles.updated_at``,
as good as the table knows), and a version imported from a file was published on import (its
``created_at``). Earlier console publishes left no trace; those versions stay unmarked.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they are at this revision (not imported from the live models, which may change).
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("kb_article_versions") as batch:
        batch.add_column(sa.Column("published_at", TIMESTAMP, nullable=True))
    op.execute("UPDATE kb_article_versions SET published_at = created_at WHERE note = 'imported from file'")
    op.execute(
        "UPDATE kb_article_versions SET published_at = ("
        " SELECT a.updated_at FROM kb_articles a"
        " WHERE a.id = kb_article_versions.article_id AND a.published_version = kb_article_versions.version"
        ") WHERE published_at IS NULL AND EXISTS ("
        " SELECT 1 FROM kb_articles a"
        " WHERE a.id = kb_article_versions.article_id AND a.published_version = kb_article_versions.version)"
    )


def downgrade() -> None:
    with op.batch_alter_table("kb_article_versions") as batch:
        batch.drop_column("published_at")
