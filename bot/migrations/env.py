"""Alembic environment for Concierge's database.

Two ways in: ``EventStore.migrate()`` hands over an open connection (in
``config.attributes["connection"]``) and owns the transaction; the ``alembic`` CLI gives a
URL (``-x url=...``, ``sqlalchemy.url`` or ``CONCIERGE_DATABASE_URL``) and this module
opens an async engine for it, with the same driver rewriting the store uses.
"""

from __future__ import annotations

import asyncio
import importlib
import os

from alembic import context
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.pool import NullPool

from bot.errors import ConfigError
from bot.migrations import MIGRATION_LOCK_KEY
from bot.store.database import async_url, create_engine
from bot.store.tables import Base

config = context.config

# Every module with tables of its own lists its MetaData here ("module:attribute"), so that
# `revision --autogenerate` sees the whole schema instead of proposing to drop its tables.
METADATA_SOURCES = (
    "bot.audit:METADATA",
    "privacy.erasures:METADATA",
    "knowledge.tables:metadata",
    "handoff.tables:METADATA",
    "handoff.projections:METADATA",
    "bot.channels.tables:METADATA",
    "console.tables:METADATA",
    "automation.tables:METADATA",
    "proactive.tables:METADATA",
    "console.services.analytics.tables:METADATA",
)


def _target_metadata() -> list[MetaData]:
    """The event log's tables, plus every module's when autogenerating.

    Upgrades and downgrades only run the revision files, so they never import the other
    packages (a broken import there cannot stop the bot from starting).
    """
    found = [Base.metadata]
    if getattr(config.cmd_opts, "autogenerate", False):
        for source in METADATA_SOURCES:
            module, _, attribute = source.partition(":")
            found.append(getattr(importlib.import_module(module), attribute))
    return found


def _url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("CONCIERGE_DATABASE_URL")
    )
    if not url:
        raise ConfigError("no database URL: pass -x url=... or set CONCIERGE_DATABASE_URL")
    return url


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=_target_metadata(),
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds tables when a revision needs it.
        render_as_batch=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) without a database."""
    _configure(url=async_url(_url()), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on ``connection``; the caller commits."""
    if connection.dialect.name == "postgresql":
        # Several processes may start at once (web workers, CLI); one migrates, the rest
        # wait here and then find the schema at head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """The CLI path: our own short-lived engine, one transaction."""
    engine = create_engine(_url(), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
