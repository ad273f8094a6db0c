"""One row per conversation from the read models: ``conversation_facts`` joined with each
conversation's first DELIVERED agent reply (``agent_replies`` against the outbox).

One query, one narrow row per conversation started in the range, never an event log: the
outcome rules (:mod:`handoff.outcomes`) then classify each row. The reopen window is a
setting of the report, so outcomes are classified per request rather than stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select

from bot.channels.tables import outbox
from bot.store import EventStore
from console.services.analytics.models import DateRange, FactRow
from handoff.config import TIERS, HandoffConfig
from handoff.outcomes import OutcomeInput, classify, confirmed, first_contact
from handoff.projections import agent_replies, conversation_facts

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
        select(*COLUMNS, first_delivered.c.first_delivered_at)
        .select_from(
            conversation_facts.outerjoin(
                first_delivered, first_delivered.c.conversation_id == _f.conversation_id
            )
        )
        .where(*in_range)
        .order_by(_f.first_user_at, _f.conversation_id)
    )


def tier_of(handoff_tier: str | None, slot_tier: str | None, default: str) -> str:
    """The tier a conversation was served at: the handoff's, else the slot's, else the default
    (names matched case-insensitively against the configured tiers)."""
    known = {t.lower(): t for t in TIERS}
    for value in (handoff_tier, slot_tier):
        if value and value.lower() in known:
            return known[value.lower()]
    return default


def fact_row(row: Any, config: HandoffConfig, *, now: float, reopen_days: int) -> FactRow:
    """A database row classified: outcome, first human response against the tier's SLA."""
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
    response = replied_at - row.queued_at if replied_at is not None and row.queued_at is not None else None
    within: bool | None = None
    if sla is not None and row.queued_at is not None:
        if response is not None:
            within = response <= sla
        elif now - row.queued_at > sla:
            within = False
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
) -> list[FactRow]:
    """Every conversation started in ``period``, classified (one read-only query)."""
    now = now if now is not None else dt.datetime.now(dt.UTC).timestamp()
    async with store.engine.connect() as conn:
        rows = (await conn.execute(facts_query(period))).all()
    return [fact_row(row, config, now=now, reopen_days=reopen_days) for row in rows]
