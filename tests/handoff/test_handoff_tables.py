"""The client tables built by Alembic revision 0003 match handoff/tables.py, and 0003 goes down cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bot.migrations import downgrade, head_revision, upgrade
from bot.store import EventStore
from handoff.tables import METADATA

CLIENT_TABLES = {"clients", "client_identities", "client_visits", "client_notes"}


def drift(connection: Connection) -> list[object]:
    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name in CLIENT_TABLES

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
    return list(compare_metadata(context, METADATA))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_client_tables_match_the_definitions(event_store: EventStore) -> None:
    assert head_revision() >= "0003"
    async with event_store.engine.connect() as conn:
        assert CLIENT_TABLES <= await conn.run_sync(table_names)
        assert await conn.run_sync(drift) == []
        uniques = await conn.run_sync(lambda c: inspect(c).get_unique_constraints("client_identities"))
        assert [u["column_names"] for u in uniques] == [["kind", "value"]]


async def test_revision_0003_goes_down_to_0002_and_back(event_store: EventStore) -> None:
    async with event_store.engine.begin() as conn:
        await conn.run_sync(downgrade, "0002")
    async with event_store.engine.connect() as conn:
        names = await conn.run_sync(table_names)
        assert not names & CLIENT_TABLES
        assert {"events", "kb_articles"} <= names  # the other modules' tables are untouched
    async with event_store.engine.begin() as conn:
        await conn.run_sync(upgrade, "head")
    async with event_store.engine.connect() as conn:
        assert CLIENT_TABLES <= await conn.run_sync(table_names)
