"""Alembic revisions go up and down on real SQLite and PostgreSQL, by API and by CLI."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.pool import NullPool

from bot.events import BotUttered
from bot.migrations import (
    MIGRATION_LOCK_KEY,
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from bot.store import async_url, create_engine, scratch_schema
from bot.store.tables import Base
from tests.database_support import BACKENDS, Database, scratch_database

EVENT_LOG_TABLES = {"conversations", "events", "inbound_messages", "tracker_snapshots"}


@pytest.fixture(params=BACKENDS)
async def target(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[Database]:
    async with scratch_database(request.param, tmp_path, postgres_url, "test_migrations") as database:
        yield database


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def drift(connection: Connection) -> list[object]:
    """Differences between the migrated event-log tables and the models (other modules' tables aside)."""

    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name in EVENT_LOG_TABLES

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_head_builds_the_models_and_downgrade_base_removes_them(target: Database) -> None:
    store = target.open()
    try:
        async with store.engine.begin() as conn:
            assert await conn.run_sync(current_revision) is None
            await conn.run_sync(upgrade, "head")
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current_revision) == head_revision()
            assert EVENT_LOG_TABLES <= await conn.run_sync(tables)
            assert await conn.run_sync(drift) == []
            uniques = await conn.run_sync(lambda c: inspect(c).get_unique_constraints("events"))
            assert [u["column_names"] for u in uniques] == [["conversation_id", "seq"]]

        async with store.engine.begin() as conn:
            await conn.run_sync(downgrade, "base")
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current_revision) is None
            assert await conn.run_sync(tables) <= {"alembic_version"}

        await store.migrate()  # and back up again, ready for use
        assert await store.append("widget:after", [BotUttered(text="still works")]) == [1]
    finally:
        await store.close()


async def test_every_revision_steps_up_and_down(target: Database) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    chain = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert chain[0] == "0001" and chain[-1] == head_revision()
    store = target.open()
    try:
        for revision in chain:
            async with store.engine.begin() as conn:
                await conn.run_sync(upgrade, "+1")
            assert await store.schema_revision() == revision
        for expected in [*reversed(chain[:-1]), None]:
            async with store.engine.begin() as conn:
                await conn.run_sync(downgrade, "-1")
            assert await store.schema_revision() == expected
    finally:
        await store.close()


def test_revision_files_are_numbered_in_order() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(reversed(list(script.walk_revisions())))
    assert len(script.get_heads()) == 1, "one linear history: a new revision revises the current head"
    for number, rev in enumerate(revisions, start=1):
        assert rev.revision == f"{number:04d}"
        assert re.fullmatch(rf"{rev.revision}_[a-z0-9_]+\.py", Path(rev.path).name), rev.path


@pytest.fixture
async def schema(postgres_url: str) -> AsyncIterator[str]:
    """An empty PostgreSQL schema of the test's own, dropped afterwards."""
    async with scratch_schema(postgres_url, "test_migrations") as name:
        yield name


@pytest.mark.postgres
async def test_concurrent_starts_migrate_once(postgres_url: str, schema: str) -> None:
    admin = create_engine(postgres_url, poolclass=NullPool)
    tagged = async_url(postgres_url).update_query_dict({"application_name": schema})
    target = Database(tagged.render_as_string(hide_password=False), schema)
    store = target.open()
    try:
        async with admin.connect() as holder:
            # Hold the migration lock so that three other processes and this one all start
            # against the empty schema at the same moment, then let them go together.
            await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            starts = asyncio.gather(
                *(
                    asyncio.to_thread(alembic_cli, "-x", f"url={target.full_url}", "upgrade", "head")
                    for _ in range(3)
                ),
                store.migrate(),
            )
            waiting = 0
            for _ in range(300):
                waiting = (
                    await holder.execute(
                        text(
                            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                            "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = :app"
                        ),
                        {"app": schema},
                    )
                ).scalar_one()
                await holder.commit()  # pg_stat_activity is a snapshot per transaction
                if waiting == 4:
                    break
                await asyncio.sleep(0.1)
            await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            results = await starts
        assert waiting == 4, "every starting process waits for the migration lock"
        for result in results[:3]:
            assert result.returncode == 0, result.stderr
        assert await store.schema_revision() == head_revision()
        await store.migrate()  # the next start: nothing to do
        assert await store.schema_revision() == head_revision()
    finally:
        await store.close()
        await admin.dispose()


def alembic_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(MIGRATIONS_DIR / "alembic.ini"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_alembic_cli_upgrades_and_downgrades(target: Database) -> None:
    up = await asyncio.to_thread(alembic_cli, "-x", f"url={target.full_url}", "upgrade", "head")
    assert up.returncode == 0, up.stderr
    store = target.open()
    try:
        assert await store.schema_revision() == head_revision()
        down = await asyncio.to_thread(alembic_cli, "-x", f"url={target.full_url}", "downgrade", "base")
        assert down.returncode == 0, down.stderr
        assert await store.schema_revision() is None
        async with store.engine.connect() as conn:
            assert not (await conn.run_sync(tables) & EVENT_LOG_TABLES)
    finally:
        await store.close()


def test_alembic_cli_prints_sql_offline() -> None:
    result = alembic_cli("-x", "url=postgresql://nobody@nowhere/concierge", "upgrade", "0001", "--sql")
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE conversations" in result.stdout
    assert "data JSONB NOT NULL" in result.stdout
    assert "UNIQUE (conversation_id, seq)" in result.stdout
