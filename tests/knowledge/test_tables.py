"""The revisions (0002_knowledge, 0012, 0016) build exactly the tables ``knowledge.tables``
describes, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.tables import metadata

KB_TABLES = {"kb_articles", "kb_article_versions", "kb_gaps", "kb_gap_clusters", "kb_golden_questions"}


def drift(connection: Connection) -> list[object]:
    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name in KB_TABLES

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
    return list(compare_metadata(context, metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_schema_matches_the_models_and_downgrades(sqlite_engine: AsyncEngine) -> None:
    from bot.migrations import downgrade

    async with sqlite_engine.begin() as conn:
        assert KB_TABLES <= await conn.run_sync(table_names)
        assert await conn.run_sync(drift) == []
        await conn.run_sync(downgrade, "0001")
        assert not KB_TABLES & await conn.run_sync(table_names)
