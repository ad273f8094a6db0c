"""Agents' presence as the router sees it: set in the workspace, dropped when they leave.

An agent sets online / away / offline themselves. When their last workspace socket
closes (the tab is closed, the laptop sleeps) and no socket comes back within ``grace``
seconds, they are marked offline, so the router never sends a VIP to someone who is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from handoff.roster import UnknownAgent
from handoff.runtime import HandoffRuntime

log = logging.getLogger(__name__)


class AgentSockets:
    """Counts open workspace sockets per agent and marks an agent offline after the last one."""

    def __init__(self, runtime: HandoffRuntime, grace: float = 30.0) -> None:
        self.runtime = runtime
        self.grace = grace
        self._open: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    def opened(self, agent_id: str) -> None:
        """An agent's socket connected."""
        self._open[agent_id] += 1

    def closed(self, agent_id: str) -> None:
        """An agent's socket closed; the last one starts the grace period."""
        self._open[agent_id] -= 1
        if self._open[agent_id] <= 0:
            del self._open[agent_id]
            task = asyncio.create_task(self._later(agent_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _later(self, agent_id: str) -> None:
        await asyncio.sleep(self.grace)
        if self._open[agent_id] > 0 or self.runtime.roster.status(agent_id) == "offline":
            return
        try:
            self.runtime.set_agent_status(agent_id, "offline")
            log.info("%s left the workspace: marked offline", agent_id)
        except UnknownAgent:
            return

    async def close(self) -> None:
        """Cancel pending grace periods (shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
