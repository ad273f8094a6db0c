"""One row per conversation from the read models: ``conversation_facts`` joined with each
conversation's first DELIVERED agent reply (``agent_replies`` against the outbox) and the
client's home studio (whose hours the business-hours clock counts).

Next human response needs the times of the client's lines after the handoff: a second
query reads them for the handed-off conversations of the range only, from the events
table's ``type`` and ``timestamp`` columns (no event is decoded or folded), beside their
delivered agent replies.

One query, one narrow row per conversation started in the range, never an event log: the
outcome rules (:mod:`handoff.outcomes`) then classify each row. The reopen window is a
setting of the report, so outcomes are classified per request rather than stored.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select

from bot.channels.tables import outbox
from bot.store import EventStore
from bot.store.tables import events
from console.services.analytics.business_hours import ResponseClock
from console.services.analytics.models import DateRange, FactRow
from handoff.config import TIERS, HandoffConfig
from handoff.outcomes import OutcomeInput, classify, confirmed, first_contact
from handoff.projections import agent_replies, conversation_facts
from handoff.tables import clients

#: outbox statuses that mean the provider took the message (a ``failed`` or still queued
#: row is not a reply the client saw)
DELIVERED = ("sent", "delivered", "read")

_f = conversation_facts.c
COLUMNS = (
    _f.conversation_id,
    _f.channel,
    _f.tier,
    _f.language,
    _f.first_user_at,
    _f.handoffs,
    _f.sentiment_first,
    _f.sentiment_last,
    _f.substantive_messages,
    _f.answers,
    _f.fallbacks,
    _f.last_answer_fallback,
    _f.confirmed,
    _f.csat_requested,
    _f.csat_score,
    _f.queued_at,
    _f.handoff_tier,
    _f.handoff_reason,
    _f.agent_id,
    _f.resolved_at,
    _f.reopened_after,
    _f.returned_after,
)


def facts_query(period: DateRange) -> Any:
    """The SELECT of every conversation started in ``period`` with its first delivered
    agent reply after its first handoff (NULL when none)."""
    r, o = agent_replies.c, outbox.c
    in_range = (_f.first_user_at >= period.start_ts, _f.first_user_at < period.end_ts)
    first_delivered = (
        select(r.conversation_id, func.min(r.at).label("first_delivered_at"))
        .select_from(
            agent_replies.join(conversation_facts, _f.conversation_id == r.conversation_id).outerjoin(
                outbox, o.idempotency_key == r.outbox_key
            )
        )
        .where(*in_range, _f.queued_at.is_not(None), r.at >= _f.queued_at)
        # no outbox row: a channel whose client reads the log (widget, REST): stored is delivered
        .where(or_(o.id.is_(None), o.status.in_(DELIVERED)))
        .group_by(r.conversation_id)
        .subquery()
    )
    return (
        select(*COLUMNS, first_delivered.c.first_delivered_at, clients.c.home_location)
        .select_from(
            conversation_facts.outerjoin(
                first_delivered, first_delivered.c.conversation_id == _f.conversation_id
            ).outerjoin(clients, clients.c.id == _f.client_id)
        )
        .where(*in_range)
        .order_by(_f.first_user_at, _f.conversation_id)
    )


def _handed_off_in(period: DateRange) -> tuple[Any, ...]:
    return (_f.first_user_at >= period.start_ts, _f.first_user_at < period.end_ts, _f.queued_at.is_not(None))


def delivered_replies_query(period: DateRange) -> Any:
    """Every delivered agent reply after the first handoff of the range's handed-off conversations."""
    r, o = agent_replies.c, outbox.c
    return (
        select(r.conversation_id, r.at)
        .select_from(
            agent_replies.join(conversation_facts, _f.conversation_id == r.conversation_id).outerjoin(
                outbox, o.idempotency_key == r.outbox_key
            )
        )
        .where(*_handed_off_in(period), r.at >= _f.queued_at)
        .where(or_(o.id.is_(None), o.status.in_(DELIVERED)))
    )


def client_lines_query(period: DateRange) -> Any:
    """The times of the client's lines after the first handoff (handed-off conversations only)."""
    e = events.c
    return (
        select(e.conversation_id, e.timestamp)
        .select_from(events.join(conversation_facts, _f.conversation_id == e.conversation_id))
        .where(*_handed_off_in(period), e.type == "user", e.timestamp > _f.queued_at)
    )


@dataclass
class Timeline:
    """A handed-off conversation's client lines and delivered agent replies (epoch seconds)."""

    client: list[float] = field(default_factory=list)
    replies: list[float] = field(default_factory=list)


def next_response_waits(timeline: Timeline, resolved_at: float | None) -> list[tuple[float, float]]:
    """``(client wrote, person replied)`` per next response: after the first delivered reply,
    each client line that found nobody answering starts a wait that the next delivered
    reply ends (lines while a wait runs join it). Lines after the resolution are the bot's
    again, and a wait nobody ended yet is not a response time."""
    replies = sorted(timeline.replies)
    if not replies:
        return []
    marks = [(t, 1) for t in timeline.client if t > replies[0]] + [(t, 0) for t in replies[1:]]
    waits, started = [], None
    for at, is_client in sorted(marks):
        if is_client:
            if resolved_at is not None and resolved_at >= replies[0] and at > resolved_at:
                continue
            started = at if started is None else started
        elif started is not None:
            waits.append((started, at))
            started = None
    return waits


def tier_of(handoff_tier: str | None, slot_tier: str | None, default: str) -> str:
    """The tier a conversation was served at: the handoff's, else the slot's, else the default
    (names matched case-insensitively against the configured tiers)."""
    known = {t.lower(): t for t in TIERS}
    for value in (handoff_tier, slot_tier):
        if value and value.lower() in known:
            return known[value.lower()]
    return default


def fact_row(
    row: Any,
    config: HandoffConfig,
    *,
    now: float,
    reopen_days: int,
    clock: ResponseClock | None = None,
    timeline: Timeline | None = None,
) -> FactRow:
    """A database row classified: outcome, first and next human response against the tier's
    SLA (on ``clock``: business hours, or wall-clock when None)."""
    clock = clock or ResponseClock(config, business_hours=False)
    location = getattr(row, "home_location", None)
    # model_construct: the values come from our own typed columns, and a report builds
    # 10,000s of these (validation would cost more than the query)
    facts = OutcomeInput.model_construct(
        substantive_messages=row.substantive_messages,
        answers=row.answers,
        fallbacks=row.fallbacks,
        last_answer_fallback=bool(row.last_answer_fallback),
        confirmed=bool(row.confirmed),
        csat_score=row.csat_score,
        handoffs=row.handoffs,
        resolved_at=row.resolved_at,
        reopened_after=row.reopened_after,
        returned_after=row.returned_after,
    )
    replied_at = row.first_delivered_at
    outcome = classify(facts, human_replied=replied_at is not None, reopen_days=reopen_days)
    tier = tier_of(row.handoff_tier, row.tier, config.tiers.default)
    sla = config.sla_seconds(tier) if row.handoffs else None  # type: ignore[arg-type]
    response = counted = None
    if replied_at is not None and row.queued_at is not None:
        response = replied_at - row.queued_at
        counted = clock.waited(row.queued_at, replied_at, location)
    within: bool | None = None
    if sla is not None and row.queued_at is not None:
        if counted is not None:
            within = counted <= sla
        elif clock.waited(row.queued_at, now, location, cap=sla + 1) > sla:
            within = False
    next_waits = next_response_waits(timeline, row.resolved_at) if timeline is not None else []
    return FactRow.model_construct(
        conversation_id=row.conversation_id,
        channel=row.channel,
        tier=tier,
        language=row.language,
        agent_id=row.agent_id,
        started_at=row.first_user_at,
        outcome=outcome,
        confirmed=outcome in (outcome.CONTAINED, outcome.RESOLVED) and confirmed(facts),
        first_contact_resolution=first_contact(facts, outcome),
        handoffs=row.handoffs,
        handoff_reason=row.handoff_reason if row.handoffs else None,
        queued_at=row.queued_at,
        first_human_response_seconds=response,
        first_human_response_business_seconds=counted if clock.business_hours else None,
        next_response_seconds=[clock.waited(a, b, location) for a, b in next_waits],
        location=location,
        sla_seconds=sla,
        within_sla=within,
        answers=row.answers,
        fallbacks=row.fallbacks,
        csat_requested=bool(row.csat_requested),
        csat_score=row.csat_score,
        sentiment_start=row.sentiment_first,
        sentiment_end=row.sentiment_last,
    )


async def load_fact_rows(
    store: EventStore,
    period: DateRange,
    config: HandoffConfig,
    *,
    now: float | None = None,
    reopen_days: int = 7,
    business_hours: bool = True,
) -> list[FactRow]:
    """Every conversation started in ``period``, classified (three read-only queries: the
    facts, and the reply and client-line times of the handed-off ones)."""
    now = now if now is not None else dt.datetime.now(dt.UTC).timestamp()
    timelines: dict[str, Timeline] = defaultdict(Timeline)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(facts_query(period))).all()
        if any(row.queued_at is not None for row in rows):
            for cid, at in (await conn.execute(delivered_replies_query(period))).all():
                timelines[cid].replies.append(at)
            for cid, at in (await conn.execute(client_lines_query(period))).all():
                timelines[cid].client.append(at)
    clock = ResponseClock(config, business_hours=business_hours)
    return [
        fact_row(
            row,
            config,
            now=now,
            reopen_days=reopen_days,
            clock=clock,
            timeline=timelines.get(row.conversation_id),
        )
        for row in rows
    ]
