"""Analytics over the read models, on a real SQLite file and real PostgreSQL: every KPI on a
synthetic day with known answers (``analytics_log.py``), including the inflation cases: a
flood of "hi", a day of one waiting handoff and one "I don't know", an agent reply that was
never delivered, a reopen within the window."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import EventStore
from console.services.analytics import DateRange, analytics_report, facts_csv, load_fact_rows, percentile
from console.services.analytics.report import period_key
from handoff.config import HandoffConfig
from handoff.projections import (
    AgentReplies,
    ConversationFactsProjector,
    HandoffTickets,
    register_handoff_projections,
)
from tests.console.services.analytics_log import DAY, DAY_S, NOW, T, said, write_day, write_flood
from tests.database_support import BACKENDS, migrated_store

PERIOD = DateRange(start=DAY, end=DAY)
CONFIG = HandoffConfig()  # SLAs: VIP 60 s, Premium 120 s, Standard 300 s
PROJECTIONS = [HandoffTickets.name, ConversationFactsProjector.name, AgentReplies.name]


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[EventStore]:
    """A migrated event store with the handoff read models registered."""
    async with migrated_store(request.param, tmp_path, postgres_url, "test_analytics") as event_store:
        await register_handoff_projections(event_store)
        yield event_store


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 90) == 10.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([float(v) for v in range(1, 11)], 90) == 9.1


def test_periods_group_by_day_iso_week_and_month() -> None:
    assert [period_key(T, g) for g in ("day", "week", "month")] == ["2026-04-10", "2026-W15", "2026-04"]


def test_date_range_bounds_are_whole_utc_days() -> None:
    period = DateRange(start=DAY, end=DAY + dt.timedelta(days=1))
    assert period.contains(dt.datetime.combine(DAY, dt.time(0), dt.UTC).timestamp())
    assert period.contains(dt.datetime.combine(DAY, dt.time(23, 59), dt.UTC).timestamp() + 86400)
    assert not period.contains(dt.datetime.combine(DAY, dt.time(0), dt.UTC).timestamp() + 2 * 86400)
    assert DateRange.last_days(30, today=DAY).start == dt.date(2026, 3, 12)


async def test_every_kpi_of_a_known_day(store: EventStore) -> None:
    await write_day(store)
    report = await analytics_report(store, PERIOD, CONFIG, now=NOW)

    assert report.outcomes == {
        "greeting_only": 0,
        "abandoned": 1,
        "unresolved": 3,  # the fallback, the "I don't know", the client back in 2 days
        "contained": 4,
        "assisted": 3,  # no delivered reply, still waiting, reopened after resolution
        "resolved": 2,
    }
    assert report.containment.model_dump() == {"conversations": 13, "contained": 4, "rate": 0.3077}
    totals = report.totals
    assert totals is not None
    assert (totals.volume, totals.rated, totals.resolved_by_person, totals.handoffs) == (13, 13, 2, 5)
    assert totals.resolution_rate == 0.4615  # (4 contained + 2 resolved) / 13, durable
    assert totals.first_contact_resolution_rate == 0.3846  # the one back after 9 days is not

    tiers = {t.tier: t for t in report.first_response}
    vip, premium, standard = tiers["VIP"], tiers["Premium"], tiers["Standard"]
    assert (vip.handoffs, vip.answered, vip.median_seconds, vip.within_sla, vip.within_sla_rate) == (
        2,
        2,
        20.0,
        2,
        1.0,
    )
    # the failed send at 20 s does not count: the first delivered reply came at 200 s (SLA 120)
    assert (premium.handoffs, premium.answered, premium.median_seconds, premium.within_sla_rate) == (
        1,
        1,
        200.0,
        0.0,
    )
    # neither Standard handoff got a delivered reply, and both are past 300 s
    assert (standard.handoffs, standard.answered, standard.waiting, standard.within_sla_rate) == (
        2,
        0,
        0,
        0.0,
    )

    assert (report.csat.requested, report.csat.responses, report.csat.average) == (3, 2, 4.5)
    assert report.csat.response_rate == 0.6667 and report.csat.satisfied_rate == 1.0
    by_tier = {c.tier: c for c in report.csat_by_tier}
    assert (by_tier["VIP"].responses, by_tier["VIP"].average) == (1, 4.0)
    assert (by_tier["Premium"].requested, by_tier["Premium"].response_rate) == (1, 0.0)
    assert (by_tier["Standard"].responses, by_tier["Standard"].average) == (1, 5.0)

    sentiment = report.sentiment
    assert sentiment is not None
    assert (sentiment.conversations, sentiment.start_average, sentiment.end_average) == (2, -0.15, 0.15)
    assert (sentiment.improved, sentiment.worsened) == (1, 0)

    reasons = {r.reason: (r.label, r.count) for r in report.handoff_reasons}
    assert reasons == {
        "rule:vip_complaint": ("Rule: VIP complaint", 2),
        "client_request": ("Client asked for a person", 2),
        "sentiment": ("Client upset (negative sentiment)", 1),
    }

    agents = {k.key: k for k in report.breakdowns["agent"]}
    assert set(agents) == {"anna", "olena"}  # the waiting one has no agent
    assert (
        agents["anna"].volume,
        agents["anna"].resolved_by_person,
        agents["anna"].first_response_median_seconds,
    ) == (
        2,
        1,
        20.0,
    )
    assert (agents["olena"].volume, agents["olena"].resolved_by_person, agents["olena"].within_sla_rate) == (
        2,
        1,
        0.0,
    )
    channels = {k.key: (k.volume, k.contained) for k in report.breakdowns["channel"]}
    assert channels == {"telegram": (2, 0), "widget": (11, 4)}
    languages = {k.key: (k.volume, k.contained) for k in report.breakdowns["language"]}
    assert languages == {"pl": (1, 1), "unknown": (12, 3)}
    assert [(k.key, k.volume) for k in report.breakdowns["period"]] == [("2026-04-10", 13)]
    tier_kpis = {k.key: k.volume for k in report.breakdowns["tier"]}
    assert tier_kpis == {"VIP": 2, "Premium": 1, "Standard": 10}

    # the read models are rebuildable: the same report after replaying the log into them
    await store.rebuild_projections(PROJECTIONS)
    assert await analytics_report(store, PERIOD, CONFIG, now=NOW) == report


async def test_a_flood_of_hi_raises_nothing(store: EventStore) -> None:
    await write_day(store)
    before = await analytics_report(store, PERIOD, CONFIG, now=NOW)
    await write_flood(store, 60)
    after = await analytics_report(store, PERIOD, CONFIG, now=NOW)
    assert after.outcomes["greeting_only"] == 60 and after.totals and after.totals.volume == 73
    assert after.containment == before.containment  # 4 of 13, still
    assert after.totals.resolution_rate == before.totals.resolution_rate if before.totals else False


async def test_a_waiting_handoff_and_an_i_dont_know_do_not_score_one(store: EventStore) -> None:
    from tests.console.services.analytics_log import dont_know, handoff

    day = T + 5 * DAY_S
    await store.append(
        "widget:w", [said(day, "request_human"), *handoff(day + 1, "Standard", "client_request")]
    )
    await store.append("widget:k", [said(day, "ask_prices"), dont_know(day + 1)])
    period = DateRange(start=DAY + dt.timedelta(days=5), end=DAY + dt.timedelta(days=5))
    report = await analytics_report(store, period, CONFIG, now=day + 120)
    assert report.containment.model_dump() == {"conversations": 2, "contained": 0, "rate": 0.0}
    assert report.totals and report.totals.resolution_rate == 0.0
    standard = next(t for t in report.first_response if t.tier == "Standard")
    assert (standard.handoffs, standard.waiting, standard.within_sla_rate) == (1, 1, None)  # inside its SLA


async def test_a_reopen_within_the_window_deducts_and_a_shorter_window_restores(store: EventStore) -> None:
    await write_day(store)
    week = await analytics_report(store, PERIOD, CONFIG, now=NOW)
    one_day = await analytics_report(store, PERIOD, CONFIG, now=NOW, reopen_days=1)
    # with a 1-day window the two conversations back after 2 days count as resolutions again
    assert (week.outcomes["resolved"], one_day.outcomes["resolved"]) == (2, 3)
    assert (week.outcomes["contained"], one_day.outcomes["contained"]) == (4, 5)


async def test_the_csv_has_one_row_per_conversation_with_its_facts(store: EventStore) -> None:
    await write_day(store)
    rows = await load_fact_rows(store, PERIOD, CONFIG, now=NOW)
    parsed = list(csv.DictReader(io.StringIO(facts_csv(rows))))
    assert len(parsed) == 13
    by_id = {r["conversation_id"]: r for r in parsed}
    premium = by_id["telegram:1001"]
    assert (premium["tier"], premium["outcome"], premium["first_human_response_seconds"]) == (
        "Premium",
        "resolved",
        "200",
    )
    assert (premium["within_sla"], premium["handoff_reason"], premium["agent_id"]) == (
        "no",
        "Client asked for a person",
        "olena",
    )
    assert by_id["widget:faq2"]["confirmed"] == "yes" and by_id["widget:faq1"]["language"] == "pl"
    assert by_id["telegram:1002"]["first_human_response_seconds"] == ""
    # a cell a spreadsheet would run as a formula is written as text
    formula = rows[0].model_copy(update={"agent_id": "=HYPERLINK(1)"})
    (only,) = csv.DictReader(io.StringIO(facts_csv([formula])))
    assert only["agent_id"] == "'=HYPERLINK(1)"
