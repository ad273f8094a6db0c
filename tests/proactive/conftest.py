"""Fixtures for the proactive scheduler: a migrated store on SQLite or PostgreSQL, the WhatsApp
Cloud API stand-in served on loopback, a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import EventStore, scratch_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[EventStore]:
    """A migrated event store (SQLite file or a throwaway PostgreSQL schema)."""
    if request.param == "sqlite":
        store = EventStore.from_url(f"sqlite:///{tmp_path / 'proactive.db'}")
        try:
            await store.migrate()
            yield store
        finally:
            await store.close()
        return
    async with scratch_schema(postgres_url, "test_proactive") as schema:
        store = EventStore.from_url(postgres_url, schema=schema)
        try:
            await store.migrate()
            yield store
        finally:
            await store.close()
