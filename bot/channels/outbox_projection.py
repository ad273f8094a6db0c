"""A turn and its replies commit together: the outbox rows of push channels as a projector.

The event store applies :class:`OutboxProjector` inside the transaction of every append
that holds ``bot`` events (``BotUttered``: the bot's replies, an agent's reply, the CSAT
question). For a conversation on a push channel (Telegram, WhatsApp, Messenger,
Instagram, e-mail) it inserts the outbox rows those lines go out as, so the turn's events,
its inbound message's outcome and its replies are one commit. Before this, the rows were
written after the turn had committed, and a crash in between lost the replies for good:
the message was already ``processed``, so recovery never looked at it again.

Ownership: the outbox's table belongs to :mod:`bot.channels.outbox` (the INSERT is
:func:`~bot.channels.outbox.outbox_insert`); the channel decides how lines become rows
(:meth:`~bot.channels.base.PushChannel.outbox_rows`: split at a length limit, one mail per
turn); this module only connects the two to the store's write seam. Wiring code installs
it (:func:`bot.channels.runtime.start_outbox`).

Keys are ``<conversation>:seq<n>`` (``:part<k>`` for pieces): a line's ``seq`` is fixed once
it is stored, so a row exists exactly when its line does, and a turn re-run after a
crash (its first run never committed) gets rows of its own.

The outbox is not derived state that can be thrown away: its rows record what providers
did (sent, delivered, read), so :meth:`OutboxProjector.reset` keeps them, and a rebuild
from the log must never send history again. Only lines appended moments ago get rows: the
projector checks the events' own ``created_at`` (written by this very append) against
:data:`FRESH_SECONDS`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.channels.base import PushChannel
from bot.channels.outbox import outbox_insert
from bot.events import BotUttered
from bot.models import OutboundMessage
from bot.store.event_store import split_conversation_id
from bot.store.tables import events
from bot.transcript import outbound_from_bot_event

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from bot.store.event_store import EventStore, StoredEvent

log = logging.getLogger(__name__)

#: a line gets an outbox row only if its event row was written this recently (by the
#: append being applied); a rebuild replays older lines, which must not be sent again
FRESH_SECONDS = 300.0
#: ``BotUttered.metadata`` key of a line that is stored but must not be sent; its value says
#: why (e.g. ``outside_window``: the console checked the channel's window before storing)
NOT_SENT = "not_sent"


def outbox_key(conversation_id: str, seq: int) -> str:
    """The idempotency key of the row (or first row) a stored line goes out as."""
    return f"{conversation_id}:seq{seq}"


class OutboxProjector:
    """Writes the outbox rows of a conversation's new ``bot`` lines in the append's transaction.

    ``channels`` are the push channels by name (the app's mounted adapters); lines of any
    other channel (``rest``, ``widget``: their clients read the log) get no rows.
    """

    name: str = "outbox"
    handles: frozenset[str] = frozenset({BotUttered.model_fields["event"].default})

    def __init__(self, channels: Mapping[str, PushChannel]) -> None:
        self.channels: dict[str, PushChannel] = dict(channels)

    @classmethod
    def install(cls, store: EventStore, channels: Mapping[str, PushChannel]) -> OutboxProjector:
        """Register on ``store``, or point the one already registered at ``channels``.

        An engine outlives an app in tests and at a restart of the app inside one process,
        and the store allows one projector per name.
        """
        for projector in store.projectors:
            if isinstance(projector, OutboxProjector):
                projector.channels = dict(channels)
                return projector
        projector = cls(channels)
        store.add_projector(projector)
        return projector

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Insert the rows of the new lines of a push-channel conversation (none elsewhere)."""
        channel_name, recipient = split_conversation_id(conversation_id)
        channel = self.channels.get(channel_name)
        if channel is None:
            return
        lines = [s for s in stored if isinstance(s.event, BotUttered) and not s.event.metadata.get(NOT_SENT)]
        if not lines:
            return
        fresh = await self._fresh(conn, conversation_id, [s.seq for s in lines])
        replies: list[tuple[str, OutboundMessage]] = [
            (outbox_key(conversation_id, s.seq), outbound_from_bot_event(s.event, channel_name, recipient))
            for s in lines
            if s.seq in fresh and isinstance(s.event, BotUttered)
        ]
        if len(replies) < len(lines):
            log.info(
                "outbox: %d old line(s) of a replayed log were not queued again", len(lines) - len(replies)
            )
        rows = channel.outbox_rows(replies)
        if rows:
            await conn.execute(outbox_insert(conn.dialect.name, rows, datetime.now(UTC)))

    async def reset(self, conn: AsyncConnection) -> None:
        """Keep every row: they record what providers did, and nothing may be sent twice."""
        return None

    async def _fresh(self, conn: AsyncConnection, conversation_id: str, seqs: list[int]) -> set[int]:
        """Which of ``seqs`` were stored within :data:`FRESH_SECONDS` (by this append)."""
        since = datetime.now(UTC) - timedelta(seconds=FRESH_SECONDS)
        stmt = select(events.c.seq).where(
            events.c.conversation_id == conversation_id,
            events.c.seq.in_(seqs),
            events.c.created_at >= since,
        )
        return set((await conn.execute(stmt)).scalars().all())
