"""Applying handoff transitions to a conversation's event log.

:class:`HandoffService` reads a conversation's status from its log, validates the move
against the one table (:func:`handoff.state.transition`) and appends the resulting
events through the engine (``Engine.append``: under the conversation's lock, pushed to
the console and widget subscribers). Moves on one conversation are serialised within
the process so two agents clicking "claim" at once cannot both win.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bot.events import Event, HandoffRequested
from handoff.state import HandoffStatus, HandoffTicket, current_status, ticket, transition
from handoff.triggers import TriggerHit

if TYPE_CHECKING:
    from bot.engine import Engine


class EventAppender(Protocol):
    """Appends events to a conversation (``Engine.append``, or an event store's ``append``)."""

    async def append(self, conversation_id: str, events: list[Event]) -> Any: ...


class EventReader(Protocol):
    """Reads a conversation's events, oldest first (an event store's ``events``)."""

    async def events(self, conversation_id: str) -> list[Event]: ...


class ConversationLog(EventAppender, EventReader, Protocol):
    """Both halves; an ``EventStore`` is one, an :class:`EngineLog` makes an Engine one."""


class EngineLog:
    """Reads through the engine's store, appends through the engine (lock + live push)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def append(self, conversation_id: str, events: list[Event]) -> Any:
        """Append via ``Engine.append``."""
        return await self.engine.append(conversation_id, events)

    async def events(self, conversation_id: str) -> list[Event]:
        """The conversation's stored events."""
        return await self.engine.store.events(conversation_id)


class HandoffService:
    """Moves conversations between the bot, the queue and agents, one logged event at a time."""

    def __init__(self, log: ConversationLog, *, clock: Callable[[], float] = time.time) -> None:
        self.log = log
        self.clock = clock
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def status(self, conversation_id: str) -> HandoffStatus:
        """Where the conversation is now."""
        return current_status(await self.log.events(conversation_id))

    async def ticket(self, conversation_id: str) -> HandoffTicket:
        """The conversation's current handoff, folded from its log."""
        return ticket(conversation_id, await self.log.events(conversation_id))

    async def move(
        self,
        conversation_id: str,
        target: HandoffStatus | str,
        *,
        actor: str,
        reason: str | None = None,
        metadata: dict[str, Any] | None = None,
        before: Sequence[Event] = (),
        timestamp: float | None = None,
    ) -> list[Event]:
        """Apply one transition (the only write path); raises ``IllegalTransition`` and
        writes nothing if the table forbids it. ``before`` events are appended in the same
        batch ahead of the status change (e.g. the ``HandoffRequested`` that explains it)."""
        async with self._locks[conversation_id]:
            current = await self.status(conversation_id)
            events = [
                *before,
                *transition(
                    current,
                    target,
                    actor=actor,
                    reason=reason,
                    metadata=metadata,
                    timestamp=self.clock() if timestamp is None else timestamp,
                ),
            ]
            await self.log.append(conversation_id, events)
            return events

    async def request(
        self,
        conversation_id: str,
        reason: str,
        detail: str | None = None,
        *,
        actor: str = "bot",
        metadata: dict[str, Any] | None = None,
    ) -> list[Event]:
        """Hand the conversation to the queue, recording why (``HandoffRequested`` + ``bot -> queued``)."""
        at = self.clock()
        requested = HandoffRequested(reason=reason, detail=detail, timestamp=at)
        return await self.move(
            conversation_id,
            HandoffStatus.QUEUED,
            actor=actor,
            reason=reason,
            metadata=metadata,
            before=[requested],
            timestamp=at,
        )

    async def escalate(self, conversation_id: str, hits: Sequence[TriggerHit]) -> list[Event]:
        """Request a handoff for the first trigger hit if the bot still owns the conversation;
        returns no events when nothing fired or a person already has it."""
        if not hits or await self.status(conversation_id) != HandoffStatus.BOT:
            return []
        first = hits[0]
        others = [h.reason for h in hits[1:]]
        return await self.request(
            conversation_id, first.reason, first.explanation, metadata={"also": others} if others else None
        )

    async def claim(self, conversation_id: str, agent_id: str, *, by: str | None = None) -> list[Event]:
        """Give a queued conversation to ``agent_id`` (``by`` someone else when a manager assigns)."""
        actor = by or agent_id
        reason = "claimed" if actor == agent_id else f"assigned by {actor}"
        return await self.move(
            conversation_id,
            HandoffStatus.ASSIGNED,
            actor=actor,
            reason=reason,
            metadata={"agent_id": agent_id},
        )

    async def transfer(self, conversation_id: str, actor: str, reason: str = "transferred") -> list[Event]:
        """Put an assigned conversation back in the queue (transfer or unassign)."""
        return await self.move(conversation_id, HandoffStatus.QUEUED, actor=actor, reason=reason)

    async def resolve(self, conversation_id: str, actor: str, reason: str = "resolved") -> list[Event]:
        """Mark the conversation resolved (the bot stays silent until it is returned)."""
        return await self.move(conversation_id, HandoffStatus.RESOLVED, actor=actor, reason=reason)

    async def return_to_bot(
        self, conversation_id: str, actor: str, reason: str = "returned to bot"
    ) -> list[Event]:
        """Hand the conversation back to the bot, explicitly (from queued, assigned or resolved)."""
        return await self.move(conversation_id, HandoffStatus.BOT, actor=actor, reason=reason)
