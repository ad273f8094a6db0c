"""Analytics over scripted event logs: containment, first response by tier vs SLA, CSAT, reasons."""

from __future__ import annotations

import datetime as dt

from bot.events import (
    BotUttered,
    CsatRecorded,
    Event,
    HandoffRequested,
    HandoffStatusChanged,
    SlotSet,
    UserUttered,
)
from bot.store import EventStore
from console.security.platform import ConsolePlatform
from console.services.analytics import DateRange, analytics_report, compute_report, episodes, percentile
from handoff.config import HandoffConfig

DAY = dt.date(2026, 4, 10)
T = dt.datetime.combine(DAY, dt.time(10), dt.UTC).timestamp()  # 10:00 UTC that day
PERIOD = DateRange(start=DAY, end=DAY)
CONFIG = HandoffConfig()  # SLAs: VIP 60 s, Premium 120 s, Standard 300 s


def handed_off(
    at: float,
    *,
    reason: str = "client_request",
    tier: str | None = "VIP",
    reply_after: float | None = None,
    slot_tier: str | None = None,
) -> list[Event]:
    """A client message, a handoff at ``at`` (tier in the move's metadata), an agent reply."""
    events: list[Event] = [UserUttered(text="hello", timestamp=at - 5)]
    if slot_tier:
        events.append(SlotSet(name="tier", value=slot_tier, timestamp=at - 4))
    events += [
        HandoffRequested(reason=reason, timestamp=at),
        HandoffStatusChanged(
            from_status="bot",
            to_status="queued",
            actor="bot",
            reason=reason,
            metadata={"tier": tier} if tier else {},
            timestamp=at,
        ),
    ]
    if reply_after is not None:
        events += [
            HandoffStatusChanged(
                from_status="queued",
                to_status="assigned",
                actor="anna.kowalska",
                metadata={"agent_id": "anna.kowalska"},
                timestamp=at + 1,
            ),
            BotUttered(
                text="Hi, Anna here",
                metadata={"sender": "agent", "agent_id": "anna.kowalska"},
                timestamp=at + reply_after,
            ),
        ]
    return events


def bot_only(at: float) -> list[Event]:
    return [UserUttered(text="opening hours?", timestamp=at), BotUttered(text="8-21", timestamp=at + 1)]


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 90) == 10.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([float(v) for v in range(1, 11)], 90) == 9.1


def test_a_scripted_day() -> None:
    logs: dict[str, list[Event]] = {
        "widget:a": bot_only(T),
        "widget:b": bot_only(T + 60),
        "widget:c": handed_off(T, tier="VIP", reply_after=30),  # within 60 s
        "widget:d": handed_off(T, tier="VIP", reply_after=90, reason="sentiment"),  # late
        "widget:e": handed_off(T, tier="Premium", reply_after=100),  # within 120 s
        "widget:f": handed_off(T, tier=None, slot_tier="Premium", reply_after=200),  # slot says Premium: late
        "widget:g": handed_off(T, tier=None, reason="rule:refund"),  # Standard, never answered
        "whatsapp:h": handed_off(T + 3600 * 5, tier="Standard", reason="rule:refund"),  # still waiting
        "widget:old": bot_only(T - 86400 * 3),  # outside the range
    }
    logs["widget:a"].append(CsatRecorded(score=5, timestamp=T + 10))
    logs["widget:c"].append(CsatRecorded(score=4, timestamp=T + 200))
    logs["widget:d"].append(CsatRecorded(score=2, timestamp=T + 300))
    logs["widget:old"].append(CsatRecorded(score=1, timestamp=T - 86400 * 3))
    now = T + 3600 * 5 + 100  # h has waited 100 s of its 300
    report = compute_report(logs, PERIOD, CONFIG, now=now)

    assert report.containment.model_dump() == {"conversations": 8, "contained": 2, "rate": 0.25}
    tiers = {t.tier: t for t in report.first_response}
    vip, premium, standard = tiers["VIP"], tiers["Premium"], tiers["Standard"]
    assert (vip.sla_seconds, vip.handoffs, vip.answered, vip.within_sla, vip.within_sla_rate) == (
        60,
        2,
        2,
        1,
        0.5,
    )
    assert (vip.median_seconds, vip.p90_seconds) == (60.0, 84.0)
    assert (premium.handoffs, premium.answered, premium.within_sla, premium.median_seconds) == (
        2,
        2,
        1,
        150.0,
    )
    # g missed its SLA unanswered; h is still inside it, so its outcome is not known yet
    assert (standard.handoffs, standard.answered, standard.waiting, standard.within_sla) == (2, 0, 1, 0)
    assert standard.within_sla_rate == 0.0 and standard.median_seconds is None
    assert report.csat.model_dump() == {
        "responses": 3,
        "average": 3.67,
        "distribution": {1: 0, 2: 1, 3: 0, 4: 1, 5: 1},
        "satisfied_rate": 0.6667,
    }
    assert [(r.reason, r.count) for r in report.handoff_reasons] == [
        ("client_request", 3),
        ("rule:refund", 2),
        ("sentiment", 1),
    ]


def test_an_empty_range_has_no_rates() -> None:
    report = compute_report({"widget:old": bot_only(T - 86400 * 3)}, PERIOD, CONFIG, now=T)
    assert report.containment.rate is None and report.csat.average is None
    assert all(t.handoffs == 0 and t.within_sla_rate is None for t in report.first_response)


def test_each_handoff_of_a_conversation_counts_with_its_own_tier() -> None:
    events = handed_off(T, tier="Standard", reply_after=10)
    events += [
        HandoffStatusChanged(
            from_status="assigned", to_status="bot", actor="anna.kowalska", timestamp=T + 50
        ),
        *handed_off(T + 100, tier="VIP", reply_after=20, reason="sentiment"),
    ]
    found = episodes("widget:x", events)
    assert [(e.tier, e.ticket.reason, e.ticket.first_response_seconds) for e in found] == [
        ("Standard", "client_request", 10.0),
        ("VIP", "sentiment", 20.0),
    ]


def test_date_range_bounds_are_whole_utc_days() -> None:
    period = DateRange(start=DAY, end=DAY + dt.timedelta(days=1))
    assert period.contains(dt.datetime.combine(DAY, dt.time(0), dt.UTC).timestamp())
    assert period.contains(dt.datetime.combine(DAY, dt.time(23, 59), dt.UTC).timestamp() + 86400)
    assert not period.contains(dt.datetime.combine(DAY, dt.time(0), dt.UTC).timestamp() + 2 * 86400)
    assert DateRange.last_days(30, today=DAY).start == dt.date(2026, 3, 12)


async def test_the_report_reads_the_real_event_log(platform: ConsolePlatform) -> None:
    store: EventStore = platform.store
    await store.append("widget:c", handed_off(T, tier="VIP", reply_after=30))
    await store.append("widget:a", [*bot_only(T), CsatRecorded(score=5, timestamp=T + 10)])
    await store.append("widget:old", bot_only(T - 86400 * 3))
    report = await analytics_report(store, PERIOD, CONFIG, now=T + 1000)
    assert report.containment.model_dump() == {"conversations": 2, "contained": 1, "rate": 0.5}
    vip = next(t for t in report.first_response if t.tier == "VIP")
    assert (vip.handoffs, vip.median_seconds, vip.within_sla_rate) == (1, 30.0, 1.0)
    assert report.csat.responses == 1
