"""The events rules may fire on, derived from the log and queued in the append's transaction.

:func:`triggers_of` says which triggers a batch of stored events raises (the dry run uses
it over past logs, so "would have fired" and "fires" are decided by the same code).
:class:`AutomationInbox` is a :class:`~bot.store.projections.Projector`: the event store
applies it inside the transaction of the append that wrote the events, so whichever
process appended, the inbox row exists exactly when the event does. Runners on any
process read the inbox (:mod:`automation.runner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from automation.rules import Trigger
from automation.tables import automation_inbox
from bot.events import (
    AgentNoteAdded,
    CsatRecorded,
    HandoffStatus,
    HandoffStatusChanged,
    ReminderScheduled,
    UserUttered,
)
from bot.store.event_store import StoredEvent

#: author prefix of the notes rules write (automation.actions.AUTHOR_PREFIX)
RULE_AUTHOR = "automation:"
#: a booking is recorded in the log as the reminder its action returns, named
#: ``booking:<reference>`` (actions.mariia.ActionBookAppointment; the proactive scheduler
#: sends its reminders), unlike the ``booking_reference`` slot cancelling also fills
BOOKING_REMINDER_PREFIX = "booking:"


def is_booking(event: object) -> bool:
    """Whether ``event`` records a new booking."""
    return isinstance(event, ReminderScheduled) and (event.name or "").startswith(BOOKING_REMINDER_PREFIX)


@dataclass(frozen=True, slots=True)
class Raised:
    """One trigger raised by the event at ``seq`` (``due_at``: a watch's start, for time-based ones)."""

    seq: int
    trigger: Trigger
    at: float
    due_at: float | None = None


def triggers_of(stored: Sequence[StoredEvent]) -> list[Raised]:
    """The triggers ``stored`` raises, in log order (pure)."""
    raised: list[Raised] = []
    for item in stored:
        event, at = item.event, item.event.timestamp
        if item.seq == 1:
            raised.append(Raised(item.seq, Trigger.CONVERSATION_CREATED, at))
        if isinstance(event, UserUttered):
            raised.append(Raised(item.seq, Trigger.MESSAGE_RECEIVED, at))
        elif isinstance(event, HandoffStatusChanged):
            if event.from_status == HandoffStatus.BOT:
                raised.append(Raised(item.seq, Trigger.HANDED_OFF, at))
                # the SLA clock starts at queueing; the runner fires once it ran out unanswered
                # (breached), or within a rule's lead of running out (about to breach)
                raised.append(Raised(item.seq, Trigger.SLA_BREACHED, at, due_at=at))
                raised.append(Raised(item.seq, Trigger.SLA_ABOUT_TO_BREACH, at, due_at=at))
            if event.to_status == HandoffStatus.ASSIGNED:
                raised.append(Raised(item.seq, Trigger.ASSIGNED, at))
            elif event.to_status == HandoffStatus.RESOLVED:
                raised.append(Raised(item.seq, Trigger.RESOLVED, at))
            elif event.to_status == HandoffStatus.BOT:
                raised.append(Raised(item.seq, Trigger.RETURNED_TO_BOT, at))
        elif isinstance(event, CsatRecorded):
            raised.append(Raised(item.seq, Trigger.CSAT_RECEIVED, at))
        elif is_booking(event):
            raised.append(Raised(item.seq, Trigger.BOOKING_CREATED, at))
        elif isinstance(event, AgentNoteAdded) and not event.author.startswith(RULE_AUTHOR):
            # a rule's own note raises nothing: a rule on note_added must not feed itself
            raised.append(Raised(item.seq, Trigger.NOTE_ADDED, at))
    return raised


class AutomationInbox:
    """Projector of ``automation_inbox`` (every event; most add no row)."""

    name = "automation_inbox"
    handles: frozenset[str] = frozenset()  # conversation_created is "seq 1", whatever its type

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Queue the triggers the new events raise (a row already there is kept)."""
        rows = [
            {
                "conversation_id": conversation_id,
                "seq": r.seq,
                "trigger": str(r.trigger),
                "at": r.at,
                "due_at": r.due_at,
                "done": False,
            }
            for r in triggers_of(stored)
        ]
        if rows:
            insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
            await conn.execute(insert(automation_inbox).values(rows).on_conflict_do_nothing())

    async def reset(self, conn: AsyncConnection) -> None:
        """Forget the inbox; a rebuild queues the whole log again, and runners skip what is
        older than the rule set's ``stale_after_seconds`` (firings are unique anyway)."""
        await conn.execute(automation_inbox.delete())
