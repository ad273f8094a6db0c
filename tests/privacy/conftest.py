"""Privacy test support: a migrated event store on SQLite and on PostgreSQL (throwaway schema),
and a data folder for attachment files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.store import EventStore
from tests.database_support import migrated_store


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path: Path, postgres_url: str) -> AsyncIterator[EventStore]:  # type: ignore[no-untyped-def]
    """A migrated store on each backend, closed (and its schema dropped) afterwards."""
    async with migrated_store(request.param, tmp_path, postgres_url, "test_privacy") as store:
        yield store
