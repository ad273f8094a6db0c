"""Tier rules from config, and milestones worth marking."""

from __future__ import annotations

from datetime import date

from handoff.config import TierConfig, TierRule
from handoff.tiers import compute_tier, upcoming_milestones

RULES = TierConfig()


def tier(**facts: object) -> tuple[str, str]:
    base: dict[str, object] = {"spend_12m": 0.0, "visits_12m": 0, "membership": None, "override": None}
    decision = compute_tier(**{**base, **facts}, config=RULES)  # type: ignore[arg-type]
    return decision.tier, decision.reason


def test_default_rules() -> None:
    assert tier() == ("Standard", "no tier rule met")
    assert tier(spend_12m=15000.0) == ("VIP", "spend 15 000 PLN in 12 months ≥ 15 000 PLN")
    assert tier(spend_12m=14999.0)[0] == "Premium"
    assert tier(visits_12m=40) == ("VIP", "40 visits in 12 months ≥ 40")
    assert tier(visits_12m=15) == ("Premium", "15 visits in 12 months ≥ 15")
    assert tier(spend_12m=4999.0, visits_12m=14)[0] == "Standard"
    assert tier(membership="Black") == ("VIP", "Black membership")
    assert tier(membership="gold")[0] == "Premium"


def test_manual_override_wins_both_ways() -> None:
    assert tier(override="VIP") == ("VIP", "manual override")
    assert tier(override="Standard", spend_12m=50000.0) == ("Standard", "manual override")


def test_rules_come_from_config_and_are_tried_best_tier_first() -> None:
    config = TierConfig(
        rules=[
            TierRule(tier="Premium", min_visits_12m=2),
            TierRule(tier="VIP", min_visits_12m=3),
        ],
        default="Standard",
    )

    def decide(visits: int) -> str:
        return compute_tier(
            spend_12m=0, visits_12m=visits, membership=None, override=None, config=config
        ).tier

    assert [decide(v) for v in (1, 2, 3)] == ["Standard", "Premium", "VIP"]


def test_birthday_anniversary_and_round_visit_count() -> None:
    found = upcoming_milestones(
        today=date(2026, 11, 24), birthday=date(1990, 12, 4), first_visit=date(2023, 11, 30), visit_count=24
    )
    assert [m.description for m in found] == [
        "birthday on 04 Dec",
        "3 years with us on 30 Nov",
        "next visit is their 25th",
    ]


def test_nothing_outside_the_horizon_and_leap_day_birthdays() -> None:
    assert (
        upcoming_milestones(
            today=date(2026, 3, 1), birthday=date(1990, 5, 1), first_visit=None, visit_count=3
        )
        == []
    )
    leap = upcoming_milestones(
        today=date(2027, 2, 20), birthday=date(1992, 2, 29), first_visit=date(2027, 1, 1), visit_count=0
    )
    assert [(m.kind, m.on) for m in leap] == [("birthday", date(2027, 2, 28))]
    today = upcoming_milestones(
        today=date(2026, 6, 1), birthday=date(1980, 6, 1), first_visit=None, visit_count=0
    )
    assert today[0].description == "birthday today"
