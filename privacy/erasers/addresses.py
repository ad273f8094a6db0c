"""The channel addresses' part: the one table where a client's phone number, e-mail address
or provider id sits next to the opaque id of their conversation (bot/channels/addresses.py).

Erase deletes the rows of the subject's conversations: the outbox cannot write to them any
more (a queued row fails as "no address on file"), and nothing maps the opaque id back to
the person. Rows of conversations past their TTL arrive through :meth:`erase` with them;
:meth:`expire` removes rows whose conversation no longer exists (it was never stored, e.g. a
webhook whose message was refused, or was deleted some other way).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from bot.channels.tables import channel_addresses
from bot.store.tables import conversations
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, row_dict
from privacy.subject import DataSubject


class AddressEraser:
    """The ``channel_addresses`` table (bot/channels/tables.py)."""

    name = "channel_addresses"

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """The subject's conversations' channel addresses."""
        out: list[dict[str, Any]] = []
        for ids in chunked(subject.conversation_ids):
            rows = await run.conn.execute(
                select(channel_addresses)
                .where(channel_addresses.c.conversation_id.in_(ids))
                .order_by(channel_addresses.c.conversation_id)
            )
            out += [row_dict(row._mapping) for row in rows]
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete the address rows of the subject's conversations; returns how many."""
        removed = 0
        for ids in chunked(subject.conversation_ids):
            result = await run.conn.execute(
                delete(channel_addresses).where(channel_addresses.c.conversation_id.in_(ids))
            )
            removed += result.rowcount or 0
        return removed

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Delete address rows older than a day whose conversation does not exist."""
        orphan = (
            ~select(conversations.c.id)
            .where(conversations.c.id == channel_addresses.c.conversation_id)
            .exists()
        )
        result = await run.conn.execute(
            delete(channel_addresses).where(
                orphan, channel_addresses.c.created_at < run.now - timedelta(days=1)
            )
        )
        return result.rowcount or 0
