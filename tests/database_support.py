"""A test's own database, one way for every test that needs the event store's tables: a SQLite
file in the test's temporary directory, or a PostgreSQL schema of its own in the machine's
``test`` database, dropped with everything in it afterwards; migrated to head by the project's
Alembic revisions (``EventStore.migrate``, the path production takes).

A module keeps its own fixture (its name, its backends, its scope) and builds it here::

    @pytest.fixture(params=BACKENDS)
    async def store(request, tmp_path, postgres_url):
        async with migrated_store(request.param, tmp_path, postgres_url, "test_gaps") as store:
            yield store
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.store import EventStore, async_url, scratch_schema

# The two backends, PostgreSQL's tests marked so that ``-m "not postgres"`` leaves them out.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class Database:
    """Where a test's tables live: a URL and, on PostgreSQL, the scratch schema in it."""

    url: str
    schema: str | None = None

    @property
    def full_url(self) -> str:
        """One URL with the schema in it: what ``Settings.database_url``, Alembic's command
        line and other processes take."""
        return async_url(self.url, schema=self.schema).render_as_string(hide_password=False)

    def open(self) -> EventStore:
        """A new store on this database (its own engine and pool, as another process has)."""
        return EventStore.from_url(self.url, schema=self.schema)

    async def migrated(self) -> EventStore:
        """A new store with the tables migrated to head; the caller closes it."""
        store = self.open()
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
        return store


@asynccontextmanager
async def scratch_database(
    backend: str, tmp_path: Path, postgres_url: str, name: str
) -> AsyncIterator[Database]:
    """An empty database of the test's own: ``tmp_path/<name>.db`` on ``"sqlite"``, a schema
    ``<name>_<random>`` on ``"postgresql"`` (dropped afterwards)."""
    if backend == "sqlite":
        yield Database(f"sqlite:///{tmp_path / f'{name}.db'}")
    elif backend == "postgresql":
        async with scratch_schema(postgres_url, name) as schema:
            yield Database(postgres_url, schema)
    else:
        raise ValueError(f"unknown test database backend {backend!r}")


@asynccontextmanager
async def migrated_store(
    backend: str, tmp_path: Path, postgres_url: str, name: str
) -> AsyncIterator[EventStore]:
    """A migrated event store on a :func:`scratch_database`, closed (and its schema dropped)
    afterwards."""
    async with scratch_database(backend, tmp_path, postgres_url, name) as database:
        store = await database.migrated()
        try:
            yield store
        finally:
            await store.close()
