"""The audit log as a store of its own (bot.audit): its table matches what Alembic built
(revision 0005 created ``console_audit``), and it writes and reads entries for any actor,
a person or token the console signed in or a name, with no console in sight."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text

from bot.audit import MAX_TARGET, METADATA, AuditFilter, AuditLog, audit
from bot.migrations import downgrade, upgrade
from bot.store import EventStore


@dataclass(frozen=True)
class Person:
    """An actor as the console hands one over (its user satisfies bot.audit.Actor)."""

    username: str
    role: str
    is_token: bool = False


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    migrated = EventStore.from_url(f"sqlite:///{tmp_path / 'audit.db'}")
    await migrated.migrate()
    try:
        yield migrated
    finally:
        await migrated.close()


def drift(connection: Connection) -> list[object]:
    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name == "console_audit"

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
    return list(compare_metadata(context, METADATA))


async def test_the_migrated_table_matches_the_definition(store: EventStore) -> None:
    async with store.engine.connect() as conn:
        assert await conn.run_sync(drift) == []


async def test_entries_are_written_and_read_newest_first_whoever_acted(store: EventStore) -> None:
    audit = AuditLog(store.engine)
    start = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
    await audit.record(Person("anna", "agent"), "workspace.claim", "conversation:widget:1", at=start)
    await audit.record(Person("token:crm", "agent", is_token=True), "client.update", "client:7", at=start)
    await audit.record("cli", "user.create", "user:" + "x" * 500, {"role": "agent"}, at=start)
    entries, total = await audit.entries(AuditFilter())
    assert total == 3
    assert [(e.actor, e.actor_role, e.action) for e in entries] == [
        ("cli", None, "user.create"),
        ("token:crm", "token", "client.update"),
        ("anna", "agent", "workspace.claim"),
    ]
    assert len(entries[0].target) == MAX_TARGET and entries[0].detail == {"role": "agent"}
    clients, total = await audit.entries(AuditFilter(action="client.*"))
    assert total == 1 and clients[0].target == "client:7"


async def test_revision_0015_backfills_whom_each_entry_is_about(store: EventStore) -> None:
    async with store.engine.begin() as conn:
        await conn.run_sync(downgrade, "0014")
        await conn.execute(
            text(
                "INSERT INTO console_audit (at, actor, action, target, detail) VALUES"
                " ('2026-01-01 00:00:00', 'kasia', 'client.update', 'client:c1', '{}'),"
                " ('2026-01-01 00:00:00', 'anna', 'workspace.reply', 'conversation:widget:w1', '{}'),"
                " ('2026-01-01 00:00:00', 'root', 'privacy.erase', 'conversation:[erased]', '{}'),"
                " ('2026-01-01 00:00:00', 'cli', 'user.create', 'user:anna', '{}')"
            )
        )
        await conn.run_sync(upgrade, "head")
        rows = (await conn.execute(select(audit.c.target, audit.c.subject).order_by(audit.c.id))).all()
        assert await conn.run_sync(drift) == []
    assert [tuple(r) for r in rows] == [
        ("client:c1", "client:c1"),
        ("conversation:widget:w1", "conversation:widget:w1"),
        ("conversation:[erased]", None),
        ("user:anna", None),
    ]
    # new entries get theirs from write_entry
    log = AuditLog(store.engine)
    await log.record("kasia", "client.link", "client:c2", {"identity": "phone"})
    await log.record("cli", "token.create", "token:3")
    async with store.engine.connect() as conn:
        latest = (await conn.execute(select(audit.c.subject).order_by(audit.c.id.desc()).limit(2))).scalars()
        assert list(latest) == [None, "client:c2"]
