"""Handoff state across conversations, read from the one event log.

The queue ("every conversation waiting for a person") and an agent's load ("how many
conversations does Anna hold") are questions about many conversations at once. The
answer is each conversation's latest ``handoff_status`` event, read with one query;
nothing is copied into a table of its own, so the log stays the only truth.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.events import HandoffStatusChanged, event_from_dict
from bot.store.tables import events
from handoff.state import HandoffStatus

STATUS_EVENT = "handoff_status"


class HandoffLedger:
    """Reads the latest handoff status of every conversation that ever left the bot."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def latest(self) -> dict[str, HandoffStatusChanged]:
        """Conversation id -> its latest status change (conversations that never changed are absent)."""
        last = (
            select(events.c.conversation_id, func.max(events.c.seq).label("seq"))
            .where(events.c.type == STATUS_EVENT)
            .group_by(events.c.conversation_id)
            .subquery()
        )
        stmt = select(events.c.conversation_id, events.c.data).join(
            last, (events.c.conversation_id == last.c.conversation_id) & (events.c.seq == last.c.seq)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        out: dict[str, HandoffStatusChanged] = {}
        for row in rows:
            event = event_from_dict(row.data)
            if isinstance(event, HandoffStatusChanged):
                out[row.conversation_id] = event
        return out

    async def in_status(self, status: HandoffStatus) -> list[str]:
        """Ids of the conversations now in ``status``, oldest change first."""
        latest = await self.latest()
        chosen = [(e.timestamp, cid) for cid, e in latest.items() if e.to_status == status]
        return [cid for _, cid in sorted(chosen)]

    async def assigned(self) -> dict[str, str]:
        """Conversation id -> the agent holding it, for every assigned conversation."""
        return {
            cid: str(e.metadata.get("agent_id") or e.actor)
            for cid, e in (await self.latest()).items()
            if e.to_status == HandoffStatus.ASSIGNED
        }

    async def loads(self) -> Counter[str]:
        """Agent id -> how many conversations they hold now."""
        return Counter((await self.assigned()).values())
