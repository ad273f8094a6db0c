"""A rule's priority lasts one handoff: it ends, in the append's transaction, with that handoff.

Rules store ``set_priority`` as the ``priority`` row of ``conversation_labels``, and the
console's queue ranks waiting conversations by it. Conversation ids are per channel and
sender, so a priority left in place would rank the same client first on every later
handoff. :class:`PriorityExpiry` is a :class:`~bot.store.projections.Projector` on
``handoff_status``: when a handoff ends (resolved, or returned to the bot) it deletes the
priority set before that end, in the SAME transaction as the append, whichever process
wrote it and whether or not a rule watches ``resolved``. A priority set while the bot
still talks (a rule on ``message_received`` that then hands off) counts for the handoff
that follows, because only an end removes it.

Only rows added at or before the ending event's time are deleted, so replaying the log
(``concierge projections rebuild``) removes what earlier ends ended and keeps the priority
of the handoff open now. Tags (``tag:<name>``) are not touched: they describe the client.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from automation.tables import conversation_labels
from bot.events import HandoffStatus, HandoffStatusChanged
from bot.store.event_store import StoredEvent

#: the ``conversation_labels`` label a rule's ``set_priority`` is stored under
PRIORITY_LABEL = "priority"
#: a handoff is open in these statuses, and ends when it leaves them for ``resolved`` or ``bot``
OPEN = frozenset({HandoffStatus.QUEUED, HandoffStatus.ASSIGNED})
ENDS = frozenset({HandoffStatus.RESOLVED, HandoffStatus.BOT})


def handoff_ends(stored: Sequence[StoredEvent]) -> list[float]:
    """When the handoffs in ``stored`` ended (pure). ``resolved -> bot`` ends nothing: that
    handoff ended when it was resolved, and a priority set since is for the next one."""
    return [
        s.event.timestamp
        for s in stored
        if isinstance(s.event, HandoffStatusChanged)
        and s.event.from_status in OPEN
        and s.event.to_status in ENDS
    ]


class PriorityExpiry:
    """Projector that deletes a conversation's rule priority when its handoff ends."""

    name = "rule_priority_expiry"
    handles: frozenset[str] = frozenset({"handoff_status"})

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Delete the priority set at or before the latest end among ``stored``."""
        ends = handoff_ends(stored)
        if not ends:
            return
        labels = conversation_labels.c
        await conn.execute(
            delete(conversation_labels).where(
                labels.conversation_id == conversation_id,
                labels.label == PRIORITY_LABEL,
                labels.added_at <= max(ends),
            )
        )

    async def reset(self, conn: AsyncConnection) -> None:
        """Nothing to forget: the labels are the rules' writes, not derived from the log (a
        rebuild applies the ends again, which removes only what they ended)."""
