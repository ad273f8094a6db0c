"""Automation tests on real databases (SQLite in a temp dir, PostgreSQL in a per-test schema)
and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.store import EventStore, scratch_schema
from tests.automation.automation_support import Mailbox, running_smtp


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with running_smtp() as running:
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[str, str | None]]:
    """``(url, schema)`` of a migrated database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'automation.db'}"
        store = EventStore.from_url(url)
        await store.migrate()
        await store.close()
        yield url, None
        return
    async with scratch_schema(postgres_url, "test_automation") as schema:
        store = EventStore.from_url(postgres_url, schema=schema)
        await store.migrate()
        await store.close()
        yield postgres_url, schema
