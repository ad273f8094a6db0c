"""The threads model work runs on: a bounded pool of its own, first come first served.

Understanding a message (NLU, sentiment) is CPU work the engine runs off the event loop.
On ``asyncio.to_thread`` it would share the default executor with everything else that
blocks (password hashing, the knowledge store, file reads), and a burst of messages could
take every one of its threads. :class:`ModelPool` gives model work a fixed number of
threads (the machine's cores: more would only contend for them), queued in arrival order,
so a flood of messages waits its turn instead of crowding out the rest of the app, and a
message that arrives later is not overtaken by ones behind it. Each job's cost is bounded
too (:mod:`bot.nlu.bounds`), so no single message can hold a thread for long.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def default_workers() -> int:
    """One thread per core (at least two, so one long job never stalls the next)."""
    return max(2, os.cpu_count() or 2)


class ModelPool:
    """A bounded thread pool for model calls; build one per engine, :meth:`close` it with it."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="concierge-model")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on one of the pool's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        """Let running jobs finish, start no new ones (queued ones are cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
