"""The revisions (0002_knowledge, 0012, 0016) build exactly the tables ``knowledge.tables``
describes, and go back down."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.tables import article_versions, articles, metadata

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIVE = datetime(2026, 12, 5, 15, 30, tzinfo=UTC)
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


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_0019_marks_the_live_and_file_imported_versions_as_published(
    backend: str, sqlite_engine: AsyncEngine, postgres_url: str
) -> None:
    from bot.migrations import downgrade, upgrade
    from bot.store.database import create_engine, scratch_schema

    async def check(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0018")
            await conn.execute(
                articles.insert().values(
                    id="parking",
                    status="published",
                    latest_version=3,
                    published_version=2,
                    created_at=T0,
                    updated_at=LIVE,
                    updated_by="ewa",
                )
            )
            for version, note in [(1, "imported from file"), (2, "edited"), (3, "edited")]:
                await conn.execute(
                    article_versions.insert().values(
                        article_id="parking",
                        version=version,
                        content="x",
                        content_hash="h",
                        author="ewa",
                        note=note,
                        created_at=T0,
                    )
                )
            await conn.run_sync(upgrade)
            query = select(article_versions.c.version, article_versions.c.published_at).order_by(
                article_versions.c.version
            )
            rows = (await conn.execute(query)).all()
        published = {
            version: at.replace(tzinfo=UTC) if at.tzinfo is None else at for version, at in rows if at
        }
        assert published == {1: T0, 2: LIVE}, "version 3 is a draft: never published"

    if backend == "sqlite":
        await check(sqlite_engine)
        return
    async with scratch_schema(postgres_url, "test_kb_0019") as schema:
        engine = create_engine(postgres_url, schema=schema)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(upgrade)
            await check(engine)
        finally:
            await engine.dispose()
