"""Auto-assignment from the queue, and the rule for handing a conversation to a named agent.

:class:`AutoAssigner` takes the queue highest priority first and gives each conversation
to the agent :func:`handoff.routing.route` picks (named concierge first; otherwise the
agent who speaks the language, has the skill and the free capacity and is least loaded,
load read from the ``handoff_tickets`` read model after every move, so one sweep spreads
conversations evenly). A VIP whose concierge is away is held for them for
``assignment.sticky_concierge_seconds`` after queueing, then goes to the best other agent
(or stays queued: ``fallback: queue``). Every assignment is a move through
:class:`~handoff.service.HandoffService` (the one transition table, optimistic: of two
processes sweeping at once, one claim wins and the other is refused), carrying the
router's explanation, which the queue and ledger show.

:func:`check_target` is what a transfer or a rule's "assign agent" asks first: only to an
agent who is online with a free slot, unless the caller overrides, and then it says so.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pydantic import BaseModel

from bot.errors import ConciergeError, ConcurrencyConflict
from bot.redact import conversation_ref
from handoff.agents import AgentState
from handoff.routing import Assignment
from handoff.runtime import HandoffRuntime
from handoff.runtime import _language as conversation_language  # one definition, shared
from handoff.state import HandoffStatus, IllegalTransition

log = logging.getLogger(__name__)

AUTO_ACTOR = "auto-assign"


class AgentUnavailable(ConciergeError):
    """The chosen agent is offline, away or full (a transfer there is refused without an override)."""

    def __init__(self, agent_id: str, why: str) -> None:
        self.agent_id = agent_id
        self.why = why
        super().__init__(f"{agent_id} is {why}; transfer to an online agent with a free slot, or override")


class AutoAssigned(BaseModel):
    """One conversation of a sweep: who got it (None: still queued) and why."""

    conversation_id: str
    agent_id: str | None
    explanation: str


def availability(state: AgentState | None) -> str | None:
    """Why an agent cannot take a conversation now (None: online with a free slot)."""
    if state is None:
        return "not on the roster"
    if state.status != "online":
        return state.status
    if not state.has_capacity:
        return f"full ({state.load})"
    return None


async def check_target(runtime: HandoffRuntime, agent_id: str, *, override: bool = False) -> str | None:
    """Raise :class:`AgentUnavailable` unless ``agent_id`` is online with a free slot; with
    ``override`` return the sentence saying what was overridden instead (None: nothing was)."""
    states = {s.profile.id: s for s in await runtime.roster.states()}
    why = availability(states.get(agent_id))
    if why is None:
        return None
    if why == "not on the roster" or not override:
        raise AgentUnavailable(agent_id, why)
    return f"overridden: {agent_id} is {why}"


class AutoAssigner:
    """Assigns queued conversations by themselves (``assignment.auto_assign``)."""

    def __init__(self, runtime: HandoffRuntime) -> None:
        self.runtime = runtime

    async def plan(self, conversation_id: str, now: float) -> Assignment:
        """The router's choice for a queued conversation at ``now``, with its sticky wait."""
        store = self.runtime.store
        events = await store.events(conversation_id)
        client = await self.runtime.client_for(conversation_id)
        queued = await self.runtime.service.ticket(conversation_id)
        waited = now - queued.queued_at if queued.queued_at is not None else None
        return await self.runtime.plan(
            conversation_id,
            client,
            conversation_language(events, client),
            datetime.fromtimestamp(now, UTC),
            waited=waited,
        )

    async def sweep(self, now: float | None = None) -> list[AutoAssigned]:
        """Assign what can be assigned now, highest priority first; returns every decision."""
        if not self.runtime.config.assignment.auto_assign:
            return []
        at = self.runtime.clock() if now is None else now
        if not any(s.has_capacity for s in await self.runtime.roster.states()):
            return []  # nobody could take one: no queue read (most rounds at night)
        decisions = []
        for ranked in await self.runtime.queue(at):
            conversation_id = ranked.item.conversation_id
            plan = await self.plan(conversation_id, at)
            agent = plan.agent_id
            if agent is not None and not await self.assign(conversation_id, agent, plan.explanation):
                agent = None
            decisions.append(
                AutoAssigned(conversation_id=conversation_id, agent_id=agent, explanation=plan.explanation)
            )
        return decisions

    async def assign(
        self, conversation_id: str, agent_id: str, explanation: str, *, actor: str = AUTO_ACTOR
    ) -> bool:
        """Move a queued conversation to ``agent_id`` (False when someone else moved it first)."""
        try:
            await self.runtime.service.move(
                conversation_id,
                HandoffStatus.ASSIGNED,
                actor=actor,
                reason=f"assigned by {actor}",
                metadata={"agent_id": agent_id, "routing": explanation},
            )
        except (IllegalTransition, ConcurrencyConflict) as exc:
            log.info("%s: not assigned (%s)", conversation_ref(conversation_id), type(exc).__name__)
            return False
        return True
