"""The agents right now: profiles from the agents file, status from the console, load from the log.

Status (online / away / offline) lives in this process: the console sets it when an
agent logs in, steps away or logs out, and it starts as offline, so nobody is routed to
an agent who is not there. Load is never kept here: it is the number of conversations
the event log says each agent holds (:class:`~handoff.ledger.HandoffLedger`), so it is
right after a restart and with several console processes.
"""

from __future__ import annotations

from handoff.agents import AgentProfile, AgentRoster, AgentState, AgentStatus
from handoff.ledger import HandoffLedger


class UnknownAgent(KeyError):
    """No agent with that id on the roster."""


class AgentDirectory:
    """Agent profiles plus live status; :meth:`states` is what the router reads."""

    def __init__(self, roster: AgentRoster, ledger: HandoffLedger) -> None:
        self.roster = roster
        self.ledger = ledger
        self._status: dict[str, AgentStatus] = {}

    @property
    def profiles(self) -> list[AgentProfile]:
        """Every agent on the roster, in file order."""
        return list(self.roster.agents)

    def get(self, agent_id: str) -> AgentProfile | None:
        """The agent with this id, if any."""
        return self.roster.get(agent_id)

    def status(self, agent_id: str) -> AgentStatus:
        """An agent's status (``offline`` until the console says otherwise)."""
        return self._status.get(agent_id, "offline")

    def set_status(self, agent_id: str, status: AgentStatus) -> None:
        """Record an agent's status (called by the console); raises :class:`UnknownAgent`."""
        if self.roster.get(agent_id) is None:
            raise UnknownAgent(agent_id)
        self._status[agent_id] = status

    async def states(self) -> list[AgentState]:
        """Every agent with their status and current load (from the log)."""
        loads = await self.ledger.loads()
        return [
            AgentState(profile=p, status=self.status(p.id), active_chats=loads.get(p.id, 0))
            for p in self.roster.agents
        ]
