"""Database URLs and async engines: SQLite by default, PostgreSQL by URL.

Settings may name a plain ``sqlite:///`` or ``postgresql://`` URL (what people copy
from docs and hosting dashboards); the store always talks through an async driver,
so the URL is rewritten to ``sqlite+aiosqlite`` or ``postgresql+psycopg`` here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from bot.errors import ConfigError

# Drivers we may be handed, and the async driver we use instead.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg_async",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

# How long a SQLite connection waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def async_url(url: str | URL, *, schema: str | None = None) -> URL:
    """The URL with an async driver; ``schema`` puts PostgreSQL's ``search_path`` on it.

    The schema travels in the URL (libpq's ``options=-csearch_path=...``) so every
    pooled connection, Alembic's included, sees the same tables.
    Raises :class:`ConfigError` for a URL we cannot serve.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"unsupported database {parsed.drivername!r}: use sqlite:///path or postgresql://user@host/db"
        )
    parsed = parsed.set(drivername=driver)
    if schema is not None:
        if not driver.startswith("postgresql"):
            raise ConfigError("a database schema can only be given for PostgreSQL")
        if not schema.replace("_", "").isalnum():
            raise ConfigError(f"schema name must be letters, digits and '_': {schema!r}")
        parsed = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed


def is_sqlite_memory(url: URL) -> bool:
    """True for an in-memory SQLite database, which lives in one shared connection."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_engine(url: str | URL, *, schema: str | None = None, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``, with SQLite tuned for a small always-on service.

    SQLite gets WAL (readers never wait for the writer), enforced foreign keys and a
    busy timeout so a second process (e.g. the CLI) waits instead of failing.

    PostgreSQL connections do not prepare statements on the server (psycopg's
    ``prepare_threshold=None``): psycopg would prepare each statement run five times, in a
    round trip of its own, keyed by the statement AND its parameters' types (a NULL is a
    type of its own, so one upsert is many keys), and with at most 100 per connection it kept
    evicting them with another round trip (``DEALLOCATE``): about two extra round trips per
    turn for statements that plan in microseconds (docs/benchmarks.md, "Turn latency").
    """
    parsed = async_url(url, schema=schema)
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"prepare_threshold": None, **kwargs.get("connect_args", {})}
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


@asynccontextmanager
async def scratch_schema(postgres_url: str | URL, prefix: str) -> AsyncIterator[str]:
    """A PostgreSQL schema of its own (``<prefix>_<random>``), dropped with everything in it
    afterwards: tests and benchmarks that share one database never meet. Yields its name;
    ``async_url(postgres_url, schema=name)`` or ``EventStore.from_url(..., schema=name)``
    put tables there."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, poolclass=NullPool)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        await admin.dispose()
