"""Tier (VIP / Premium / Standard) and milestones, computed from a client's facts.

Pure functions: the store gathers spend, visits and membership; these decide. A tier
is never stored, so a rule change in config applies to everyone at once.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel

from handoff.config import TIERS, Tier, TierConfig

VISIT_MILESTONES = (10, 25, 50, 100, 200)


class TierDecision(BaseModel):
    """The tier and the rule that gave it, for the client card ("spend 18 400 PLN ≥ 15 000")."""

    tier: Tier
    reason: str


def _pln(amount: float) -> str:
    return f"{amount:,.0f}".replace(",", " ") + " PLN"


def compute_tier(
    *,
    spend_12m: float,
    visits_12m: int,
    membership: str | None,
    override: Tier | None,
    config: TierConfig,
) -> TierDecision:
    """The best tier whose rule the client meets; a manual override wins over every rule."""
    if override is not None:
        return TierDecision(tier=override, reason="manual override")
    order = {tier: i for i, tier in enumerate(TIERS)}
    for rule in sorted(config.rules, key=lambda r: order[r.tier]):
        if membership and membership.lower() in {m.lower() for m in rule.memberships}:
            return TierDecision(tier=rule.tier, reason=f"{membership} membership")
        if rule.min_spend_12m is not None and spend_12m >= rule.min_spend_12m:
            return TierDecision(
                tier=rule.tier, reason=f"spend {_pln(spend_12m)} in 12 months ≥ {_pln(rule.min_spend_12m)}"
            )
        if rule.min_visits_12m is not None and visits_12m >= rule.min_visits_12m:
            return TierDecision(
                tier=rule.tier, reason=f"{visits_12m} visits in 12 months ≥ {rule.min_visits_12m}"
            )
    return TierDecision(tier=config.default, reason="no tier rule met")


class Milestone(BaseModel):
    """Something worth marking soon: a birthday, a round visit count, an anniversary with us."""

    kind: Literal["birthday", "visit_count", "anniversary"]
    on: date | None
    description: str


def _this_year(day: date, today: date) -> date:
    """``day``'s month and day on or after ``today`` (29 February falls on 28 February)."""
    for year in (today.year, today.year + 1):
        try:
            candidate = day.replace(year=year)
        except ValueError:
            candidate = date(year, 2, 28)
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable")


def upcoming_milestones(
    *,
    today: date,
    birthday: date | None,
    first_visit: date | None,
    visit_count: int,
    horizon_days: int = 14,
) -> list[Milestone]:
    """Milestones within ``horizon_days`` of ``today`` (the next visit's count always counts)."""
    horizon = today + timedelta(days=horizon_days)
    found: list[Milestone] = []
    if birthday is not None:
        next_birthday = _this_year(birthday, today)
        if next_birthday <= horizon:
            when = "today" if next_birthday == today else f"on {next_birthday:%d %b}"
            found.append(Milestone(kind="birthday", on=next_birthday, description=f"birthday {when}"))
    if first_visit is not None:
        anniversary = _this_year(first_visit, today)
        years = anniversary.year - first_visit.year
        if years >= 1 and anniversary <= horizon:
            plural = "year" if years == 1 else "years"
            found.append(
                Milestone(
                    kind="anniversary",
                    on=anniversary,
                    description=f"{years} {plural} with us on {anniversary:%d %b}",
                )
            )
    upcoming = visit_count + 1
    if upcoming in VISIT_MILESTONES:
        found.append(Milestone(kind="visit_count", on=None, description=f"next visit is their {upcoming}th"))
    return found
