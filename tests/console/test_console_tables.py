"""The console tables built by Alembic revisions 0005 and 0006 match console/tables.py, and go down
cleanly. (``console_audit``, built by 0005 too, is bot.audit's: tests/bot/test_audit_store.py.)"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bot.migrations import downgrade, head_revision, upgrade
from console.security.platform import ConsolePlatform
from console.tables import METADATA

CONSOLE_TABLES = {
    "console_users",
    "console_sessions",
    "console_login_attempts",
    "console_api_tokens",
}


def drift(connection: Connection) -> list[object]:
    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name in CONSOLE_TABLES

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
    return list(compare_metadata(context, METADATA))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_console_tables_match_the_definitions(platform: ConsolePlatform) -> None:
    assert head_revision() >= "0005"
    async with platform.store.engine.connect() as conn:
        assert CONSOLE_TABLES <= await conn.run_sync(table_names)
        assert await conn.run_sync(drift) == []
        uniques = await conn.run_sync(lambda c: inspect(c).get_unique_constraints("console_users"))
        assert [u["column_names"] for u in uniques] == [["username"]]


async def test_revision_0005_goes_down_to_0004_and_back(platform: ConsolePlatform) -> None:
    async with platform.store.engine.begin() as conn:
        await conn.run_sync(downgrade, "0004")
    async with platform.store.engine.connect() as conn:
        names = await conn.run_sync(table_names)
        assert not names & CONSOLE_TABLES
        assert {"events", "kb_articles", "clients"} <= names  # the other modules' tables are untouched
    async with platform.store.engine.begin() as conn:
        await conn.run_sync(upgrade, "head")
    async with platform.store.engine.connect() as conn:
        assert CONSOLE_TABLES <= await conn.run_sync(table_names)


async def test_revision_0006_drops_only_the_api_tokens_and_comes_back(platform: ConsolePlatform) -> None:
    async with platform.store.engine.begin() as conn:
        await conn.run_sync(downgrade, "0005")
    async with platform.store.engine.connect() as conn:
        names = await conn.run_sync(table_names)
        assert "console_api_tokens" not in names
        assert CONSOLE_TABLES - {"console_api_tokens"} <= names
    async with platform.store.engine.begin() as conn:
        await conn.run_sync(upgrade, "head")
    async with platform.store.engine.connect() as conn:
        assert "console_api_tokens" in await conn.run_sync(table_names)
        uniques = await conn.run_sync(lambda c: inspect(c).get_unique_constraints("console_api_tokens"))
        assert [u["column_names"] for u in uniques] == [["secret_hash"]]
