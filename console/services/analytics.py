"""Manager analytics, computed from the event log (nothing is stored twice).

- **Containment**: conversations with a client message in the range that were never handed
  to a person in the range, over all such conversations.
- **First response by tier** (VIP, Premium, Standard): for every handoff queued in the range,
  seconds from queueing to the first agent reply (``handoff.state.ticket``, the same fold
  the queue uses); median and 90th percentile of the answered ones, and the share within
  the tier's SLA among handoffs whose outcome is known (answered, or waiting longer than
  the SLA already). The tier is the one the bot recorded on the ``bot -> queued`` move
  (its ``tier`` metadata), else the conversation's ``tier`` slot, else the default tier.
- **CSAT**: ``CsatRecorded`` scores in the range: count, average, distribution, and the
  share of 4s and 5s (the usual CSAT %).
- **Handoff reasons** with counts.

The range is whole UTC days, ``start`` to ``end`` inclusive. :func:`compute_report` is pure
(scripted event logs in tests); :func:`load_conversations` reads the log for a range.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from bot.events import CsatRecorded, Event, HandoffStatusChanged, SlotSet, UserUttered, events_from_dicts
from bot.store import EventStore
from bot.store.tables import EventRow
from handoff.config import HandoffConfig
from handoff.state import HandoffTicket, ticket

TIERS = ("VIP", "Premium", "Standard")
MAX_DAYS = 366
events_table = EventRow.__table__


class DateRange(BaseModel):
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: dt.date
    end: dt.date

    @classmethod
    def last_days(cls, days: int, today: dt.date | None = None) -> DateRange:
        """The ``days`` days ending today (UTC)."""
        today = today or dt.datetime.now(dt.UTC).date()
        return cls(start=today - dt.timedelta(days=days - 1), end=today)

    @property
    def start_ts(self) -> float:
        """Epoch seconds at the start of ``start``."""
        return dt.datetime.combine(self.start, dt.time(), dt.UTC).timestamp()

    @property
    def end_ts(self) -> float:
        """Epoch seconds at the end of ``end`` (exclusive bound)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()

    def contains(self, timestamp: float | None) -> bool:
        """True when ``timestamp`` falls in the range."""
        return timestamp is not None and self.start_ts <= timestamp < self.end_ts


class Containment(BaseModel):
    """Conversations the bot handled alone."""

    conversations: int
    contained: int
    rate: float | None = Field(description="contained / conversations; None when there were none")


class TierResponse(BaseModel):
    """First response times of one tier's handoffs against its SLA."""

    tier: str
    sla_seconds: int
    handoffs: int
    answered: int
    waiting: int = Field(description="not answered yet and still within the SLA")
    median_seconds: float | None
    p90_seconds: float | None
    within_sla: int
    within_sla_rate: float | None = Field(description="within SLA / handoffs whose outcome is known")


class Csat(BaseModel):
    """Client satisfaction scores."""

    responses: int
    average: float | None
    distribution: dict[int, int]
    satisfied_rate: float | None = Field(description="share of 4 and 5 scores")


class ReasonCount(BaseModel):
    """How often a handoff reason occurred."""

    reason: str
    count: int


class AnalyticsReport(BaseModel):
    """Everything the manager's analytics page shows for one date range."""

    range: DateRange
    containment: Containment
    first_response: list[TierResponse]
    csat: Csat
    handoff_reasons: list[ReasonCount]


class HandoffEpisode(BaseModel):
    """One handoff of a conversation: its ticket and the tier it was served at."""

    ticket: HandoffTicket
    tier: str


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _tier_of(change: HandoffStatusChanged, before: Iterable[Event], default: str) -> str:
    tier = change.metadata.get("tier")
    if tier in TIERS:
        return str(tier)
    slot = next(
        (e.value for e in reversed(list(before)) if isinstance(e, SlotSet) and e.name == "tier" and e.value),
        None,
    )
    return str(slot) if slot in TIERS else default


def episodes(
    conversation_id: str, events: Sequence[Event], default_tier: str = "Standard"
) -> list[HandoffEpisode]:
    """Every handoff of the conversation (each ``bot -> ...`` move starts one), oldest first."""
    starts = [
        i for i, e in enumerate(events) if isinstance(e, HandoffStatusChanged) and e.from_status == "bot"
    ]
    found = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(events)
        change = events[start]
        assert isinstance(change, HandoffStatusChanged)
        found.append(
            HandoffEpisode(
                ticket=ticket(conversation_id, events[:end]),
                tier=_tier_of(change, events[:start], default_tier),
            )
        )
    return found


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def compute_report(
    conversations: Mapping[str, Sequence[Event]],
    period: DateRange,
    config: HandoffConfig,
    *,
    now: float,
) -> AnalyticsReport:
    """The report for ``period`` over the given conversations' full event logs."""
    total = contained = 0
    by_tier: dict[str, list[HandoffEpisode]] = {t: [] for t in TIERS}
    reasons: Counter[str] = Counter()
    scores: list[int] = []
    default_tier = config.tiers.default
    for conversation_id, events in conversations.items():
        in_range = [
            e for e in episodes(conversation_id, events, default_tier) if period.contains(e.ticket.queued_at)
        ]
        if any(isinstance(e, UserUttered) and period.contains(e.timestamp) for e in events):
            total += 1
            contained += not in_range
        for episode in in_range:
            by_tier.setdefault(episode.tier, []).append(episode)
            reasons[episode.ticket.reason or "unknown"] += 1
        scores += [e.score for e in events if isinstance(e, CsatRecorded) and period.contains(e.timestamp)]
    first_response = []
    for tier, tier_episodes in by_tier.items():
        sla = config.sla_seconds(tier) if tier in TIERS else config.sla_seconds(default_tier)  # type: ignore[arg-type]
        answered = [s for e in tier_episodes if (s := e.ticket.first_response_seconds) is not None]
        within = sum(1 for s in answered if s <= sla)
        missed_unanswered = sum(
            1
            for e in tier_episodes
            if e.ticket.first_response_seconds is None and now - (e.ticket.queued_at or now) > sla
        )
        known = len(answered) + missed_unanswered
        first_response.append(
            TierResponse(
                tier=tier,
                sla_seconds=sla,
                handoffs=len(tier_episodes),
                answered=len(answered),
                waiting=len(tier_episodes) - known,
                median_seconds=percentile(answered, 50),
                p90_seconds=percentile(answered, 90),
                within_sla=within,
                within_sla_rate=_rate(within, known),
            )
        )
    distribution = {score: scores.count(score) for score in range(1, 6)}
    return AnalyticsReport(
        range=period,
        containment=Containment(conversations=total, contained=contained, rate=_rate(contained, total)),
        first_response=first_response,
        csat=Csat(
            responses=len(scores),
            average=round(sum(scores) / len(scores), 2) if scores else None,
            distribution=distribution,
            satisfied_rate=_rate(distribution[4] + distribution[5], len(scores)),
        ),
        handoff_reasons=[ReasonCount(reason=r, count=c) for r, c in reasons.most_common()],
    )


async def load_conversations(store: EventStore, period: DateRange) -> dict[str, list[Event]]:
    """The full logs of every conversation with an event in ``period`` (read-only queries)."""
    active = (
        select(events_table.c.conversation_id)
        .where(events_table.c.timestamp >= period.start_ts, events_table.c.timestamp < period.end_ts)
        .distinct()
    )
    stmt = (
        select(events_table.c.conversation_id, events_table.c.data)
        .where(events_table.c.conversation_id.in_(active))
        .order_by(events_table.c.conversation_id, events_table.c.seq)
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.conversation_id, []).append(row.data)
    return {cid: events_from_dicts(data) for cid, data in grouped.items()}


async def analytics_report(
    store: EventStore, period: DateRange, config: HandoffConfig, *, now: float | None = None
) -> AnalyticsReport:
    """:func:`compute_report` over the log's conversations active in ``period``."""
    conversations = await load_conversations(store, period)
    now = now if now is not None else dt.datetime.now(dt.UTC).timestamp()
    return compute_report(conversations, period, config, now=now)
