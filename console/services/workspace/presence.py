"""Agents' presence as the router sees it: set in the workspace, kept alive by its sockets.

An agent sets online / away / offline themselves (``POST /api/workspace/presence``); the
status lives in the handoff runtime's :class:`~handoff.presence.PresenceStore` (Redis when
several processes serve the bot) and expires unless renewed. While an agent has a
workspace socket open on this process, :class:`AgentHeartbeats` renews their status every
third of the store's ``ttl``. When the last socket closes (the tab is closed, the laptop
sleeps, this process dies) the heartbeats stop and the status expires ``ttl`` seconds
later, so the router never sends a VIP to someone who is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from bot.periodic import cancel_and_wait
from handoff.runtime import HandoffRuntime

log = logging.getLogger(__name__)


class AgentHeartbeats:
    """Counts open workspace sockets per agent and heartbeats for every agent with one."""

    def __init__(self, runtime: HandoffRuntime, interval: float | None = None) -> None:
        self.runtime = runtime
        self.interval = interval if interval is not None else runtime.roster.presence.ttl / 3
        self._open: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    @property
    def agents(self) -> set[str]:
        """Agents with at least one open socket on this process."""
        return set(self._open)

    def opened(self, agent_id: str) -> None:
        """An agent's socket connected: heartbeat for them from now on."""
        self._open[agent_id] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._beat(), name="agent-heartbeats")

    def closed(self, agent_id: str) -> None:
        """An agent's socket closed; after the last one their status is left to expire."""
        self._open[agent_id] -= 1
        if self._open[agent_id] <= 0:
            del self._open[agent_id]

    async def _beat(self) -> None:
        while self._open:
            for agent_id in list(self._open):
                try:
                    await self.runtime.roster.heartbeat(agent_id)
                except Exception as exc:  # Redis away: the status may lapse; /health says why
                    log.warning("presence heartbeat failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        """Stop heartbeating (shutdown)."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
