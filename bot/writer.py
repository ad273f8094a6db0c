"""Writes to a conversation from outside a turn: under its lock, then pushed to live subscribers.

The engine appends its turns through one, and so do the services above it (handoff moves,
agents' lines), with no need of the engine itself: the composition root gives both the
same store, lock store and live feed, so a move lands between turns, never inside one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.transcript import transcript_entry

if TYPE_CHECKING:
    from bot.events import Event
    from bot.live import LiveFeed
    from bot.locks import LockStore
    from bot.store import EventStore, StoredEvent


class ConversationWriter:
    """Appends under the conversation's lock and publishes the new transcript lines."""

    def __init__(self, store: EventStore, locks: LockStore, live: LiveFeed) -> None:
        self.store = store
        self.locks = locks
        self.live = live

    async def append(
        self, conversation_id: str, events: list[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        """Append ``events`` under the conversation's lock; with ``expected_seq`` they are
        written only if the conversation's last seq is still that, else ``ConcurrencyConflict``."""
        async with self.locks.lock(conversation_id):
            seqs = await self.store.append(conversation_id, events, expected_seq=expected_seq)
        await self.publish(conversation_id, seqs, events)
        return seqs

    async def publish(self, conversation_id: str, seqs: list[int], events: list[Event]) -> None:
        """Push the transcript lines among ``events`` (stored at ``seqs``) to subscribers."""
        entries = [transcript_entry(seq, event) for seq, event in zip(seqs, events, strict=True)]
        await self.live.publish(conversation_id, [e for e in entries if e is not None])

    async def events(self, conversation_id: str) -> list[Event]:
        """The conversation's stored events."""
        return await self.store.events(conversation_id)

    async def load_with_seq(self, conversation_id: str) -> tuple[list[StoredEvent], int]:
        """The conversation's stored events and its last seq, in one read."""
        return await self.store.load_with_seq(conversation_id)
