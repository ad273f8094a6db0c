"""The demo bot's bookings (``actions/bookings.py``): a table in a database of its own.

A booking keeps the name the client gave and the conversation's sender id (a phone
number on WhatsApp). The table lives where ``CONCIERGE_BOOKINGS_URL`` points (like an
external booking system the bot's actions call), so it cannot join the erase's
transaction: its rows are deleted in a transaction of their own, as a part of the erase
request recorded in the main database (privacy/erasures.py), resumed by the retention job
if this database fails; a retention run deletes expired conversations' bookings before its
own commit (a dry run only counts them). Bookings have no TTL here: the salon
keeps its appointment book.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, delete, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from actions.bookings import BookingRow, async_url, bookings_url
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import row_dict
from privacy.subject import DataSubject

bookings: Table = BookingRow.__table__  # type: ignore[assignment]


class BookingEraser:
    """The ``bookings`` table of the demo's actions, at ``url`` (default: the actions' own)."""

    name = "bookings"

    def __init__(self, url: str | None = None) -> None:
        self.url = async_url(url) if url else bookings_url()

    @asynccontextmanager
    async def _connect(self, *, write: bool) -> AsyncIterator[AsyncConnection | None]:
        """A connection (in a transaction when ``write``), or None when there are no bookings
        (a SQLite file never created, or no table). The engine lives for one call only."""
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            exists: bool = await asyncio.to_thread(os.path.isfile, database) if database else False
            if not exists:
                yield None
                return
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() if write else engine.connect() as conn:
                has = await conn.run_sync(lambda sync: sync.dialect.has_table(sync, "bookings"))
                yield conn if has else None
        finally:
            await engine.dispose()

    @staticmethod
    def _condition(subject: DataSubject) -> Any:
        senders = sorted({c.split(":", 1)[1] for c in subject.conversation_ids if ":" in c})
        names = sorted({n.lower() for n in subject.names})
        parts = []
        if senders:
            parts.append(bookings.c.sender_id.in_(senders))
        if names:
            parts.append(func.lower(bookings.c.client_name).in_(names))
        return or_(*parts) if parts else None

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """The subject's bookings."""
        condition = self._condition(subject)
        if condition is None:
            return []
        async with self._connect(write=False) as conn:
            if conn is None:
                return []
            rows = await conn.execute(select(bookings).where(condition).order_by(bookings.c.starts_at))
            return [row_dict(row._mapping) for row in rows]

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete the subject's bookings (counted only on a dry run)."""
        condition = self._condition(subject)
        if condition is None:
            return 0
        async with self._connect(write=not run.dry_run) as conn:
            if conn is None:
                return 0
            if run.dry_run:
                count = select(func.count()).select_from(bookings).where(condition)
                return int((await conn.execute(count)).scalar_one())
            return (await conn.execute(delete(bookings).where(condition))).rowcount or 0

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Bookings have no TTL (see the module docstring)."""
        return 0
