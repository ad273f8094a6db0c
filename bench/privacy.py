"""Privacy benchmark: how long export, erase and a retention pass take on a populated database.

    .venv/bin/python -m bench.privacy [--conversations 5000] [--audit 20000]
                                      [--database-url postgresql+psycopg://127.0.0.1/test]

Seeds ``--conversations`` conversations of other senders (4 events and a journal row each,
half of them past the anonymous TTL), ``--audit`` audit entries, and one client across every
channel (tests/privacy/seed.py); then times an export, an erase and a retention dry run and
run. SQLite (a file) by default; with a PostgreSQL URL the run uses a throwaway schema. The
last line is one JSON object with the timings in milliseconds and the rows removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.events import BotUttered, UserUttered
from bot.models import InboundMessage
from bot.store import EventStore, scratch_schema
from console.tables import audit
from privacy.erasers import default_erasers
from privacy.service import PrivacyService
from tests.privacy.seed import seed_person


async def populate(store: EventStore, conversations: int, entries: int) -> None:
    """Other people's conversations and a busy audit log."""
    now = datetime.now(UTC)
    for n in range(conversations):
        stamp = (now - timedelta(days=200 if n % 2 else 10)).timestamp()
        message = InboundMessage(channel="widget", sender_id=f"visitor-{n}", text="hello", message_id=f"m{n}")
        await store.record_inbound(message)
        await store.append(
            message.conversation_id,
            [
                UserUttered(text="hello", timestamp=stamp),
                BotUttered(text="Hi! How can I help?", timestamp=stamp),
                UserUttered(text="what are your opening hours?", timestamp=stamp),
                BotUttered(text="We are open 9-21.", timestamp=stamp),
            ],
            outcome=(message.message_id, "processed", None),
        )
    rows = [
        {
            "at": now,
            "actor": "kasia",
            "action": "client.update",
            "target": f"client:{n}",
            "subject": f"client:{n}",
            "detail": {"f": n},
        }
        for n in range(entries)
    ]
    async with store.engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            await conn.execute(audit.insert(), rows[start : start + 1000])


async def timed(work) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = await work
    return (time.perf_counter() - started) * 1000, result


async def run(url: str, schema: str | None, args: argparse.Namespace, files: Path) -> dict[str, object]:
    store = EventStore.from_url(url, schema=schema)
    try:
        await store.migrate()
        await populate(store, args.conversations, args.audit)
        person = await seed_person(
            store,
            files,
            phone="+48 601 234 567",
            email="ottilie.q@example.org",
            first="Ottilie",
            last="Quennell",
            handle="ottilie_q",
            numeric="555000111",
        )
        service = PrivacyService(store.engine, erasers=default_erasers([files]))
        export_ms, _ = await timed(service.export(person.email, actor="bench"))
        erase_ms, report = await timed(service.erase(person.email, actor="bench"))
        dry_ms, _ = await timed(service.retention(dry_run=True))
        retention_ms, retention = await timed(service.retention())
        return {
            "backend": store.dialect,
            "conversations": args.conversations,
            "audit_entries": args.audit,
            "export_ms": round(export_ms, 1),
            "erase_ms": round(erase_ms, 1),
            "erase_removed": report.removed,  # type: ignore[attr-defined]
            "retention_dry_run_ms": round(dry_ms, 1),
            "retention_ms": round(retention_ms, 1),
            "retention_conversations": retention.conversations,  # type: ignore[attr-defined]
        }
    finally:
        await store.close()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "attachments"
        if args.database_url:
            async with scratch_schema(args.database_url, "bench_privacy") as schema:
                result = await run(args.database_url, schema, args, files)
        else:
            result = await run(f"sqlite:///{tmp}/privacy.db", None, args, files)
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--audit", type=int, default=20000)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
