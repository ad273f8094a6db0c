"""One round of a periodic job at a time across every process sharing the database.

Pollers (the IMAP mailbox) and schedulers run in every process; a :class:`RoundLease` makes
each round run in one of them: the process that gets the lease does the round, the others
skip it (they never wait), and the next round is anyone's again, so the job moves on by
itself when the process that did it dies.

- PostgreSQL: ``pg_try_advisory_xact_lock`` in a transaction held for the round (released
  by its commit, or by PostgreSQL when the holder's connection dies);
- SQLite (one machine by nature): an exclusive ``flock`` on a file beside the database,
  released at the end of the round or when the process dies;
- an in-memory database: one process by definition, so always granted.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory lock number for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class RoundLease:
    """Who does the next round of the job ``name``; see the module docstring."""

    def __init__(self, db: AsyncEngine, name: str) -> None:
        self.db = db
        self.name = name
        self.rounds = 0  # rounds this process got (health, tests)
        self.skipped = 0  # rounds another process held

    @asynccontextmanager
    async def round(self) -> AsyncIterator[bool]:
        """Yields True when this process does the round (hold it for the round's duration)."""
        async with self._take() as mine:
            if mine:
                self.rounds += 1
            else:
                self.skipped += 1
            yield mine

    @asynccontextmanager
    async def _take(self) -> AsyncIterator[bool]:
        async with self.db.connect() as conn, conn.begin(), lease_in(conn, self.name) as mine:
            yield mine


@asynccontextmanager
async def lease_in(conn: AsyncConnection, name: str) -> AsyncIterator[bool]:
    """Yields True when this process holds the lease ``name`` for ``conn``'s transaction.

    The one implementation of the lease (see the module docstring): jobs that need the lease
    and their own writes in one transaction (privacy retention) take it on their connection.
    """
    if conn.dialect.name == "postgresql":
        query = text("SELECT pg_try_advisory_xact_lock(:key)")
        yield bool((await conn.execute(query, {"key": lease_key(name)})).scalar_one())
        return
    database = conn.engine.url.database
    if not database or database == ":memory:":  # one connection, one process: nobody to exclude
        yield True
        return
    safe = "".join(c if c.isalnum() else "-" for c in name)[:80]
    path = Path(f"{database}.{safe}.lease")
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
