"""One background loop for the jobs every process runs on a timer: recovery sweeps, the
knowledge index's sync, and whatever comes next.

:class:`Periodic` runs an async ``tick`` at once and then every ``interval`` seconds (from
the end of one tick to the start of the next, so a slow tick never overlaps itself) until
:meth:`Periodic.stop`. A tick that raises does not end the loop: the database or Redis may
be away for a while, and the next round tries again. The failure is logged once per
failing streak (not every ``interval``), and the round that works again says so.

:func:`cancel_and_wait` is how every background task here is stopped: one ``cancel()`` is
not enough on Python 3.11, whose ``asyncio.wait_for`` drops a cancellation that arrives as
the awaitable it wraps completes (fixed in 3.12; aioimaplib and our own pauses use it), and
a loop that lost its cancellation runs on while ``await task`` waits forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)
RECANCEL_AFTER = 2.0  # seconds a cancelled task may spend finishing before it is cancelled again


async def cancel_and_wait(task: asyncio.Task[Any], *, recancel_after: float = RECANCEL_AFTER) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again while it runs on.

    An exception the task ended with (other than its cancellation) is raised here, as
    ``await task`` would. If the caller is cancelled meanwhile, ``task`` is cancelled once
    more before the caller's cancellation goes on (``asyncio.wait`` does not pass it on, as
    ``await task`` did), so a stop that is itself cancelled does not leave the task running.
    """
    while not task.done():
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=recancel_after)
        except asyncio.CancelledError:
            task.cancel()
            raise
    if not task.cancelled():
        task.result()


class Periodic:
    """``tick`` now and every ``interval`` seconds in a background task named ``name``."""

    def __init__(
        self,
        name: str,
        tick: Callable[[], Awaitable[object]],
        interval: float,
        *,
        logger: logging.Logger = log,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.name = name
        self.tick = tick
        self.interval = interval
        self.logger = logger
        self.failing = False  # the last tick raised (health, tests)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the loop on the running event loop (a second call while it runs does nothing)."""
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop the loop and wait for it; a tick in flight is cancelled."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or Redis may be away: try again next round
                if not self.failing:
                    self.logger.warning(
                        "%s failed (%s); retrying every %.1f s", self.name, type(exc).__name__, self.interval
                    )
                self.failing = True
            else:
                if self.failing:
                    self.logger.info("%s works again", self.name)
                self.failing = False
            await asyncio.sleep(self.interval)
