"""The staffing forecast's backtest error on a synthetic history: prints one JSON line.

Seeds ``--weeks`` weeks of conversations through the event store (SQLite file in a temp dir,
or ``--sqlite PATH``), with the handoff read models registered as in production. Arrivals
per hour of week are Poisson around a salon's weekly profile (weekdays 09-21 with lunch and
after-work peaks, a shorter Saturday, a quiet Sunday and night), ``--per-week`` on average,
``--handoff-share`` of them handed to a person at a tier drawn 10 / 25 / 65 % VIP / Premium /
Standard. Then it runs :func:`staffing_forecast` the Monday after the last week and prints:

- ``conversations_wape`` / ``conversations_mape``: the last week predicted from the weeks
  before it (seasonal mean by hour of week), WAPE over all 168 hours and MAPE over the hours
  with traffic; the same for ``handoffs_*``;
- ``noise_floor_wape``: the WAPE a perfect forecast (the true Poisson means) would score on
  the same last week, so the forecast's error can be read against the noise it cannot beat;
- ``peak_agents``, ``staffed_hours``: next week's staffing by Erlang C (demo SLAs, 6 min per
  conversation, 2 chats per agent, 80 % within SLA);
- timings of seeding and of the forecast, and the load average.

Usage: ``python -m bench.forecast [--weeks 9 --per-week 600 --seed 7] [--sqlite PATH]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.events import Event, HandoffRequested, HandoffStatusChanged, IntentPrediction, ParseData, UserUttered
from bot.store import EventStore
from console.services.analytics.forecast import HOURS_OF_WEEK, staffing_forecast, week_start
from console.services.analytics.settings import StaffingConfig
from handoff.config import HandoffConfig
from handoff.projections import register_handoff_projections

ZONE = ZoneInfo("Europe/Warsaw")
TIERS = (("VIP", 0.10), ("Premium", 0.25), ("Standard", 0.65))


def profile() -> list[float]:
    """Relative traffic per hour of week (Monday 00:00 first)."""
    weights = []
    for day in range(7):
        for hour in range(24):
            if day == 6:
                w = 0.3 if 10 <= hour < 18 else 0.05
            elif day == 5:
                w = 1.0 if 9 <= hour < 16 else 0.1
            elif 9 <= hour < 21:
                w = 1.0 + (0.8 if hour in (12, 13) else 0) + (1.0 if hour in (18, 19) else 0)
            else:
                w = 0.15 if 7 <= hour < 23 else 0.03
            weights.append(w)
    return weights


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def conversation(at: float, handed: str | None) -> list[Event]:
    """A client's first line, handed to a person at ``handed`` (a tier) or not."""
    parse = ParseData(text="a question", intent=IntentPrediction(name="ask_prices", confidence=0.9))
    events: list[Event] = [UserUttered(text="a question", parse_data=parse, timestamp=at)]
    if handed:
        events += [
            HandoffRequested(reason="client_request", timestamp=at + 1),
            HandoffStatusChanged(
                from_status="bot",
                to_status="queued",
                actor="bot",
                metadata={"tier": handed},
                timestamp=at + 1,
            ),
        ]
    return events


async def seed(store: EventStore, args: argparse.Namespace, first: dt.datetime) -> dict[str, Any]:
    """Write the synthetic weeks; returns counts and the true means of the last week."""
    rng = random.Random(args.seed)
    weights = profile()
    scale = args.per_week / sum(weights)
    means = [w * scale for w in weights]
    written = 0
    last_week = [0] * HOURS_OF_WEEK
    for week in range(args.weeks):
        monday = first + dt.timedelta(weeks=week)
        for hour in range(HOURS_OF_WEEK):
            start = (monday + dt.timedelta(hours=hour)).timestamp()
            for _ in range(poisson(rng, means[hour])):
                handed = None
                if rng.random() < args.handoff_share:
                    draw, acc = rng.random(), 0.0
                    for tier, share in TIERS:
                        acc += share
                        if draw < acc:
                            handed = tier
                            break
                    handed = handed or "Standard"
                await store.append(f"widget:f{written}", conversation(start + rng.random() * 3500, handed))
                written += 1
                if week == args.weeks - 1:
                    last_week[hour] += 1
    floor = sum(abs(a - m) for a, m in zip(last_week, means, strict=True)) / max(1, sum(last_week))
    return {"conversations": written, "noise_floor_wape": round(floor, 4)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, forecast, and collect the figures."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(args.sqlite) if args.sqlite else Path(scratch) / "forecast.db"
        store = EventStore.from_url(f"sqlite:///{path}")
        try:
            await store.migrate()
            await register_handoff_projections(store)
            this_monday = week_start(dt.datetime.now(dt.UTC), ZONE)
            first = this_monday - dt.timedelta(weeks=args.weeks)
            # whole local weeks (DST: the same wall-clock hours each week)
            first = dt.datetime.combine(first.date(), dt.time(), ZONE)
            began = time.perf_counter()
            figures = await seed(store, args, first)
            figures["seed_s"] = round(time.perf_counter() - began, 1)
            staffing = StaffingConfig(history_weeks=args.weeks)
            began = time.perf_counter()
            forecast = await staffing_forecast(store, HandoffConfig(), staffing)
            figures["forecast_ms"] = round((time.perf_counter() - began) * 1000, 1)
        finally:
            await store.close()
    conv, hand = forecast.conversations_backtest, forecast.handoffs_backtest
    return {
        "weeks": args.weeks,
        "per_week": args.per_week,
        **figures,
        "backtest_weeks_of_history": conv.weeks_of_history,
        "last_week_conversations": conv.actual,
        "conversations_wape": conv.wape,
        "conversations_mape": conv.mape,
        "handoffs_wape": hand.wape,
        "handoffs_mape": hand.mape,
        "peak_agents": forecast.peak_agents,
        "staffed_hours": sum(1 for h in forecast.hours if h.agents),
    }


def main() -> None:
    """Parse the arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--weeks", type=int, default=9, help="weeks of history (the last is the backtest's)")
    parser.add_argument("--per-week", type=int, default=600, help="conversations per week on average")
    parser.add_argument("--handoff-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sqlite", help="keep the database at this path (default: a temp file)")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    figures["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
