"""Racing claims for the handoff tests: a log that makes two movers read the same state before
either writes, and a worker that claims conversations from its own OS process.

:class:`RacingLog` is the real event store with one thing added: after a move's first read
of a conversation it waits at a barrier shared with the other claimant, so both have read
the same ``seq`` before either appends (the unlucky interleaving a busy server produces
now and then, produced every time). Re-reads after a conflict do not wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from multiprocessing.synchronize import Barrier as ProcessBarrier
from typing import Any

from bot.events import Event
from bot.store import EventStore, StoredEvent
from handoff.service import HandoffService
from handoff.state import IllegalTransition


class RacingLog:
    """An event store whose first read of each conversation waits at ``meet`` (an awaitable
    barrier), so two claimants both read before either appends."""

    def __init__(self, store: EventStore, meet: Callable[[], Awaitable[Any]]) -> None:
        self.store = store
        self.meet = meet
        self.read_once: set[str] = set()

    async def load_with_seq(self, conversation_id: str) -> tuple[list[StoredEvent], int]:
        """The store's read; the first one of a conversation then waits for the other claimant."""
        read = await self.store.load_with_seq(conversation_id)
        if conversation_id not in self.read_once:
            self.read_once.add(conversation_id)
            await self.meet()
        return read

    async def append(
        self, conversation_id: str, events: list[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        """The store's append."""
        return await self.store.append(conversation_id, events, expected_seq=expected_seq)

    async def events(self, conversation_id: str) -> list[Event]:
        """The store's events."""
        return await self.store.events(conversation_id)


async def claim_each(service: HandoffService, agent_id: str, conversation_ids: list[str]) -> dict[str, str]:
    """Claim each conversation as ``agent_id``: ``"won"``, or ``"lost:<holder>"`` as the
    refusal names who holds it."""
    outcome: dict[str, str] = {}
    for conversation_id in conversation_ids:
        try:
            await service.claim(conversation_id, agent_id)
        except IllegalTransition as exc:
            outcome[conversation_id] = f"lost:{exc.holder}"
        else:
            outcome[conversation_id] = "won"
    return outcome


def claim_in_own_process(
    database_url: str,
    schema: str,
    agent_id: str,
    conversation_ids: list[str],
    barrier: ProcessBarrier,
    results: Any,
) -> None:
    """A process's whole life: its own event store on the shared schema, a claim of every
    conversation racing the other process's (met at ``barrier`` after each first read),
    and the outcomes put on ``results`` as ``(agent_id, {conversation: outcome})``."""

    async def main() -> dict[str, str]:
        store = EventStore.from_url(database_url, schema=schema)
        try:

            async def meet() -> None:
                await asyncio.to_thread(barrier.wait, 60)

            return await claim_each(HandoffService(RacingLog(store, meet)), agent_id, conversation_ids)
        finally:
            await store.close()

    try:
        results.put((agent_id, asyncio.run(main())))
    except BaseException as exc:  # the parent reports it; a silent child would just hang the test
        results.put((agent_id, {"error": f"{type(exc).__name__}: {exc}"}))
        barrier.abort()
        raise
