"""Fixtures for the proactive scheduler: a migrated store on SQLite or PostgreSQL, the WhatsApp
Cloud API stand-in served on loopback, a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import EventStore
from tests.database_support import BACKENDS, migrated_store


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[EventStore]:
    """A migrated event store (SQLite file or a throwaway PostgreSQL schema)."""
    async with migrated_store(request.param, tmp_path, postgres_url, "test_proactive") as store:
        yield store
