"""Read models kept in step with the event log (the read side of the store).

A :class:`Projector` owns a table (or a few) that answers a question the log answers
only slowly: "which conversations wait for a person", "what is this conversation's
tracker now". The store applies every registered projector inside the SAME transaction
as the append that produced the events, so a read model never disagrees with the log
it was derived from, whichever process wrote. Each one can be rebuilt from the log
(``EventStore.rebuild_projections``, ``concierge projections rebuild``).

The seam lives in ``bot/`` and imports nothing above it: handoff, knowledge and the
console implement projectors, and the composition root registers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from bot.store.event_store import StoredEvent


@runtime_checkable
class Projector(Protocol):
    """A read model: which events it follows, how it applies them, how it starts over."""

    #: unique name (``concierge projections rebuild --only NAME``)
    name: str
    #: event type names it follows (``Event.event``, e.g. ``"handoff_status"``); empty = every event
    handles: frozenset[str]

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Fold newly appended events (in ``seq`` order) into the read model, on ``conn``
        (the append's own transaction)."""
        ...

    async def reset(self, conn: AsyncConnection) -> None:
        """Forget everything (delete its rows); a rebuild then applies the whole log."""
        ...


def wants(projector: Projector, stored: Sequence[StoredEvent]) -> list[StoredEvent]:
    """The events of ``stored`` that ``projector`` follows (all of them when it follows all)."""
    if not projector.handles:
        return list(stored)
    return [s for s in stored if s.event.event in projector.handles]
