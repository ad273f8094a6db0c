"""Erlang C against textbook values, the hour-of-week forecast and its backtest with known
answers, and next week's staffing from a real store's history."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.store import EventStore
from console.services.analytics.erlang import (
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
)
from console.services.analytics.forecast import (
    RosterSummary,
    backtest,
    seasonal_mean,
    staffing_forecast,
    weekly_counts,
)
from console.services.analytics.settings import StaffingConfig
from handoff.config import HandoffConfig
from handoff.projections import register_handoff_projections
from tests.console.services.analytics_log import handoff, said

WARSAW = ZoneInfo("Europe/Warsaw")


def test_erlang_b_and_c_match_the_tables() -> None:
    assert erlang_b(5, 3.0) == pytest.approx(0.11005, abs=1e-5)  # Erlang B table, N=5, A=3
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)  # closed form for N=3, A=2
    assert erlang_c(2, 2.0) == 1.0 and erlang_c(5, 0.0) == 0.0


def test_the_call_centre_helper_worked_example() -> None:
    # 100 calls in 30 minutes, 180 s handling: 10 Erlangs; target 80 % answered in 20 s
    traffic, handle = 100 * 180 / 1800, 180.0
    assert erlang_c(11, traffic) == pytest.approx(0.6821, abs=1e-4)
    assert service_level(11, traffic, 20, handle) == pytest.approx(0.3896, abs=1e-4)
    assert average_speed_of_answer(11, traffic, handle) == pytest.approx(122.8, abs=0.1)
    assert service_level(13, traffic, 20, handle) == pytest.approx(0.7956, abs=1e-4)  # not enough
    assert service_level(14, traffic, 20, handle) == pytest.approx(0.8884, abs=1e-4)
    needed = agents_needed(200, handle_seconds=handle, target_seconds=20, target_share=0.8)
    assert (needed.agents, needed.occupancy, needed.average_speed_of_answer_seconds) == (14, 0.7143, 7.84)


def test_chat_concurrency_and_the_occupancy_cap() -> None:
    chats = agents_needed(200, handle_seconds=180, target_seconds=20, target_share=0.8, concurrency=2)
    assert (chats.servers, chats.agents) == (14, 7)
    capped = agents_needed(200, handle_seconds=180, target_seconds=20, target_share=0.8, max_occupancy=0.7)
    assert capped.servers == 15  # 10/14 = 0.714 is over the cap
    assert agents_needed(0, handle_seconds=180, target_seconds=20, target_share=0.8).agents == 0
    assert math.isinf(average_speed_of_answer(10, 10.0, 180))


def test_the_backtest_scores_the_last_week_from_the_ones_before() -> None:
    week = lambda first, second: [first, second] + [0] * 166  # noqa: E731
    weeks = [week(2, 1), week(4, 1), week(5, 0)]
    assert seasonal_mean(weeks[:2])[:2] == [3.0, 1.0]
    scored = backtest(weeks)
    # errors |5-3| + |0-1| = 3 over 5 actual; MAPE over the one busy hour: 2/5
    assert (scored.weeks_of_history, scored.actual, scored.predicted) == (2, 5, 4.0)
    assert (scored.wape, scored.mape) == (0.6, 0.4)
    assert backtest([week(1, 1)]).wape is None


def test_hours_of_week_are_local_wall_clock_hours() -> None:
    monday = dt.datetime(2026, 3, 23, tzinfo=WARSAW)  # the week before summer time
    times = [
        dt.datetime(2026, 3, 23, 10, 30, tzinfo=WARSAW).timestamp(),  # Mon 10 -> hour 10
        dt.datetime(2026, 3, 31, 9, 15, tzinfo=WARSAW).timestamp(),  # next Tue 09 (CEST) -> 24 + 9
        dt.datetime(2026, 3, 22, 23, tzinfo=WARSAW).timestamp(),  # before: left out
    ]
    counts = weekly_counts(times, monday, 2)
    assert counts[0][10] == 1 and counts[1][33] == 1 and sum(map(sum, counts)) == 2


async def test_next_weeks_staffing_from_a_stores_history(tmp_path: Path) -> None:
    store = EventStore.from_url(f"sqlite:///{tmp_path / 'f.db'}")
    await store.migrate()
    await register_handoff_projections(store)
    try:
        # three Mondays: at 10:00 Warsaw 6 VIP handoffs (a week ago: 9), and 4 bot-only chats
        for week, vip in enumerate((6, 6, 9)):
            monday = dt.datetime(2026, 3, 30, 10, 5, tzinfo=WARSAW) + dt.timedelta(weeks=week)
            at = monday.timestamp()
            for n in range(vip):
                await store.append(
                    f"widget:v{week}-{n}", [said(at + n, "complaint"), *handoff(at + n, "VIP", "x")]
                )
            for n in range(4):
                await store.append(f"widget:b{week}-{n}", [said(at + 60 + n, "ask_prices")])
        staffing = StaffingConfig(chat_concurrency=2, handle_minutes=6, target_share=0.8, max_occupancy=0.85)
        now = dt.datetime(2026, 4, 20, 8, tzinfo=dt.UTC)  # the Monday after the third week
        forecast = await staffing_forecast(
            store, HandoffConfig(), staffing, now=now, roster=RosterSummary(agents=2, chat_slots=7)
        )
        assert (forecast.week_start, forecast.history_weeks, forecast.timezone) == (
            dt.date(2026, 4, 27),
            3,
            "Europe/Warsaw",
        )
        monday10 = forecast.hours[10]
        assert (monday10.day, monday10.hour, monday10.conversations, monday10.handoffs) == (
            "Mon",
            10,
            11.0,
            7.0,
        )
        expected = agents_needed(
            7.0, handle_seconds=360, target_seconds=60, target_share=0.8, concurrency=2, max_occupancy=0.85
        )
        # 7 an hour x 6 min = 0.7 Erlangs: two chat slots answer 85 % within 60 s -> one agent
        assert (expected.servers, expected.service_level) == (2, 0.8539)
        assert monday10.agents == monday10.agents_by_tier["VIP"] == expected.agents == 1
        assert monday10.agents_by_tier["Standard"] == 0
        assert sum(h.agents for h in forecast.hours) == 1 and forecast.peak_agents == 1
        # the third week predicted from the first two: 6 VIP forecast, 9 came
        assert (forecast.handoffs_backtest.actual, forecast.handoffs_backtest.wape) == (9, round(3 / 9, 4))
        assert forecast.conversations_backtest.wape == round(3 / 13, 4)
        assert forecast.short_hours == 0
    finally:
        await store.close()
