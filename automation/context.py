"""What a rule's conditions read about a conversation at one event, and the check itself.

:func:`context_at` folds the conversation's log up to the triggering event with the same
fold the ``conversation_facts`` read model uses (:func:`handoff.projections.fold_facts`),
so the live runner and the dry run over past logs see exactly the same facts.
:func:`matches` is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from automation.inbox import is_booking
from automation.rules import BOOKING_PLACEHOLDERS, Conditions, Trigger
from bot.events import CsatRecorded, ReminderScheduled, UserUttered
from bot.store.event_store import StoredEvent
from handoff.config import HandoffConfig
from handoff.hours import is_open
from handoff.profiles import ClientProfile
from handoff.projections import ConversationFacts, conversation_facts_of
from handoff.state import HandoffStatus, ticket


@dataclass
class RuleContext:
    """A conversation as of one event: its facts, the latest client intent, the client."""

    conversation_id: str
    trigger: Trigger
    seq: int
    at: float
    facts: ConversationFacts
    status: HandoffStatus
    agent: str | None = None
    intent: str | None = None
    csat: int | None = None
    client: ClientProfile | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    #: the latest booking as of the event (reference, service_name, studio, when; else empty)
    booking: dict[str, str] = field(default_factory=dict)


def context_at(
    conversation_id: str, stored: Sequence[StoredEvent], seq: int, trigger: Trigger
) -> RuleContext:
    """The context of the event at ``seq`` (events after it are not seen). The client is
    filled in by the caller (it needs the client store)."""
    prefix = [s for s in stored if s.seq <= seq]
    facts = conversation_facts_of(conversation_id, prefix) or ConversationFacts(
        conversation_id=conversation_id
    )
    events = [s.event for s in prefix]
    held = ticket(conversation_id, events)
    intent = next((e.parse_data.intent.name for e in reversed(events) if isinstance(e, UserUttered)), None)
    csat = next((e.score for e in reversed(events) if isinstance(e, CsatRecorded)), None)
    booked = next((e for e in reversed(events) if is_booking(e)), None)
    entities = booked.entities if isinstance(booked, ReminderScheduled) else None
    booking = (
        {k: str(v)[:200] for k, v in entities.items() if k in BOOKING_PLACEHOLDERS and v is not None}
        if isinstance(entities, dict)
        else {}
    )
    at = prefix[-1].event.timestamp if prefix else 0.0
    return RuleContext(
        conversation_id=conversation_id,
        trigger=trigger,
        seq=seq,
        at=at,
        facts=facts,
        status=held.status,
        agent=held.assigned_to if held.status == HandoffStatus.ASSIGNED else None,
        intent=intent,
        csat=csat,
        booking=booking,
    )


def client_tags(client: ClientProfile | None) -> frozenset[str]:
    """What ``client_tags`` conditions match: the membership, the home studio,
    ``preference:<key>`` for each preference and ``has_concierge``."""
    if client is None:
        return frozenset()
    tags = {f"preference:{key}" for key in client.preferences}
    if client.membership:
        tags.add(client.membership)
    if client.home_location:
        tags.add(client.home_location)
    if client.concierge_agent_id:
        tags.add("has_concierge")
    return frozenset(tags)


def with_client(context: RuleContext, client: ClientProfile | None) -> RuleContext:
    """``context`` knowing its client (tier from the profile when the log set none)."""
    context.client = client
    context.tags = client_tags(client)
    if client is not None and not context.facts.tier:
        context.facts.tier = client.tier
    return context


def business_open(context: RuleContext, config: HandoffConfig) -> bool:
    """Whether the client's studio (the default one for an unknown client) is open at the event."""
    key = (context.client.home_location if context.client else None) or config.default_location
    location = config.locations.get(key) or config.locations[config.default_location]
    return is_open(location, datetime.fromtimestamp(context.at, UTC))


def matches(when: Conditions, context: RuleContext, config: HandoffConfig) -> bool:
    """Whether every condition set in ``when`` holds for ``context``."""
    facts = context.facts
    checks: list[bool] = []
    if when.tier:
        checks.append(facts.tier in when.tier)
    if when.intent:
        checks.append(context.intent in when.intent)
    if when.channel:
        checks.append(facts.channel in when.channel)
    if when.language:
        checks.append(facts.language in when.language)
    if when.agent:
        checks.append(context.agent in when.agent)
    if when.client_tags:
        checks.append(bool(context.tags & set(when.client_tags)))
    score = facts.sentiment_last
    if when.max_sentiment is not None:
        checks.append(score is not None and score <= when.max_sentiment)
    if when.min_sentiment is not None:
        checks.append(score is not None and score >= when.min_sentiment)
    if when.sentiment_falling is not None:
        first = facts.sentiment_first
        falling = score is not None and first is not None and score < first
        checks.append(falling == when.sentiment_falling)
    if when.min_csat is not None:
        checks.append(context.csat is not None and context.csat >= when.min_csat)
    if when.max_csat is not None:
        checks.append(context.csat is not None and context.csat <= when.max_csat)
    if when.business_hours is not None:
        checks.append(business_open(context, config) == when.business_hours)
    return all(checks)
