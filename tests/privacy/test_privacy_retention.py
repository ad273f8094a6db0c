"""Retention removes exactly what is past its time to live, per tier and per kind, on SQLite
and PostgreSQL; a dry run counts the same and changes nothing; runs happen once across
processes."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text, update

from bot.channels.email.files import AttachmentFiles
from bot.channels.email.parse import EmailFile
from bot.channels.outbox import outbox_insert
from bot.channels.tables import outbox
from bot.events import BotUttered, SlotSet, UserUttered
from bot.models import InboundMessage, OutboundMessage
from bot.store import EventStore
from bot.store.tables import conversations, inbound_messages
from console.audit import AuditFilter, AuditLog
from console.tables import audit
from handoff.clients import ClientStore, ClientUpsert
from handoff.identity import Identity
from knowledge.tables import gaps
from privacy.config import PrivacyConfig
from privacy.erasers import default_erasers
from privacy.scheduler import RetentionScheduler
from privacy.service import PrivacyService

NOW = datetime.now(UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def chat(store: EventStore, conversation_id: str, days: float, client_id: str | None = None) -> None:
    """A conversation whose last activity was ``days`` ago (recognised as ``client_id`` if given)."""
    stamp = ago(days).timestamp()
    events = [UserUttered(text="hello", timestamp=stamp), BotUttered(text="hi!", timestamp=stamp)]
    if client_id:
        events.insert(1, SlotSet(name="client_id", value=client_id, timestamp=stamp))
    await store.append(conversation_id, events)


async def count(store: EventStore, table, *where) -> int:  # type: ignore[no-untyped-def]
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def ids(store: EventStore) -> set[str]:
    async with store.engine.connect() as conn:
        return set((await conn.execute(select(conversations.c.id))).scalars())


async def seed(store: EventStore, files: Path) -> dict[str, object]:
    clients = ClientStore(store.engine)
    standard = await clients.upsert(
        ClientUpsert(first_name="Stan", identities=[Identity.of("phone", "601111111")])
    )
    vip = await clients.upsert(
        ClientUpsert(first_name="Vera", tier_override="VIP", identities=[Identity.of("phone", "602222222")])
    )
    # conversations: (id, days since last activity, client) -> expected to go?
    plan = {
        "widget:anon-old": (100, None, True),  # anonymous: 90 days
        "widget:anon-new": (80, None, False),
        "widget:std-old": (800, standard.id, True),  # Standard: 730 days
        "widget:std-new": (700, standard.id, False),
        "whatsapp:+48601111111": (760, None, True),  # Standard by identity (no slot): 730 days
        "widget:vip-kept": (800, vip.id, False),  # VIP: 1095 days
        "widget:vip-old": (1100, vip.id, True),
    }
    for conversation_id, (days, client_id, _) in plan.items():
        await chat(store, conversation_id, days, client_id)
    # a read model keyed by conversation (as projections are): its rows follow the conversations
    async with store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE test_facts (conversation_id VARCHAR(255), facts TEXT)"))
        for conversation_id in plan:
            await conn.execute(
                text("INSERT INTO test_facts VALUES (:c, 'likes tea')"), {"c": conversation_id}
            )
    # inbound journal: processed 31 / 29 days ago, and one still waiting since 40 days
    for key, (status, days) in {
        "m-old": ("processed", 31),
        "m-new": ("processed", 29),
        "m-wait": ("received", 40),
    }.items():
        message = InboundMessage(channel="widget", sender_id="std-new", text="hi", message_id=key)
        await store.record_inbound(message)
        async with store.engine.begin() as conn:
            await conn.execute(
                update(inbound_messages)
                .where(inbound_messages.c.message_id == key)
                .values(status=status, processed_at=ago(days) if status != "received" else None)
            )
    # outbox: delivered 31 and 10 days ago, one queued for 40 days (never removed)
    async with store.engine.begin() as conn:
        for key, (status, days) in {
            "o-old": ("delivered", 31),
            "o-new": ("delivered", 10),
            "o-queued": ("queued", 40),
        }.items():
            message = OutboundMessage(channel="widget", recipient_id="anon-new", text="hi")
            await conn.execute(outbox_insert(store.dialect, [(key, message)], ago(days)))
            await conn.execute(update(outbox).where(outbox.c.idempotency_key == key).values(status=status))
    # gaps: 400 and 10 days old
    async with store.engine.begin() as conn:
        for question, days in (("is there parking?", 400), ("do you sell gift cards?", 10)):
            row = {"question": question, "language": "en", "reason": "no_answer", "score": 0.1}
            await conn.execute(gaps.insert().values(**row, created_at=ago(days)))
    # audit: 800 days old (goes), 10 days (stays), an erase record 800 days old (stays)
    entries = AuditLog(store.engine)
    await entries.record("kasia", "client.update", "client:x", {}, at=ago(800))
    await entries.record("kasia", "client.update", "client:y", {}, at=ago(10))
    await entries.record("root", "privacy.erase", "client:z", {"conversations": 1}, at=ago(800))
    # files: one named by a kept conversation, one orphan of 2 days, one orphan written just now
    store_files = AttachmentFiles(
        files / "email", url_prefix="/webhooks/email/attachments", max_bytes=1 << 20
    )
    kept, old, fresh = [
        await store_files.save(
            EmailFile(name=f"{n}.txt", mime_type="text/plain", kind="document", content=n.encode())
        )
        for n in ("kept", "old-orphan", "fresh-orphan")
    ]
    await store.append(
        "widget:std-new",
        [
            UserUttered(
                text="file",
                metadata={"attachments": f'[{{"url": "{kept.url}"}}]'},
                timestamp=ago(700).timestamp(),
            )
        ],
    )
    paths = {
        n: files / "email" / a.url[-64:][:2] / a.url[-64:]
        for n, a in (("kept", kept), ("old", old), ("fresh", fresh))
    }  # type: ignore[index]
    two_days = ago(2).timestamp()
    os.utime(paths["old"], (two_days, two_days))
    return {"plan": plan, "paths": paths}


async def test_retention_removes_exactly_what_is_past_its_ttl(store: EventStore, tmp_path: Path) -> None:
    files = tmp_path / "attachments"
    seeded = await seed(store, files)
    plan = seeded["plan"]
    paths = seeded["paths"]
    service = PrivacyService(store.engine, erasers=default_erasers([files]), clock=lambda: NOW)
    expired = {c for c, (_, _, goes) in plan.items() if goes}  # type: ignore[attr-defined]

    dry = await service.retention(dry_run=True)
    assert dry.ran and dry.dry_run and dry.conversations == len(expired)
    assert await ids(store) == set(plan)  # type: ignore[arg-type]  # nothing changed
    assert all(p.is_file() for p in paths.values())  # type: ignore[attr-defined]

    report = await service.retention()
    assert report.ran and report.conversations == len(expired) == 4
    assert report.removed == dry.removed
    assert await ids(store) == set(plan) - expired  # type: ignore[arg-type]
    assert report.removed["read_models"] == len(expired)
    async with store.engine.connect() as conn:
        left = set((await conn.execute(text("SELECT conversation_id FROM test_facts"))).scalars())
    assert left == set(plan) - expired  # type: ignore[arg-type]
    assert set(await _column(store, inbound_messages.c.message_id)) == {"m-new", "m-wait"}
    assert set(await _column(store, outbox.c.idempotency_key)) == {"o-new", "o-queued"}
    assert await _column(store, gaps.c.question) == ["do you sell gift cards?"]
    assert sorted(await _column(store, audit.c.target)) == ["client:y", "client:z", "retention"]
    assert report.removed["audit"] == 1 and report.removed["knowledge_gaps"] == 1
    assert report.removed["outbox"] == 1 and report.removed["attachments"] == 1
    assert [n for n, p in paths.items() if p.is_file()] == ["kept", "fresh"]  # type: ignore[attr-defined]

    again = await service.retention()
    assert again.ran and again.conversations == 0 and sum(again.removed.values()) == 0


async def _column(store: EventStore, column) -> list:  # type: ignore[no-untyped-def]
    async with store.engine.connect() as conn:
        return list((await conn.execute(select(column))).scalars())


async def test_the_scheduled_run_happens_once_across_processes(store: EventStore, tmp_path: Path) -> None:
    await chat(store, "widget:anon-old", 100)
    # two "processes": two services with engines of their own on the same database
    other = EventStore.from_url(store.engine.url)
    try:
        services = [
            PrivacyService(
                s.engine, erasers=default_erasers([tmp_path]), config=PrivacyConfig(interval_hours=24)
            )
            for s in (store, other)
        ]
        first, second = await asyncio.gather(*(s.scheduled_retention() for s in services))
        assert sorted([first.ran, second.ran]) == [False, True]
        assert (first.conversations if first.ran else second.conversations) == 1
        # within the interval nobody runs again, whichever process asks
        assert not (await services[0].scheduled_retention()).ran
        assert not (await services[1].scheduled_retention()).ran
        # a manual run (the CLI) always runs
        assert (await services[1].retention()).ran
    finally:
        await other.close()


async def test_the_server_job_runs_in_the_background_until_stopped(store: EventStore, tmp_path: Path) -> None:
    await chat(store, "widget:anon-old", 100)
    config = PrivacyConfig(first_run_minutes=0)
    service = PrivacyService(store.engine, erasers=default_erasers([tmp_path]), config=config)
    job = RetentionScheduler(service).start()
    try:
        async with asyncio.timeout(60):  # a bound on a hang, not a speed check
            while True:  # until the job has run
                if "widget:anon-old" not in await ids(store):
                    break
                await asyncio.sleep(0.05)
    finally:
        await job.stop()
    entries, _ = await AuditLog(store.engine).entries(AuditFilter(action="privacy.retention"))
    assert [(e.actor, e.detail["conversations"]) for e in entries] == [("system", 1)]
