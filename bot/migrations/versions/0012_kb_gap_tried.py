"""Knowledge gaps: what was tried (``kb_gaps.tried``), so an editor sees why a question went
unanswered (the intent and response-selector guesses, the best article and its score).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kb_gaps") as batch:
        batch.add_column(sa.Column("tried", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_gaps") as batch:
        batch.drop_column("tried")
