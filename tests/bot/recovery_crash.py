"""Recovery sweeps over a shared database with turns that fail in the ways the attempt
count is about, for tests/bot/test_recovery_attempts.py.

The store and lock store are the real ones on the shared database (and Redis); only the
turn is replaced, by the fault under test: a turn that kills its process (``SIGKILL``, as
an out-of-memory kill or a segfault in a native library would), one that raises (a poison
message), or one that takes the conversation's lock (so it fails while Redis is away).
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Literal

from bot.locks import InMemoryLockStore, LockStore
from bot.models import InboundMessage
from bot.recovery import RecoveryLoop
from bot.store import EventStore

Turn = Literal["kill", "raise", "lock", "refuse"]


class PoisonError(RuntimeError):
    """What a poison message's turn raises."""


class Turns:
    """What the recovery loop needs of an engine (store, locks, process) with the turn ``turn``."""

    def __init__(self, store: EventStore, turn: Turn, locks: LockStore | None = None) -> None:
        self.store = store
        self.locks = locks or InMemoryLockStore()
        self.turn = turn
        self.runs = 0

    async def process(self, message: InboundMessage) -> list[object]:
        """One turn of ``message``, failing as configured."""
        self.runs += 1
        if self.turn == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.turn == "raise":
            raise PoisonError(f"{message.message_id} cannot be processed")
        if self.turn == "lock":
            async with self.locks.lock(message.conversation_id):
                return []
        raise AssertionError(f"{message.message_id} was tried after its attempts were used up")


def sweep_in_own_process(url: str, schema: str | None, max_attempts: int, turn: Turn) -> None:
    """A process's whole life: one recovery sweep over the shared database, then exit 0
    (or death by SIGKILL inside the turn for ``"kill"``)."""

    async def main() -> None:
        store = EventStore.from_url(url, schema=schema)
        try:
            engine = Turns(store, turn)
            await RecoveryLoop(engine, max_attempts=max_attempts).sweep(min_age=0)  # type: ignore[arg-type]
        finally:
            await store.close()

    asyncio.run(main())
