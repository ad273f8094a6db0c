"""Who should take a conversation, and why, in one readable line.

Order of preference: a VIP's named concierge when online with a free slot; otherwise
the online agent with a free slot who speaks the client's language, has the skill
(service category), works at the client's studio, and is least loaded (share of their
capacity in use: balanced), in that order. A conversation whose concierge is away is
held for them for ``assignment.sticky_concierge_seconds`` after queueing (sticky
routing with an expiry), then goes to the best other agent, or stays in the queue when
``assignment.fallback`` is ``queue``; the explanation says which and until when.
Outside the studio's business hours nobody is assigned and the result carries when a
person will reply and the message to tell the client. Pure: agent states come from
the console, the clock from the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel

from handoff.agents import AgentState
from handoff.config import HandoffConfig, Tier
from handoff.hours import out_of_hours_message

LANGUAGE_NAMES = {"en": "English", "pl": "Polish", "uk": "Ukrainian", "ru": "Russian", "de": "German"}


class RoutingRequest(BaseModel):
    """What the router needs to know about a conversation."""

    conversation_id: str
    tier: Tier = "Standard"
    language: str | None = None
    category: str | None = None
    concierge_id: str | None = None
    location: str | None = None
    #: seconds since the conversation was queued (None: not queued yet, no sticky wait)
    waited: float | None = None


class Assignment(BaseModel):
    """The router's decision: an agent (or nobody yet) and the sentence that explains it."""

    conversation_id: str
    agent_id: str | None
    agent_name: str | None = None
    explanation: str
    concierge: bool = False
    #: nobody yet: held for the named concierge until ``held_until``
    held_for_concierge: bool = False
    held_until: datetime | None = None
    out_of_hours: bool = False
    expected_reply_at: datetime | None = None
    client_message: str | None = None


def language_name(code: str | None) -> str | None:
    """ "Polish" for ``pl``; unknown codes as given."""
    return LANGUAGE_NAMES.get(code, code) if code else None


def _head(request: RoutingRequest) -> str:
    parts = [request.tier, language_name(request.language), request.category]
    return ", ".join(p for p in parts if p)


def _fit(agent: AgentState, request: RoutingRequest) -> tuple[bool, bool, bool]:
    profile = agent.profile
    speaks = request.language is None or request.language in profile.languages
    skilled = request.category is None or request.category in profile.skills
    local = request.location is None or not profile.locations or request.location in profile.locations
    return speaks, skilled, local


def _held_for_concierge(
    request: RoutingRequest, config: HandoffConfig, now: datetime, head: str, notes: list[str]
) -> Assignment | None:
    """Nobody yet while the concierge's sticky window is open (or for good with fallback
    ``queue``); None once it expired and the fallback is the best other agent."""
    sticky = config.assignment
    if request.waited is None:
        return None
    if sticky.fallback == "queue":
        return Assignment(
            conversation_id=request.conversation_id,
            agent_id=None,
            held_for_concierge=True,
            explanation=f"{head} -> nobody yet: " + "; ".join(notes) + "; waits in the queue for them "
            "(fallback: queue)",
        )
    left = sticky.sticky_concierge_seconds - request.waited
    if left <= 0:
        notes.append(f"held {sticky.sticky_concierge_seconds} s for them, now the best other agent")
        return None
    until = now + timedelta(seconds=left)
    return Assignment(
        conversation_id=request.conversation_id,
        agent_id=None,
        held_for_concierge=True,
        held_until=until,
        explanation=f"{head} -> nobody yet: " + "; ".join(notes) + f"; held for them until "
        f"{until:%H:%M:%S} UTC, then the best other agent",
    )


def route(
    request: RoutingRequest, agents: Sequence[AgentState], config: HandoffConfig, now: datetime
) -> Assignment:
    """Pick an agent for ``request`` at ``now`` (aware datetime) and explain the choice."""
    head = _head(request)
    closed = out_of_hours_message(config, request.location, now, request.language)
    if closed is not None:
        opening, message = closed
        location = config.locations.get(request.location or "", config.locations[config.default_location])
        return Assignment(
            conversation_id=request.conversation_id,
            agent_id=None,
            out_of_hours=True,
            expected_reply_at=opening,
            client_message=message,
            explanation=f"{head} -> nobody yet: {location.name} is closed; a person replies "
            f"{opening:%a %d %b %H:%M} ({location.timezone})",
        )

    notes: list[str] = []
    if request.concierge_id:
        concierge = next((a for a in agents if a.profile.id == request.concierge_id), None)
        if concierge is not None and concierge.has_capacity:
            return Assignment(
                conversation_id=request.conversation_id,
                agent_id=concierge.profile.id,
                agent_name=concierge.profile.name,
                concierge=True,
                explanation=f"{head} -> {concierge.profile.first_name}: named concierge, online, "
                f"{concierge.load}",
            )
        if concierge is None:
            notes.append(f"concierge {request.concierge_id} is not on the roster")
        elif concierge.status != "online":
            notes.append(f"concierge {concierge.profile.first_name} is {concierge.status}")
        else:
            notes.append(f"concierge {concierge.profile.first_name} is full ({concierge.load})")
        held = _held_for_concierge(request, config, now, head, notes)
        if held is not None:
            return held

    candidates = [a for a in agents if a.has_capacity]
    if not candidates:
        notes.append("no agent online with a free slot: waits in the queue")
        return Assignment(
            conversation_id=request.conversation_id,
            agent_id=None,
            explanation=f"{head} -> nobody yet: " + "; ".join(notes),
        )

    def preference(agent: AgentState) -> tuple[int, int, int, float, int, str]:
        speaks, skilled, local = _fit(agent, request)
        ratio = agent.active_chats / agent.profile.max_chats
        return (-int(speaks), -int(skilled), -int(local), ratio, agent.active_chats, agent.profile.id)

    chosen = min(candidates, key=preference)
    speaks, skilled, local = _fit(chosen, request)
    why: list[str] = []
    if request.language:
        name = language_name(request.language)
        why.append(f"speaks {name}" if speaks else f"no one online speaks {name}")
    if request.category:
        why.append(
            f"{request.category} skill" if skilled else f"no one online has the {request.category} skill"
        )
    if request.location and local:
        studio = config.locations.get(request.location)
        why.append(f"works at {studio.name if studio else request.location}")
    why.append(f"online, {chosen.load}")
    if len(candidates) > 1:
        why.append("best fit, least loaded")
    return Assignment(
        conversation_id=request.conversation_id,
        agent_id=chosen.profile.id,
        agent_name=chosen.profile.name,
        explanation=f"{head} -> {chosen.profile.first_name}: " + "; ".join([*notes, ", ".join(why)]),
    )
