"""The agents right now: profiles from the agents file, status from presence, load from the log.

Status (online / away / offline) lives in a :class:`~handoff.presence.PresenceStore`:
in this process by default, in Redis when several processes serve the bot, so every
process routes on the same statuses. The console sets it when an agent logs in, steps
away or logs out, and keeps it alive with heartbeats while the agent's workspace is
open; it starts as offline, so nobody is routed to an agent who is not there. Load is
never kept here: it is the number of conversations the event log says each agent holds
(:class:`~handoff.ledger.HandoffLedger`), so it is right after a restart and with
several console processes.
"""

from __future__ import annotations

import logging

from handoff.agents import AgentProfile, AgentRoster, AgentState, AgentStatus
from handoff.ledger import HandoffLedger
from handoff.presence import InMemoryPresence, PresenceStore, PresenceUnavailable

log = logging.getLogger(__name__)


class UnknownAgent(KeyError):
    """No agent with that id on the roster."""


class AgentDirectory:
    """Agent profiles plus live status; :meth:`states` is what the router reads."""

    def __init__(
        self, roster: AgentRoster, ledger: HandoffLedger, presence: PresenceStore | None = None
    ) -> None:
        self.roster = roster
        self.ledger = ledger
        self.presence: PresenceStore = presence if presence is not None else InMemoryPresence()

    @property
    def profiles(self) -> list[AgentProfile]:
        """Every agent on the roster, in file order."""
        return list(self.roster.agents)

    def get(self, agent_id: str) -> AgentProfile | None:
        """The agent with this id, if any."""
        return self.roster.get(agent_id)

    async def status(self, agent_id: str) -> AgentStatus:
        """An agent's status (``offline`` until the console says otherwise, or once it expired)."""
        return (await self._read([agent_id]))[agent_id]

    async def set_status(self, agent_id: str, status: AgentStatus) -> None:
        """Record an agent's status (called by the console); raises :class:`UnknownAgent`."""
        if self.roster.get(agent_id) is None:
            raise UnknownAgent(agent_id)
        await self.presence.set_status(agent_id, status)

    async def heartbeat(self, agent_id: str) -> None:
        """The agent's workspace is still open: keep their status from expiring."""
        if self.roster.get(agent_id) is not None:
            await self.presence.heartbeat(agent_id)

    async def statuses(self) -> dict[str, AgentStatus]:
        """Every agent's status, in one read."""
        return await self._read([p.id for p in self.roster.agents])

    async def _read(self, agent_ids: list[str]) -> dict[str, AgentStatus]:
        # Presence unknown (Redis away) reads as offline: nobody is routed to directly and
        # conversations wait in the queue, while /health says why.
        try:
            return await self.presence.statuses(agent_ids)
        except PresenceUnavailable as exc:
            log.warning("%s; every agent counts as offline meanwhile", exc)
            return dict.fromkeys(agent_ids, "offline")

    async def states(self) -> list[AgentState]:
        """Every agent with their status and current load (from the log)."""
        loads = await self.ledger.loads()
        statuses = await self.statuses()
        return [
            AgentState(profile=p, status=statuses[p.id], active_chats=loads.get(p.id, 0))
            for p in self.roster.agents
        ]
