"""One process starts at a time: migrations and first-run imports are not safe to race.

Several processes starting together (``concierge run --workers N``, or N hosts behind a load
balancer after a deploy) would all migrate the schema, import the shipped articles and the
demo clients into empty tables at once, and all but one would fail on duplicate keys.
:func:`startup_lock` serialises start-up across every process sharing the deployment:

- with Redis (``CONCIERGE_REDIS_URL``): a ticket lock (:class:`bot.locks.RedisLockStore`),
  first come first served, freed after ``lifetime`` seconds if its holder dies;
- else on PostgreSQL: a session advisory lock, freed by PostgreSQL if the holder dies;
- else (SQLite, one host): an exclusive lock on a file beside the database.

Only the first process does real work under it; the others find everything in place and
only load their models, so N workers are ready about N model loads after the first.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from bot.locks import RedisLockStore
from bot.settings import Settings
from bot.store.database import create_engine

log = logging.getLogger(__name__)

KEY = "startup"
PREFIX = "concierge:startup:"
ADVISORY_KEY = 0x636F6E63  # "conc": the application's own advisory lock number
LIFETIME = 900.0  # seconds a start-up may take before the next process goes ahead anyway


@asynccontextmanager
async def startup_lock(settings: Settings) -> AsyncIterator[None]:
    """Hold the deployment's start-up lock for the ``async with`` block (see the module docstring)."""
    if settings.redis_url:
        locks = RedisLockStore.from_url(
            settings.redis_url, lifetime=LIFETIME, poll_interval=0.2, key_prefix=PREFIX
        )
        try:
            async with locks.lock(KEY):
                yield
        finally:
            await locks.close()
        return
    url = settings.resolved_database_url()
    if url.startswith("postgresql"):
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
                try:
                    yield
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
        finally:
            await engine.dispose()
        return
    state = settings.resolved_state_dir()
    state.mkdir(parents=True, exist_ok=True)
    async with _file_lock(state / "startup.lock"):
        yield


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    handle = open(path, "ab")  # noqa: ASYNC230  # a lock file: opening it does not block
    try:
        await asyncio.to_thread(fcntl.lockf, handle, fcntl.LOCK_EX)  # waits for the holder
        yield
    finally:
        handle.close()  # closing releases the lock
