"""The analytics report: KPIs aggregated over classified conversations (:class:`FactRow`).

:func:`compute_report` is pure (tests feed it rows with known answers); :func:`analytics_report`
reads the rows from the read models (:mod:`console.services.analytics.facts`). A conversation
belongs to the day it started (its first client message); its handoff, first response and
CSAT count with it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

from bot.store import EventStore
from console.services.analytics.facts import load_fact_rows
from console.services.analytics.models import (
    AnalyticsReport,
    Containment,
    Csat,
    DateRange,
    Dimension,
    FactRow,
    Grouping,
    KpiRow,
    ReasonCount,
    Sentiment,
    TierCsat,
    TierResponse,
)
from console.services.analytics.quality import quality_table
from handoff.config import TIERS, HandoffConfig
from handoff.outcomes import DEFAULT_REOPEN_DAYS, RATED, Outcome, reason_words


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four places; None when there is no whole."""
    return round(part / whole, 4) if whole else None


def period_key(timestamp: float, grouping: Grouping) -> str:
    """The day (``2026-04-10``), ISO week (``2026-W15``) or month (``2026-04``) of a time."""
    day = dt.datetime.fromtimestamp(timestamp, dt.UTC).date()
    if grouping == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if grouping == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def period_bounds(key: str, grouping: Grouping, period: DateRange) -> tuple[dt.date, dt.date]:
    """The first and last day of the period ``key``, clipped to ``period`` (the drill-down's
    range for one bar of a trend)."""
    if grouping == "week":
        year, week = key.split("-W")
        first = dt.date.fromisocalendar(int(year), int(week), 1)
        last = first + dt.timedelta(days=6)
    elif grouping == "month":
        year, month = (int(p) for p in key.split("-"))
        first = dt.date(year, month, 1)
        last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    else:
        first = last = dt.date.fromisoformat(key)
    return max(first, period.start), min(last, period.end)


def trend(rows: Sequence[FactRow], period: DateRange, grouping: Grouping) -> list[KpiRow]:
    """KPIs per period, every period of the range present (an empty day is a zero, not a gap
    in the chart), each with the days it covers."""
    groups: dict[str, list[FactRow]] = {}
    day = period.start
    while day <= period.end:
        groups.setdefault(period_key(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp(), grouping), [])
        day += dt.timedelta(days=1)
    day_keys: dict[int, str] = {}  # one datetime per day, not per conversation
    for row in rows:
        number = int(row.started_at // 86400)
        if number not in day_keys:
            day_keys[number] = period_key(number * 86400.0, grouping)
        groups.setdefault(day_keys[number], []).append(row)
    found = []
    for key in sorted(groups):
        first, last = period_bounds(key, grouping, period)
        found.append(kpis(key, groups[key]).model_copy(update={"start": first, "end": last}))
    return found


def tier_responses(rows: Iterable[FactRow], config: HandoffConfig) -> list[TierResponse]:
    """First human response per tier against its SLA (delivered replies only)."""
    by_tier: dict[str, list[FactRow]] = {t: [] for t in TIERS}
    for row in rows:
        if row.handoffs:
            by_tier.setdefault(row.tier, []).append(row)
    found = []
    for tier, handed in by_tier.items():
        answered = [s for r in handed if (s := r.first_human_response_seconds) is not None]
        business = [s for r in handed if (s := r.first_human_response_business_seconds) is not None]
        within = sum(1 for r in handed if r.within_sla is True)
        known = sum(1 for r in handed if r.within_sla is not None)
        sla = config.sla_seconds(tier)  # type: ignore[arg-type]
        nexts = [s for r in handed for s in r.next_response_seconds]
        found.append(
            TierResponse(
                tier=tier,
                sla_seconds=sla,
                handoffs=len(handed),
                answered=len(answered),
                waiting=len(handed) - known,
                median_seconds=percentile(answered, 50),
                p90_seconds=percentile(answered, 90),
                within_sla=within,
                within_sla_rate=rate(within, known),
                business_median_seconds=percentile(business, 50),
                next_responses=len(nexts),
                next_response_median_seconds=percentile(nexts, 50),
                next_response_p90_seconds=percentile(nexts, 90),
                next_within_sla_rate=rate(sum(1 for s in nexts if s <= sla), len(nexts)),
            )
        )
    return found


def csat_of(rows: Sequence[FactRow]) -> Csat:
    """CSAT over ``rows``: requests, responses, average, distribution, 4-5 share."""
    scores = [r.csat_score for r in rows if r.csat_score is not None]
    requested = sum(1 for r in rows if r.csat_requested or r.csat_score is not None)
    distribution = {score: scores.count(score) for score in range(1, 6)}
    return Csat(
        requested=requested,
        responses=len(scores),
        response_rate=rate(len(scores), requested),
        average=round(sum(scores) / len(scores), 2) if scores else None,
        distribution=distribution,
        satisfied_rate=rate(distribution[4] + distribution[5], len(scores)),
    )


def kpis(key: str, rows: Sequence[FactRow]) -> KpiRow:
    """The KPIs of one slice of conversations (one pass: reports cover 10,000s of rows)."""
    rated = contained = resolved = first_contact = handed = known = within = 0
    requested = 0
    answered: list[float] = []
    nexts: list[float] = []
    scores: list[int] = []
    for r in rows:
        outcome = r.outcome
        if outcome in RATED:
            rated += 1
            contained += outcome == Outcome.CONTAINED
            resolved += outcome == Outcome.RESOLVED
            first_contact += r.first_contact_resolution
        if r.handoffs:
            handed += 1
            if r.first_human_response_seconds is not None:
                answered.append(r.first_human_response_seconds)
            nexts.extend(r.next_response_seconds)
            if r.within_sla is not None:
                known += 1
                within += r.within_sla
        if r.csat_score is not None:
            scores.append(r.csat_score)
        if r.csat_requested or r.csat_score is not None:
            requested += 1
    return KpiRow(
        key=key,
        outcomes={o.value: sum(1 for r in rows if r.outcome == o) for o in Outcome},
        volume=len(rows),
        rated=rated,
        contained=contained,
        containment_rate=rate(contained, rated),
        resolved_by_person=resolved,
        resolution_rate=rate(contained + resolved, rated),
        first_contact_resolution_rate=rate(first_contact, rated),
        handoffs=handed,
        first_response_median_seconds=percentile(answered, 50),
        next_response_median_seconds=percentile(nexts, 50),
        within_sla=within,
        sla_known=known,
        within_sla_rate=rate(within, known),
        csat_average=round(sum(scores) / len(scores), 2) if scores else None,
        csat_response_rate=rate(len(scores), requested),
    )


def breakdown(rows: Sequence[FactRow], key: Callable[[FactRow], str | None]) -> list[KpiRow]:
    """KPIs per value of ``key`` (rows whose key is None are left out), sorted by key."""
    groups: dict[str, list[FactRow]] = defaultdict(list)
    for row in rows:
        value = key(row)
        if value is not None:
            groups[value].append(row)
    return [kpis(k, groups[k]) for k in sorted(groups)]


def sentiment_of(rows: Sequence[FactRow]) -> Sentiment:
    """Average sentiment at the start and end of the conversations that have scores."""
    scored = [r for r in rows if r.sentiment_start is not None and r.sentiment_end is not None]
    starts = [r.sentiment_start for r in scored if r.sentiment_start is not None]
    ends = [r.sentiment_end for r in scored if r.sentiment_end is not None]
    return Sentiment(
        conversations=len(scored),
        start_average=round(sum(starts) / len(starts), 4) if starts else None,
        end_average=round(sum(ends) / len(ends), 4) if ends else None,
        improved=sum(1 for a, b in zip(starts, ends, strict=True) if b > a),
        worsened=sum(1 for a, b in zip(starts, ends, strict=True) if b < a),
    )


def compute_report(
    rows: Sequence[FactRow],
    period: DateRange,
    config: HandoffConfig,
    *,
    grouping: Grouping = "day",
    reopen_days: int = DEFAULT_REOPEN_DAYS,
) -> AnalyticsReport:
    """The report over classified conversations started in ``period``."""
    start, end = period.start_ts, period.end_ts
    rows = [r for r in rows if start <= r.started_at < end]
    totals = kpis("total", rows)
    reasons = Counter(r.handoff_reason or "unknown" for r in rows if r.handoffs)
    dimensions: dict[Dimension, Callable[[FactRow], str | None]] = {
        "tier": lambda r: r.tier,
        "channel": lambda r: r.channel,
        "language": lambda r: r.language or "unknown",
        "agent": lambda r: r.agent_id if r.handoffs else None,
    }
    by_tier = []
    for tier in TIERS:
        tier_csat = csat_of([r for r in rows if r.tier == tier])
        by_tier.append(TierCsat(tier=tier, **tier_csat.model_dump()))
    return AnalyticsReport(
        range=period,
        grouping=grouping,
        reopen_days=reopen_days,
        containment=Containment(
            conversations=totals.rated, contained=totals.contained, rate=totals.containment_rate
        ),
        outcomes={o.value: sum(1 for r in rows if r.outcome == o) for o in Outcome},
        totals=totals,
        first_response=tier_responses(rows, config),
        csat=csat_of(rows),
        csat_by_tier=by_tier,
        sentiment=sentiment_of(rows),
        handoff_reasons=[
            ReasonCount(reason=code, label=reason_words(code), count=n) for code, n in reasons.most_common()
        ],
        breakdowns={"period": trend(rows, period, grouping)}
        | {name: breakdown(rows, key) for name, key in dimensions.items()},
    )


async def analytics_report(
    store: EventStore,
    period: DateRange,
    config: HandoffConfig,
    *,
    now: float | None = None,
    grouping: Grouping = "day",
    reopen_days: int = DEFAULT_REOPEN_DAYS,
    business_hours: bool = True,
) -> AnalyticsReport:
    """:func:`compute_report` over the read models' conversations started in ``period``."""
    rows = await load_fact_rows(
        store, period, config, now=now, reopen_days=reopen_days, business_hours=business_hours
    )
    report = compute_report(rows, period, config, grouping=grouping, reopen_days=reopen_days)
    report.quality = await quality_table(store, period)  # the read model's scores, per speaker
    return report
