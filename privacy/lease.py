"""One retention run at a time across every process that shares the database.

PostgreSQL: a transaction-level advisory lock taken with ``pg_try_advisory_xact_lock``
inside the run's own transaction, released by its commit or rollback (a crashed process
cannot leave it held). SQLite (one machine by nature): an exclusive ``flock`` on a file
beside the database, released when the run ends or the process dies. A process that
does not get the lease skips the run; it never waits.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

#: advisory lock key of the retention job ("CPRIVACY" as bytes, within a signed bigint)
RETENTION_LOCK_KEY = 0x4350524956414359


@asynccontextmanager
async def retention_lease(conn: AsyncConnection) -> AsyncIterator[bool]:
    """Yields True when this process holds the retention lease for ``conn``'s transaction."""
    if conn.dialect.name == "postgresql":
        got = (
            await conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK_KEY})
        ).scalar_one()
        yield bool(got)
        return
    database = conn.engine.url.database
    if not database or database == ":memory:":  # one connection, one process: nobody to exclude
        yield True
        return
    path = Path(f"{database}.retention.lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
