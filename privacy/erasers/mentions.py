"""The subject's data inside *other* people's records: scrubbed where it stands.

A phone number or e-mail address can sit in a conversation that is not the subject's:
a sender who claimed it as an (unverified) contact hint, someone who typed it in a
message, a reply that quoted it, an outbox payload carrying that reply. Those records are
someone else's and stay, but the subject's values in them become ``[erased]``
(:meth:`~privacy.subject.DataSubject.scrub`: their phone in any notation, their e-mail,
their other identities, their full name). This needs a pass over the stored messages
(erase is rare; the pass streams them); retention's subjects carry no identities and skip it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, select, update

from bot.channels.tables import outbox
from bot.store.tables import events, inbound_messages
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.subject import DataSubject

#: (table, JSON column) of records that carry message text and contact details
TARGETS: tuple[tuple[Table, str], ...] = (
    (events, "data"),
    (inbound_messages, "payload"),
    (outbox, "payload"),
)
BATCH = 1000


def scrub_json(value: Any, subject: DataSubject) -> Any:
    """``value`` with the subject's data scrubbed from every string in it."""
    if isinstance(value, str):
        return subject.scrub(value)
    if isinstance(value, dict):
        return {key: scrub_json(inner, subject) for key, inner in value.items()}
    if isinstance(value, list):
        return [scrub_json(inner, subject) for inner in value]
    return value


class MentionEraser:
    """Mentions of the subject in events, inbound journal rows and outbox rows of others."""

    name = "mentions"

    async def _found(self, subject: DataSubject, run: Run) -> list[tuple[Table, str, int, Any]]:
        """(table, column, row id, value) of every other conversation's record naming the subject."""
        pattern = subject.pattern()
        if pattern is None:
            return []
        found: list[tuple[Table, str, int, Any]] = []
        for table, column in TARGETS:
            stmt = select(table.c.id, table.c.conversation_id, table.c[column]).order_by(table.c.id)
            result = await run.conn.stream(stmt.execution_options(yield_per=BATCH))
            async for row in result:
                if row.conversation_id in subject.conversation_ids:
                    continue  # erased whole by its own eraser
                value = row[2]
                text = json.dumps(value, ensure_ascii=False)
                if subject.mentions(text):
                    found.append((table, column, row.id, value))
        return found

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """Where the subject's data appears in others' records: the table and the values found
        (never the other person's conversation or text)."""
        pattern = subject.pattern()
        out: list[dict[str, Any]] = []
        for table, _column, _row_id, value in await self._found(subject, run):
            assert pattern is not None
            matches = sorted(set(pattern.findall(json.dumps(value, ensure_ascii=False))))
            out.append({"table": table.name, "values": matches})
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Scrub those records in place; returns how many changed."""
        found = await self._found(subject, run)
        for table, column, row_id, value in found:
            await run.conn.execute(
                update(table).where(table.c.id == row_id).values({column: scrub_json(value, subject)})
            )
        return len(found)

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Mentions follow the records they are in."""
        return 0
