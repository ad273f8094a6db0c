"""Volume by hour of week from history, its backtest error, and the agents each hour needs.

Forecast: the next week's conversations (and handoffs, per tier) in each of the 168 hours of
the week are the mean of the same hour over the last ``history_weeks`` complete weeks
(seasonal mean; weeks start Monday 00:00 in the default studio's time zone, where the roster
works). Backtest: the last complete week predicted from the weeks before it, scored with
WAPE (sum of absolute errors / sum of actuals: robust to empty night hours) and MAPE over
the hours that had traffic.

Staffing: for each hour, Erlang C (:mod:`console.services.analytics.erlang`) gives the agents
that answer ``target_share`` of each tier's handoffs within the tier's SLA, with the
configured handling time, chat concurrency and occupancy cap; the hour's total serves all
handed-off clients at the strictest SLA among the tiers that have any. Everything reads
``conversation_facts`` (one narrow query), never the event log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import select

from bot.store import EventStore
from console.services.analytics.erlang import agents_needed
from console.services.analytics.facts import tier_of
from console.services.analytics.settings import StaffingConfig
from handoff.config import TIERS, HandoffConfig
from handoff.projections import conversation_facts

HOURS_OF_WEEK = 168
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def week_start(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Monday 00:00 (local) of the week holding ``moment``."""
    local = moment.astimezone(zone)
    monday = local.date() - dt.timedelta(days=local.weekday())
    return dt.datetime.combine(monday, dt.time(), zone)


def weekly_counts(times: Iterable[float], first_week: dt.datetime, weeks: int) -> list[list[int]]:
    """Arrivals per hour of week for ``weeks`` weeks from ``first_week`` (a local Monday 00:00);
    times outside them are left out. Hours are local wall-clock hours."""
    zone = first_week.tzinfo
    counts = [[0] * HOURS_OF_WEEK for _ in range(weeks)]
    starts = [(first_week.date() + dt.timedelta(weeks=w)) for w in range(weeks + 1)]
    for ts in times:
        local = dt.datetime.fromtimestamp(ts, zone)
        week = (local.date() - starts[0]).days // 7
        if 0 <= week < weeks:
            counts[week][local.weekday() * 24 + local.hour] += 1
    return counts


def seasonal_mean(history: Sequence[Sequence[int]]) -> list[float]:
    """The mean of each hour of week over ``history`` (zeros when there is none)."""
    if not history:
        return [0.0] * HOURS_OF_WEEK
    return [sum(week[h] for week in history) / len(history) for h in range(HOURS_OF_WEEK)]


class Backtest(BaseModel):
    """The last complete week predicted from the weeks before it."""

    weeks_of_history: int
    actual: int
    predicted: float
    wape: float | None = Field(description="sum |actual - forecast| / sum actual")
    mape: float | None = Field(description="mean |actual - forecast| / actual over hours with traffic")


def backtest(weeks: Sequence[Sequence[int]]) -> Backtest:
    """Score the seasonal mean on the last week of ``weeks`` (oldest first)."""
    if len(weeks) < 2:
        return Backtest(
            weeks_of_history=0, actual=sum(weeks[-1]) if weeks else 0, predicted=0, wape=None, mape=None
        )
    *history, last = weeks
    forecast = seasonal_mean(history)
    errors = [abs(a - f) for a, f in zip(last, forecast, strict=True)]
    actual = sum(last)
    busy = [(a, e) for a, e in zip(last, errors, strict=True) if a > 0]
    return Backtest(
        weeks_of_history=len(history),
        actual=actual,
        predicted=round(sum(forecast), 2),
        wape=round(sum(errors) / actual, 4) if actual else None,
        mape=round(sum(e / a for a, e in busy) / len(busy), 4) if busy else None,
    )


class HourStaffing(BaseModel):
    """One hour of next week: forecast volume and the agents it needs."""

    hour_of_week: int
    day: str
    hour: int
    conversations: float
    handoffs: float
    agents_by_tier: dict[str, int]
    agents: int = Field(description="all handoffs of the hour at the strictest SLA among its tiers")
    service_level: float


class RosterSummary(BaseModel):
    """The roster the forecast is shown beside."""

    agents: int
    chat_slots: int = Field(description="sum of the agents' max_chats")


class StaffingForecast(BaseModel):
    """Next week's volume and staffing by hour, with the forecast's backtest error."""

    timezone: str
    week_start: dt.date
    history_weeks: int
    handle_minutes: float
    chat_concurrency: int
    target_share: float
    max_occupancy: float
    sla_seconds: dict[str, int]
    conversations_backtest: Backtest
    handoffs_backtest: Backtest
    peak_agents: int
    hours: list[HourStaffing]
    roster: RosterSummary | None = None
    short_hours: int = Field(default=0, description="hours needing more agents than the roster has")


def staff_hours(
    conversations: Sequence[float],
    handoffs_by_tier: dict[str, Sequence[float]],
    config: HandoffConfig,
    staffing: StaffingConfig,
) -> list[HourStaffing]:
    """Erlang C per hour of week for forecast handoffs per tier (arrivals per hour)."""
    hours = []
    handle = staffing.handle_minutes * 60
    for h in range(HOURS_OF_WEEK):
        by_tier: dict[str, int] = {}
        for tier in TIERS:
            rate = handoffs_by_tier.get(tier, [0.0] * HOURS_OF_WEEK)[h]
            by_tier[tier] = agents_needed(
                rate,
                handle_seconds=handle,
                target_seconds=config.sla_seconds(tier),
                target_share=staffing.target_share,
                concurrency=staffing.chat_concurrency,
                max_occupancy=staffing.max_occupancy,
            ).agents
        total_rate = sum(handoffs_by_tier.get(t, [0.0] * HOURS_OF_WEEK)[h] for t in TIERS)
        busy = [config.sla_seconds(t) for t in TIERS if handoffs_by_tier.get(t, [0.0] * HOURS_OF_WEEK)[h] > 0]
        total = agents_needed(
            total_rate,
            handle_seconds=handle,
            target_seconds=min(busy) if busy else max(config.sla.first_response_seconds.values()),
            target_share=staffing.target_share,
            concurrency=staffing.chat_concurrency,
            max_occupancy=staffing.max_occupancy,
        )
        hours.append(
            HourStaffing(
                hour_of_week=h,
                day=DAYS[h // 24],
                hour=h % 24,
                conversations=round(conversations[h], 2),
                handoffs=round(total_rate, 2),
                agents_by_tier=by_tier,
                agents=total.agents,
                service_level=total.service_level,
            )
        )
    return hours


async def staffing_forecast(
    store: EventStore,
    config: HandoffConfig,
    staffing: StaffingConfig,
    *,
    now: dt.datetime | None = None,
    roster: RosterSummary | None = None,
) -> StaffingForecast:
    """Next week's forecast and staffing from the last ``staffing.history_weeks`` weeks."""
    zone = ZoneInfo(config.locations[config.default_location].timezone)
    now = now or dt.datetime.now(dt.UTC)
    this_week = week_start(now, zone)
    weeks = staffing.history_weeks
    first = dt.datetime.combine(this_week.date() - dt.timedelta(weeks=weeks), dt.time(), zone)
    f = conversation_facts.c
    query = select(f.first_user_at, f.queued_at, f.handoff_tier, f.tier).where(
        f.first_user_at >= first.timestamp(), f.first_user_at < this_week.timestamp()
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    starts = [r.first_user_at for r in rows]
    handed: dict[str, list[float]] = {t: [] for t in TIERS}
    for r in rows:
        if r.queued_at is not None:
            handed[tier_of(r.handoff_tier, r.tier, config.tiers.default)].append(r.queued_at)
    volume = weekly_counts(starts, first, weeks)
    # weeks before the first conversation are not quiet weeks: the bot was not running yet
    skip = next((w for w, week in enumerate(volume) if any(week)), len(volume))
    volume = volume[skip:]
    per_tier = {t: weekly_counts(times, first, weeks)[skip:] for t, times in handed.items()}
    all_handoffs = [
        [sum(per_tier[t][w][h] for t in TIERS) for h in range(HOURS_OF_WEEK)] for w in range(len(volume))
    ]
    hours = staff_hours(
        seasonal_mean(volume), {t: seasonal_mean(c) for t, c in per_tier.items()}, config, staffing
    )
    peak = max((h.agents for h in hours), default=0)
    return StaffingForecast(
        timezone=zone.key,
        week_start=this_week.date() + dt.timedelta(weeks=1),
        history_weeks=len(volume),
        handle_minutes=staffing.handle_minutes,
        chat_concurrency=staffing.chat_concurrency,
        target_share=staffing.target_share,
        max_occupancy=staffing.max_occupancy,
        sla_seconds=dict(config.sla.first_response_seconds),
        conversations_backtest=backtest(volume),
        handoffs_backtest=backtest(all_handoffs),
        peak_agents=peak,
        hours=hours,
        roster=roster,
        short_hours=sum(1 for h in hours if roster is not None and h.agents > roster.agents),
    )
