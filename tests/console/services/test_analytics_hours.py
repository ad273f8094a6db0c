"""First and next human response in business hours, with known answers: the studio's open
seconds between two moments (weekends, a holiday, a DST change), and a weekend handoff on
a real store answered on Monday morning, with its next responses."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.store import EventStore
from console.services.analytics import DateRange, analytics_report, load_fact_rows
from console.services.analytics.business_hours import open_seconds
from console.services.analytics.facts import Timeline, next_response_waits
from handoff.config import HandoffConfig
from tests.console.services.analytics_log import agent_line, assign, handoff, resolve, said
from tests.console.services.test_analytics import store  # noqa: F401  (a fixture)

WARSAW = ZoneInfo("Europe/Warsaw")
CONFIG = HandoffConfig()  # Mokotów (default): Mon-Fri 09-21, Sat 09-18, Sunday closed
MOKOTOW = CONFIG.locations["mokotow"]


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 4) -> float:
    """Epoch seconds of a Warsaw wall-clock time in 2026."""
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=WARSAW).timestamp()


def test_open_seconds_skip_nights_weekends_and_holidays() -> None:
    # Friday 10 April 20:00 -> Monday 13 April 10:00: Fri 1 h + Sat 9 h + Sun 0 + Mon 1 h
    assert open_seconds(MOKOTOW, at(10, 20), at(13, 10)) == 11 * 3600
    assert open_seconds(MOKOTOW, at(10, 12), at(10, 12, 5)) == 300  # inside the day: wall clock
    assert open_seconds(MOKOTOW, at(12, 8), at(12, 20)) == 0  # Sunday
    holiday = MOKOTOW.model_copy(update={"closed_dates": [dt.date(2026, 4, 13)]})
    assert open_seconds(holiday, at(10, 20), at(13, 10)) == 10 * 3600
    # across the switch to summer time (Sunday 29 March): Sat 17-18 + Mon 09-10
    assert open_seconds(MOKOTOW, at(28, 17, month=3), at(30, 10, month=3)) == 2 * 3600
    assert open_seconds(MOKOTOW, at(13, 10), at(13, 9)) == 0


def test_next_response_waits_start_at_the_first_unanswered_client_line() -> None:
    timeline = Timeline(client=[5.0, 110.0, 120.0, 300.0, 900.0], replies=[100.0, 200.0, 400.0])
    # 5 is before the first reply (first response's), 110 and 120 are one wait, 300 another;
    # 900 comes after the resolution (the bot's again)
    assert next_response_waits(timeline, resolved_at=500.0) == [(110.0, 200.0), (300.0, 400.0)]
    assert next_response_waits(Timeline(client=[1.0], replies=[]), None) == []


async def test_a_weekend_handoff_answered_on_monday_is_within_its_sla(store: EventStore) -> None:  # noqa: F811
    cid = "widget:weekend"
    queued = at(11, 20)  # Saturday 20:00, Mokotów closed since 18:00
    await store.append(cid, [said(queued, "complaint"), *handoff(queued, "Standard", "client_request")])
    await store.append(
        cid,
        [
            assign(at(13, 9), "anna"),
            agent_line(at(13, 9, 2), "anna"),  # Monday 09:02: two open minutes after queueing
            said(at(13, 9, 5), "ask_prices"),
            said(at(13, 9, 5, 30), "ask_prices"),  # the same wait
            agent_line(at(13, 9, 6, 30), "anna"),  # 90 s
            said(at(13, 20, 59), "ask_prices"),  # a minute before closing ...
            agent_line(at(14, 9, 1), "anna"),  # ... a minute after opening: 120 s
            resolve(at(14, 9, 10), "anna"),
            said(at(14, 9, 30), "thank"),  # after the resolution: no wait
        ],
    )
    period = DateRange(start=dt.date(2026, 4, 11), end=dt.date(2026, 4, 11))
    now = at(20, 12)
    (row,) = await load_fact_rows(store, period, CONFIG, now=now)
    assert row.first_human_response_seconds == at(13, 9, 2) - queued  # 37 h 2 min on the wall
    assert (row.first_human_response_business_seconds, row.within_sla) == (120.0, True)
    assert row.next_response_seconds == [90.0, 120.0]

    report = await analytics_report(store, period, CONFIG, now=now)
    standard = next(t for t in report.first_response if t.tier == "Standard")
    assert (standard.business_median_seconds, standard.within_sla_rate) == (120.0, 1.0)
    assert (standard.next_responses, standard.next_response_median_seconds) == (2, 105.0)
    assert standard.next_within_sla_rate == 1.0

    # the wall clock (business hours off): 37 hours is far past 300 s, the night wait too
    (wall,) = await load_fact_rows(store, period, CONFIG, now=now, business_hours=False)
    assert (wall.first_human_response_business_seconds, wall.within_sla) == (None, False)
    assert wall.next_response_seconds == [90.0, at(14, 9, 1) - at(13, 20, 59)]


async def test_an_unanswered_weekend_handoff_is_not_late_before_the_studio_opens(
    store: EventStore,  # noqa: F811
) -> None:
    queued = at(11, 19)  # Saturday evening, closed
    await store.append(
        "widget:late", [said(queued, "complaint"), *handoff(queued, "VIP", "rule:vip_complaint")]
    )
    period = DateRange(start=dt.date(2026, 4, 11), end=dt.date(2026, 4, 11))
    (sunday,) = await load_fact_rows(store, period, CONFIG, now=at(12, 23))
    assert sunday.within_sla is None  # still inside its 60 s: no open second has passed
    (monday,) = await load_fact_rows(store, period, CONFIG, now=at(13, 9, 2))
    assert monday.within_sla is False  # two open minutes: past the VIP's 60 s
