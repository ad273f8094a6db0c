"""The handoff state machine: ONE transition table, one function that applies it.

    bot ──request──▶ queued ──claim──▶ assigned ──resolve──▶ resolved ──close──▶ bot
                      │  ▲               │  │
                      │  └──transfer─────┘  │
                      └──return──▶ bot ◀────┘return

Every status change is a :class:`~bot.events.HandoffStatusChanged` event with who did
it and why. Leaving ``bot`` also writes ``ConversationPaused`` (the engine stores the
client's messages but stops answering); coming back to ``bot`` writes
``ConversationResumed``. An illegal move raises :class:`IllegalTransition` and
produces no events, so nothing is written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from bot.errors import ConciergeError
from bot.events import (
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    HandoffRequested,
    HandoffStatus,
    HandoffStatusChanged,
)

S = HandoffStatus
#: The only legal moves, each with what it means.
TRANSITIONS: Mapping[tuple[HandoffStatus, HandoffStatus], str] = {
    (S.BOT, S.QUEUED): "handed off: waiting for a person",
    (S.QUEUED, S.ASSIGNED): "claimed by (or assigned to) an agent",
    (S.QUEUED, S.BOT): "returned to the bot before anyone claimed it",
    (S.ASSIGNED, S.RESOLVED): "resolved by the agent",
    (S.ASSIGNED, S.QUEUED): "transferred or unassigned: back in the queue",
    (S.ASSIGNED, S.BOT): "returned to the bot by the agent",
    (S.RESOLVED, S.BOT): "closed: the bot answers again",
}


class IllegalTransition(ConciergeError):
    """A status change the table does not allow; nothing was written. ``holder`` is the agent
    who has the conversation when one does (what the loser of two claims is told)."""

    def __init__(self, current: HandoffStatus, target: HandoffStatus, *, holder: str | None = None) -> None:
        self.current = current
        self.target = target
        self.holder = holder
        allowed = sorted(str(to) for (frm, to) in TRANSITIONS if frm == current)
        self.allowed = allowed
        held = f" (held by {holder})" if holder else ""
        super().__init__(
            f"cannot move a conversation from {current}{held} to {target}; from {current} it can go to "
            f"{', '.join(allowed) or 'nowhere'}"
        )


def allowed_targets(current: HandoffStatus) -> list[HandoffStatus]:
    """Where a conversation in ``current`` may go next."""
    return [to for (frm, to) in TRANSITIONS if frm == current]


def transition(
    current: HandoffStatus | str,
    target: HandoffStatus | str,
    *,
    actor: str,
    reason: str | None = None,
    metadata: dict[str, Any] | None = None,
    timestamp: float | None = None,
) -> list[Event]:
    """The events of one legal move, or :class:`IllegalTransition`.

    ``actor`` is who did it (``bot``, ``system`` or an agent id); ``metadata`` travels on
    the status event (e.g. ``{"agent_id": ...}`` when assigning).
    """
    current, target = HandoffStatus(current), HandoffStatus(target)
    if (current, target) not in TRANSITIONS:
        raise IllegalTransition(current, target)
    if not actor:
        raise ConciergeError("a handoff transition needs an actor")
    at = time.time() if timestamp is None else timestamp
    events: list[Event] = [
        HandoffStatusChanged(
            from_status=current,
            to_status=target,
            actor=actor,
            reason=reason,
            metadata=dict(metadata or {}),
            timestamp=at,
        )
    ]
    if current == S.BOT:
        events.append(ConversationPaused(timestamp=at))
    elif target == S.BOT:
        events.append(ConversationResumed(timestamp=at))
    return events


def current_status(events: Sequence[Event]) -> HandoffStatus:
    """The status the log says a conversation is in (``bot`` when it never changed)."""
    for event in reversed(events):
        if isinstance(event, HandoffStatusChanged):
            return HandoffStatus(event.to_status)
    return S.BOT


class HandoffTicket(BaseModel):
    """The current handoff of a conversation, folded from its events: status, why, who,
    when it was queued (the SLA clock starts then) and when a person first replied."""

    conversation_id: str
    status: HandoffStatus
    reason: str | None = None
    detail: str | None = None
    requested_at: float | None = None
    queued_at: float | None = None
    assigned_to: str | None = None
    first_response_at: float | None = None
    resolved_at: float | None = None

    @property
    def first_response_seconds(self) -> float | None:
        """Seconds from queueing to the first agent reply (computed from events, never stored)."""
        if self.queued_at is None or self.first_response_at is None:
            return None
        return self.first_response_at - self.queued_at


def ticket(conversation_id: str, events: Sequence[Event]) -> HandoffTicket:
    """Fold a conversation's log into its current :class:`HandoffTicket`.

    A new handoff starts when the conversation leaves ``bot``; re-queueing after a
    transfer keeps the original ``queued_at`` (the client has been waiting since then).
    """
    return fold_ticket(HandoffTicket(conversation_id=conversation_id, status=S.BOT), None, events)[0]


def fold_ticket(
    t: HandoffTicket, pending: HandoffRequested | None, events: Sequence[Event]
) -> tuple[HandoffTicket, HandoffRequested | None]:
    """Continue the ticket fold from ``t`` (and a request not yet followed by a move) over
    more ``events``: :func:`ticket` starts it from nothing, the tickets read model
    (:mod:`handoff.projections`) resumes it from its stored row after each append."""
    t = t.model_copy()
    for event in events:
        if isinstance(event, HandoffRequested):
            pending = event
        elif isinstance(event, HandoffStatusChanged):
            status = HandoffStatus(event.to_status)
            if event.from_status == S.BOT:
                t = HandoffTicket(conversation_id=t.conversation_id, status=status, queued_at=event.timestamp)
                if pending is not None:
                    t.reason, t.detail, t.requested_at = pending.reason, pending.detail, pending.timestamp
                else:
                    t.reason = event.reason
                pending = None
            t.status = status
            if status == S.ASSIGNED:
                t.assigned_to = str(event.metadata.get("agent_id") or event.actor)
            elif status == S.QUEUED:
                t.assigned_to = None
            elif status == S.RESOLVED:
                t.resolved_at = event.timestamp
        elif (
            isinstance(event, BotUttered)
            and event.metadata.get("sender") == "agent"
            and t.status in (S.QUEUED, S.ASSIGNED)
            and t.first_response_at is None
        ):
            t.first_response_at = event.timestamp
    return t, pending
