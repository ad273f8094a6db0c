"""Applying handoff transitions to a conversation's event log.

:class:`HandoffService` reads a conversation's events and last ``seq`` (one read), checks
the move against the one table (:func:`handoff.state.transition`) and appends the
resulting events *only if the conversation is still at that seq*
(``append(..., expected_seq=...)``; see :class:`~bot.errors.ConcurrencyConflict`). When
another writer got there first (an agent claiming on another process, a client's message)
it reads again and checks again, a few times at most. So of two agents clicking "claim"
at once, on one process or two, exactly one wins; the other gets
:class:`~handoff.state.IllegalTransition` naming who holds the conversation now. No
process-local lock makes this true: the database's check on the append does.

Inside a bot turn (:class:`handoff.turn.TurnLog`) the log has no seq to check: the turn
holds the conversation's lock and its events, moves included, commit in one batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.errors import ConcurrencyConflict
from bot.events import Event, HandoffRequested
from bot.redact import conversation_ref
from handoff.state import (
    HandoffStatus,
    HandoffTicket,
    IllegalTransition,
    current_status,
    ticket,
    transition,
)
from handoff.triggers import TriggerHit

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.store import StoredEvent

log = logging.getLogger(__name__)

#: how many times a move reads, checks and appends before giving up on a very busy conversation
MAX_ATTEMPTS = 5


class EventAppender(Protocol):
    """Appends events to a conversation (``Engine.append``, or an event store's ``append``)."""

    async def append(self, conversation_id: str, events: list[Event]) -> Any: ...


class EventReader(Protocol):
    """Reads a conversation's events, oldest first (an event store's ``events``)."""

    async def events(self, conversation_id: str) -> list[Event]: ...


class ConversationLog(EventAppender, EventReader, Protocol):
    """Both halves; an ``EventStore`` is one, an :class:`EngineLog` makes an Engine one."""


@runtime_checkable
class VersionedLog(Protocol):
    """A log an optimistic writer can use: the events with the last ``seq`` in one read, and an
    append that writes nothing (``ConcurrencyConflict``) unless the last seq is still the one
    read. An ``EventStore`` is one; so is an :class:`EngineLog`."""

    async def load_with_seq(self, conversation_id: str) -> tuple[list[StoredEvent], int]: ...

    async def append(
        self, conversation_id: str, events: list[Event], *, expected_seq: int | None = None
    ) -> Any: ...


class EngineLog:
    """Reads through the engine's store, appends through the engine (lock + live push)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def append(
        self, conversation_id: str, events: list[Event], *, expected_seq: int | None = None
    ) -> Any:
        """Append via ``Engine.append`` (only at ``expected_seq`` when given)."""
        return await self.engine.append(conversation_id, events, expected_seq=expected_seq)

    async def events(self, conversation_id: str) -> list[Event]:
        """The conversation's stored events."""
        return await self.engine.store.events(conversation_id)

    async def load_with_seq(self, conversation_id: str) -> tuple[list[StoredEvent], int]:
        """The conversation's stored events and its last seq, in one read."""
        return await self.engine.store.load_with_seq(conversation_id)


class HandoffService:
    """Moves conversations between the bot, the queue and agents, one logged event at a time."""

    def __init__(self, log: ConversationLog, *, clock: Callable[[], float] = time.time) -> None:
        self.log = log
        self.clock = clock

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
        """Apply one transition (the only write path); raises ``IllegalTransition`` (with who
        holds the conversation) and writes nothing if the table forbids it. ``before`` events
        are appended in the same batch ahead of the status change (e.g. the
        ``HandoffRequested`` that explains it).

        On a versioned log the move is checked against what was read and appended only at
        that seq; a conflict means re-read and re-check, up to :data:`MAX_ATTEMPTS` times
        (then the last :class:`~bot.errors.ConcurrencyConflict` is raised, nothing written).
        """
        at = self.clock() if timestamp is None else timestamp
        if not isinstance(self.log, VersionedLog):  # inside a turn: its lock, its one commit
            events = self._plan(
                conversation_id,
                await self.log.events(conversation_id),
                target,
                at,
                before,
                actor=actor,
                reason=reason,
                metadata=metadata,
            )
            await self.log.append(conversation_id, events)
            return events
        conflict: ConcurrencyConflict | None = None
        for _ in range(MAX_ATTEMPTS):
            stored, seq = await self.log.load_with_seq(conversation_id)
            events = self._plan(
                conversation_id,
                [s.event for s in stored],
                target,
                at,
                before,
                actor=actor,
                reason=reason,
                metadata=metadata,
            )
            try:
                await self.log.append(conversation_id, events, expected_seq=seq)
            except ConcurrencyConflict as exc:  # someone wrote since we read: read and check again
                log.info(
                    "%s moved on while moving it to %s; checking again",
                    conversation_ref(conversation_id),
                    target,
                )
                conflict = exc
                continue
            return events
        assert conflict is not None
        raise conflict

    @staticmethod
    def _plan(
        conversation_id: str,
        history: list[Event],
        target: HandoffStatus | str,
        at: float,
        before: Sequence[Event],
        *,
        actor: str,
        reason: str | None,
        metadata: dict[str, Any] | None,
    ) -> list[Event]:
        """The events of the move from where ``history`` says the conversation is; an
        :class:`IllegalTransition` names who holds it."""
        current = current_status(history)
        try:
            moved = transition(current, target, actor=actor, reason=reason, metadata=metadata, timestamp=at)
        except IllegalTransition as exc:
            held = ticket(conversation_id, history)
            holder = held.assigned_to if held.status == HandoffStatus.ASSIGNED else None
            raise IllegalTransition(exc.current, exc.target, holder=holder) from None
        return [*before, *moved]

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
