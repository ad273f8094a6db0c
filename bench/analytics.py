"""The analytics report at scale, on the read models: prints one JSON line.

Fills a database (a throwaway PostgreSQL schema by default, or ``--sqlite PATH``) with
``--conversations`` conversations of about ``--events`` events each through the event store,
with the handoff read models registered (so ``conversation_facts`` and ``agent_replies`` are
written in each append's transaction, as in production). The conversations spread over the
last 30 days and mix the outcomes the report tells apart: greetings only, answered,
"I don't know", abandoned, handed off and answered, resolved, reopened, waiting; some rate
the help. Telegram agent replies get outbox rows (a tenth of them failed) so the delivered
first-response join has real rows to check.

Then it times, ``--repeats`` times each (median and max):

- ``report_30d``: ``analytics_report`` over the last 30 days (the page's default range);
- ``report_366d``: the same over the longest range allowed;
- ``csv_30d``: the per-conversation CSV of the last 30 days;
- ``queue_reads``: what the console queue reads from the database (the ledger's open tickets
  from ``handoff_tickets`` and their ``conversation_facts`` rows); the full ``QueueBuilder``
  with a trained engine is timed by ``bench/load.py``.

Usage: ``python -m bench.analytics [--conversations 10000 --events 100] [--sqlite PATH]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update

from bot.channels.outbox import outbox_insert
from bot.channels.tables import outbox
from bot.events import (
    ActionExecuted,
    BotUttered,
    CsatRecorded,
    CsatRequested,
    Event,
    HandoffRequested,
    HandoffStatusChanged,
    IntentPrediction,
    ParseData,
    SentimentScore,
    UserUttered,
)
from bot.models import OutboundMessage
from bot.store import EventStore, scratch_schema
from console.services.analytics import DateRange, analytics_report, facts_csv, load_fact_rows
from handoff.config import HandoffConfig
from handoff.ledger import HandoffLedger
from handoff.projections import agent_replies, conversation_facts, register_handoff_projections
from handoff.state import HandoffStatus

DAY = 86_400.0
QUESTIONS = ["ask_prices", "ask_opening_hours", "ask_locations", "book_appointment", "complaint"]


def user(rng: random.Random, at: float, intent: str) -> UserUttered:
    parse = ParseData(
        text="a question",
        intent=IntentPrediction(name=intent, confidence=0.9),
        language=rng.choice(["en", "pl", "uk"]),
        sentiment=SentimentScore.of(rng.uniform(-1, 1)),
    )
    return UserUttered(text="a question", parse_data=parse, timestamp=at)


def exchange(rng: random.Random, at: float, intent: str, *, fallback: bool = False) -> list[Event]:
    """A client line, the action and the bot's reply (a fallback or a real answer), listen."""
    meta = {"utter_action": "utter_default"} if fallback else {"utter_action": "utter_answer"}
    return [
        user(rng, at, intent),
        ActionExecuted(name=meta["utter_action"], timestamp=at + 0.2),
        BotUttered(text="reply", metadata=meta, timestamp=at + 0.3),
        ActionExecuted(name="action_listen", timestamp=at + 0.4),
    ]


def conversation(rng: random.Random, start: float, size: int) -> tuple[list[Event], str]:
    """About ``size`` events of one conversation and its kind."""
    kind = rng.choices(
        ["greeting", "answered", "idk", "abandoned", "handoff", "resolved", "reopened", "waiting"],
        weights=[15, 35, 10, 5, 10, 15, 5, 5],
    )[0]
    at, events = start, list[Event]()
    if kind == "abandoned":
        return [user(rng, at, rng.choice(QUESTIONS))], kind
    intent = "greet" if kind == "greeting" else rng.choice(QUESTIONS)
    handoff_kinds = ("handoff", "resolved", "reopened", "waiting")
    body = size - (12 if kind in handoff_kinds else 4)
    while len(events) < body:
        events += exchange(rng, at, intent, fallback=kind == "idk" and rng.random() < 0.5)
        at += rng.uniform(5, 60)
        intent = "greet" if kind == "greeting" else rng.choice([*QUESTIONS, "thank"])
    if kind in handoff_kinds:
        tier = rng.choice(["VIP", "Premium", "Standard"])
        reason = rng.choice(["client_request", "sentiment", "repeated_fallback", "rule:vip_complaint"])
        agent = rng.choice(["anna", "olena", "marta"])
        events += [
            HandoffRequested(reason=reason, timestamp=at),
            HandoffStatusChanged(
                from_status=HandoffStatus.BOT,
                to_status=HandoffStatus.QUEUED,
                actor="bot",
                metadata={"tier": tier},
                timestamp=at,
            ),
        ]
        if kind != "waiting":
            events += [
                HandoffStatusChanged(
                    from_status=HandoffStatus.QUEUED,
                    to_status=HandoffStatus.ASSIGNED,
                    actor=agent,
                    metadata={"agent_id": agent},
                    timestamp=at + 5,
                ),
                BotUttered(
                    text="hi",
                    metadata={"sender": "agent", "agent_id": agent},
                    timestamp=at + rng.uniform(20, 400),
                ),
            ]
        if kind in ("resolved", "reopened"):
            events += [
                HandoffStatusChanged(
                    from_status=HandoffStatus.ASSIGNED,
                    to_status=HandoffStatus.RESOLVED,
                    actor=agent,
                    timestamp=at + 900,
                ),
                CsatRequested(agent_id=agent, timestamp=at + 901),
            ]
            if rng.random() < 0.6:
                events.append(CsatRecorded(score=rng.randint(1, 5), timestamp=at + 960))
        if kind == "reopened":
            events.append(user(rng, at + 2 * DAY, "complaint"))
    return events, kind


async def seed(store: EventStore, args: argparse.Namespace) -> dict[str, Any]:
    """Write the conversations (``--concurrency`` appends at a time) and the outbox rows."""
    rng = random.Random(7)
    now = time.time()
    channels = ["widget", "widget", "rest", "telegram"]
    pending = iter(range(args.conversations))
    total = 0

    async def writer() -> None:
        # each conversation is built when written (1,000,000 events held at once would not fit)
        nonlocal total
        for i in pending:
            local = random.Random(i)
            events, _kind = conversation(local, now - local.uniform(0, 30) * DAY, args.events)
            total += len(events)
            await store.append(f"{local.choice(channels)}:bench{i:06d}", events)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(args.concurrency)))
    seeded = time.perf_counter() - started
    async with store.engine.begin() as conn:
        keys = (
            (
                await conn.execute(
                    select(agent_replies.c.outbox_key).where(
                        agent_replies.c.conversation_id.like("telegram:%")
                    )
                )
            )
            .scalars()
            .all()
        )
        message = OutboundMessage(channel="telegram", recipient_id="bench", text="hi", sender="agent")
        for n in range(0, len(keys), 1000):
            chunk = keys[n : n + 1000]
            await conn.execute(
                outbox_insert(conn.dialect.name, [(k, message) for k in chunk], dt.datetime.now(dt.UTC))
            )
        failed = [k for k in keys if rng.random() < 0.1]
        await conn.execute(update(outbox).where(outbox.c.idempotency_key.in_(keys)).values(status="sent"))
        for n in range(0, len(failed), 1000):
            await conn.execute(
                update(outbox)
                .where(outbox.c.idempotency_key.in_(failed[n : n + 1000]))
                .values(status="failed")
            )
    return {
        "conversations": args.conversations,
        "events": total,
        "seed_s": round(seeded, 1),
        "outbox_rows": len(keys),
    }


async def timed(repeats: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    """Median and max milliseconds of ``repeats`` calls (after one warm-up), and the last result."""
    result = await call()
    ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = await call()
        ms.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(ms), 1), round(max(ms), 1), result


async def measure(store: EventStore, args: argparse.Namespace) -> dict[str, Any]:
    config = HandoffConfig()
    await register_handoff_projections(store)
    figures = await seed(store, args)
    month, year = DateRange.last_days(30), DateRange.last_days(366)
    ledger = HandoffLedger(store.engine)

    async def queue_reads() -> int:
        ids = await ledger.in_status(HandoffStatus.QUEUED) + await ledger.in_status(HandoffStatus.ASSIGNED)
        async with store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(conversation_facts).where(conversation_facts.c.conversation_id.in_(ids))
                )
            ).all()
        return len(rows)

    async def csv_month() -> int:
        return len(facts_csv(await load_fact_rows(store, month, config)))

    p50, worst, report = await timed(args.repeats, lambda: analytics_report(store, month, config))
    figures |= {
        "report_30d_ms_p50": p50,
        "report_30d_ms_max": worst,
        "report_conversations": report.totals.volume,
    }
    figures["report_outcomes"] = report.outcomes
    p50, worst, _ = await timed(args.repeats, lambda: analytics_report(store, year, config))
    figures |= {"report_366d_ms_p50": p50, "report_366d_ms_max": worst}
    p50, worst, size = await timed(args.repeats, csv_month)
    figures |= {"csv_30d_ms_p50": p50, "csv_30d_ms_max": worst, "csv_bytes": size}
    p50, worst, open_rows = await timed(args.repeats, queue_reads)
    figures |= {"queue_reads_ms_p50": p50, "queue_reads_ms_max": worst, "queue_open": open_rows}
    return figures


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.sqlite:
        store = EventStore.from_url(f"sqlite:///{args.sqlite}")
        try:
            await store.migrate()
            return {"database": "sqlite"} | await measure(store, args)
        finally:
            await store.close()
    async with scratch_schema(args.postgres_url, "bench_analytics") as schema:
        store = EventStore.from_url(args.postgres_url, schema=schema)
        try:
            await store.migrate()
            return {"database": "postgresql"} | await measure(store, args)
        finally:
            await store.close()


def main() -> None:
    """Parse the flags, run, print one JSON line (with the load average)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100, help="events per conversation (about)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4, help="appends in flight while seeding")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CONCIERGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--sqlite", default=None, help="a SQLite file instead of PostgreSQL")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    figures["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
