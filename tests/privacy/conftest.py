"""Privacy test support: a migrated event store on SQLite and on PostgreSQL (throwaway schema),
and a data folder for attachment files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.store import EventStore, scratch_schema


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path: Path, postgres_url: str) -> AsyncIterator[EventStore]:  # type: ignore[no-untyped-def]
    """A migrated store on each backend, closed (and its schema dropped) afterwards."""
    if request.param == "sqlite":
        store = EventStore.from_url(f"sqlite:///{tmp_path / 'privacy.db'}")
        await store.migrate()
        try:
            yield store
        finally:
            await store.close()
        return
    async with scratch_schema(postgres_url, "test_privacy") as schema:
        store = EventStore.from_url(postgres_url, schema=schema)
        await store.migrate()
        try:
            yield store
        finally:
            await store.close()
