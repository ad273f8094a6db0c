"""Outbox benchmark: how fast replies are stored and delivered, and that each goes out once, in order.

    .venv/bin/python -m bench.outbox [--messages 2000] [--conversations 100] [--workers 1]
                                     [--database-url postgresql+psycopg://127.0.0.1/test]

``--messages`` replies over ``--conversations`` conversations are enqueued (each one
committed, as a turn does), then ``--workers`` outbox workers on the same database deliver
them through a channel whose send takes ``--send-ms`` (a provider's round trip; no rate
limit). SQLite (a file, fsynced) by default; with a PostgreSQL URL the run uses a throwaway
schema. The last line is one JSON object: enqueue and delivery rates, duplicates (must be 0)
and conversations delivered out of order (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from fastapi import APIRouter

from bot.channels.base import ChannelSection, MessageHandler, PushChannel
from bot.channels.outbox import Outbox, OutboxSettings, RateLimit
from bot.models import OutboundMessage
from bot.store import EventStore
from bot.store.database import scratch_schema

UNLIMITED = RateLimit(per_second=1_000_000, burst=1_000_000)


class TimedChannel(PushChannel):
    """Delivers by recording (conversation, sequence number) after a fixed round trip."""

    name = "bench"

    def __init__(
        self, send_ms: float, delivered: list[tuple[str, int]], target: int, done: asyncio.Event
    ) -> None:
        super().__init__(ChannelSection(rate_limit=UNLIMITED))
        self.send_s = send_ms / 1000
        self.delivered = delivered
        self.target = target
        self.done = done

    def router(self, handler: MessageHandler) -> APIRouter:
        return APIRouter()

    async def deliver(self, message: OutboundMessage) -> str | None:
        await asyncio.sleep(self.send_s)
        self.delivered.append((message.recipient_id, int(message.text or 0)))
        if len(self.delivered) >= self.target:
            self.done.set()
        return uuid.uuid4().hex


async def run(args: argparse.Namespace, url: str, schema: str | None) -> dict[str, object]:
    store = EventStore.from_url(url, schema=schema)
    await store.migrate()
    settings = OutboxSettings(poll_interval=0.05, batch_size=args.batch)
    delivered: list[tuple[str, int]] = []
    producer = Outbox(store.engine, settings)
    started = time.perf_counter()
    for i in range(args.messages):
        conversation = f"client-{i % args.conversations}"
        await producer.enqueue(OutboundMessage(channel="bench", recipient_id=conversation, text=str(i)))
    enqueue_s = time.perf_counter() - started

    workers = []
    done = asyncio.Event()
    for _ in range(args.workers):
        engine = store.engine if not workers else EventStore.from_url(url, schema=schema).engine
        outbox = Outbox(engine, settings)
        TimedChannel(args.send_ms, delivered, args.messages, done).attach(outbox)
        workers.append(outbox)
    started = time.perf_counter()
    for outbox in workers:
        await outbox.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=args.timeout)
    except TimeoutError:
        pass  # reported: delivered < messages
    deliver_s = time.perf_counter() - started
    for outbox in workers:
        await outbox.stop()
        if outbox.engine is not store.engine:
            await outbox.engine.dispose()
    await store.close()

    seen: dict[str, list[int]] = defaultdict(list)
    for conversation, number in delivered:
        seen[conversation].append(number)
    return {
        "database": "postgresql" if schema else "sqlite",
        "messages": args.messages,
        "conversations": args.conversations,
        "workers": args.workers,
        "send_ms": args.send_ms,
        "enqueue_per_s": round(args.messages / enqueue_s, 1),
        "delivered": len(delivered),
        "deliver_per_s": round(len(delivered) / deliver_s, 1),
        "duplicates": len(delivered) - len(set(delivered)),
        "out_of_order_conversations": sum(1 for numbers in seen.values() if numbers != sorted(numbers)),
    }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    if not args.database_url:
        with tempfile.TemporaryDirectory() as directory:
            return await run(args, f"sqlite+aiosqlite:///{Path(directory) / 'outbox.db'}", None)
    async with scratch_schema(args.database_url, "bench_outbox") as schema:
        return await run(args, args.database_url, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--send-ms", type=float, default=20.0, help="the provider's round trip per send")
    parser.add_argument("--batch", type=int, default=50, help="rows a worker claims per round")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a SQLite file)")
    print(json.dumps(asyncio.run(main_async(parser.parse_args()))))


if __name__ == "__main__":
    main()
