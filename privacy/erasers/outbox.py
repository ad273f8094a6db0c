"""The outbox's part: every message we sent (or are about to send) a client.

An outbox row carries the recipient's provider id (a phone number on WhatsApp, an
address on e-mail) and the message itself. Erase deletes the rows of the subject's
conversations, queued ones included (an erased client must not be written to). Retention
deletes rows a fixed time after they reached an end (sent, delivered, read, failed):
they matter for receipts and e-mail threading, both short-lived.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from bot.channels.tables import outbox
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, cutoff, row_dict
from privacy.subject import DataSubject

#: statuses after which a row only records what happened
FINISHED = ("sent", "delivered", "read", "failed")


class OutboxEraser:
    """The ``outbox`` table (bot/channels/tables.py)."""

    name = "outbox"

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """The subject's outbox rows, oldest first."""
        out: list[dict[str, Any]] = []
        for ids in chunked(subject.conversation_ids):
            rows = await run.conn.execute(
                select(outbox).where(outbox.c.conversation_id.in_(ids)).order_by(outbox.c.id)
            )
            out += [row_dict(row._mapping) for row in rows]
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete the rows of the subject's conversations; returns how many."""
        removed = 0
        for ids in chunked(subject.conversation_ids):
            result = await run.conn.execute(delete(outbox).where(outbox.c.conversation_id.in_(ids)))
            removed += result.rowcount or 0
        return removed

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Delete finished rows whose last change is older than ``outbox_days``."""
        before = cutoff(run.now, retention.outbox_days)
        if before is None:
            return 0
        result = await run.conn.execute(
            delete(outbox).where(outbox.c.status.in_(FINISHED), outbox.c.updated_at < before)
        )
        return result.rowcount or 0
