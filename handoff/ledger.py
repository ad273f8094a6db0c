"""Handoff state across conversations, read from the tickets read model.

The queue ("every conversation waiting for a person") and an agent's load ("how many
conversations does Anna hold") are questions about many conversations at once. They are
answered from ``handoff_tickets`` (:mod:`handoff.projections`): one row per conversation
that ever left the bot, kept in step with the event log in each append's transaction and
rebuildable from it, so a question costs one indexed query instead of a scan of every
status event ever written. The log stays the only truth.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.events import HandoffStatusChanged, event_from_dict
from handoff.projections import TicketRow, handoff_tickets, ticket_from_row
from handoff.state import HandoffStatus


class HandoffLedger:
    """Reads the latest handoff status of every conversation that ever left the bot.

    The event store must have the handoff projectors registered
    (:func:`handoff.projections.handoff_projectors`; the handoff runtime does it), or the
    rows this reads are not kept up to date.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def latest(self) -> dict[str, HandoffStatusChanged]:
        """Conversation id -> its latest status change (conversations that never changed are absent)."""
        stmt = select(handoff_tickets.c.conversation_id, handoff_tickets.c.status_event).where(
            handoff_tickets.c.status_event.is_not(None)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        out: dict[str, HandoffStatusChanged] = {}
        for row in rows:
            event = event_from_dict(row.status_event)
            if isinstance(event, HandoffStatusChanged):
                out[row.conversation_id] = event
        return out

    async def tickets(self, *statuses: HandoffStatus) -> list[TicketRow]:
        """The stored tickets now in any of ``statuses``, oldest status change first."""
        stmt = (
            select(handoff_tickets)
            .where(handoff_tickets.c.status.in_([str(s) for s in statuses]))
            .order_by(handoff_tickets.c.status_changed_at, handoff_tickets.c.conversation_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [ticket_from_row(row) for row in rows]

    async def in_status(self, status: HandoffStatus) -> list[str]:
        """Ids of the conversations now in ``status``, oldest change first."""
        stmt = (
            select(handoff_tickets.c.conversation_id)
            .where(handoff_tickets.c.status == str(status), handoff_tickets.c.status_event.is_not(None))
            .order_by(handoff_tickets.c.status_changed_at, handoff_tickets.c.conversation_id)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars().all())

    async def assigned(self) -> dict[str, str]:
        """Conversation id -> the agent holding it, for every assigned conversation."""
        stmt = select(handoff_tickets.c.conversation_id, handoff_tickets.c.assigned_to).where(
            handoff_tickets.c.status == HandoffStatus.ASSIGNED.value
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {row.conversation_id: str(row.assigned_to) for row in rows}

    async def loads(self) -> Counter[str]:
        """Agent id -> how many conversations they hold now (one grouped query)."""
        stmt = (
            select(handoff_tickets.c.assigned_to, func.count())
            .where(handoff_tickets.c.status == HandoffStatus.ASSIGNED.value)
            .group_by(handoff_tickets.c.assigned_to)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return Counter({str(agent): count for agent, count in rows})
