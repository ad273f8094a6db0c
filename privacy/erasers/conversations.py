"""The event store's part: conversations, their events and the inbound journal.

A conversation row, every event of it (messages, slots such as the client's name and
tier, handoff tickets, notes, CSAT) and every inbound journal row (the raw message as
received, with provider metadata) belong to the person whose conversation it is. Erase
deletes all three; retention deletes journal rows a fixed time after they were processed
(the journal exists to survive a crash and to recognise provider retries, both short-lived);
whole conversations past their TTL come through :meth:`ConversationEraser.erase` from
:mod:`privacy.retention`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from bot.store.tables import conversations, events, inbound_messages
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, cutoff, row_dict
from privacy.subject import DataSubject


class ConversationEraser:
    """``conversations``, ``events`` and ``inbound_messages`` (bot/store/tables.py)."""

    name = "conversations"

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """Each conversation with its events (Rasa's wire format) and inbound journal rows."""
        out: list[dict[str, Any]] = []
        for ids in chunked(subject.conversation_ids):
            rows = await run.conn.execute(select(conversations).where(conversations.c.id.in_(ids)))
            by_id = {row.id: {**row_dict(row._mapping), "events": [], "inbound": []} for row in rows}
            for row in await run.conn.execute(
                select(events.c.conversation_id, events.c.seq, events.c.data)
                .where(events.c.conversation_id.in_(ids))
                .order_by(events.c.conversation_id, events.c.seq)
            ):
                by_id[row.conversation_id]["events"].append({"seq": row.seq, **row.data})
            for row in await run.conn.execute(
                select(inbound_messages)
                .where(inbound_messages.c.conversation_id.in_(ids))
                .order_by(inbound_messages.c.id)
            ):
                by_id[row.conversation_id]["inbound"].append(row_dict(row._mapping))
            out += [by_id[key] for key in sorted(by_id)]
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete the conversations with their events and journal rows; returns rows deleted."""
        removed = 0
        for ids in chunked(subject.conversation_ids):
            for table in (events, inbound_messages):
                result = await run.conn.execute(delete(table).where(table.c.conversation_id.in_(ids)))
                removed += result.rowcount or 0
            result = await run.conn.execute(delete(conversations).where(conversations.c.id.in_(ids)))
            removed += result.rowcount or 0
        return removed

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Delete journal rows processed (or failed) longer ago than ``inbound_payload_days``;
        rows still waiting to be processed are never touched."""
        before = cutoff(run.now, retention.inbound_payload_days)
        if before is None:
            return 0
        result = await run.conn.execute(
            delete(inbound_messages).where(
                inbound_messages.c.status.in_(("processed", "failed")),
                inbound_messages.c.processed_at < before,
            )
        )
        return result.rowcount or 0
