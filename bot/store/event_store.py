"""The durable event log: every conversation's events and every inbound message.

One :class:`EventStore` per process, built by the object graph (never at import
time) with :meth:`EventStore.from_url`. SQLite is the default; PostgreSQL is chosen
by URL. Everything a conversation is lives here: the engine, handoff, analytics and
the console all read the same rows.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Table, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import ConcurrencyConflict, ConfigError
from bot.events import Event, events_from_dicts
from bot.locks import InMemoryLockStore
from bot.models import InboundMessage
from bot.store import statements
from bot.store.database import create_engine, is_sqlite_memory
from bot.store.projections import Projector, wants
from bot.store.tables import INBOUND_STATUSES, conversations, events, inbound_messages

InboundStatus = Literal["received", "processed", "failed"]
# (message_id, status, error): what became of an inbound message, written with the turn's events
InboundOutcome = tuple[str, InboundStatus, str | None]

# Alembic keeps the running migration in module globals (alembic.context / alembic.op), so
# two migrations in one process must not interleave at their awaits: one lock per loop.
_migration_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _migration_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _migration_locks.get(loop)
    if lock is None:
        lock = _migration_locks[loop] = asyncio.Lock()
    return lock


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: its per-conversation ``seq`` (1, 2, 3, ...) and the event itself."""

    seq: int
    event: Event


class ConversationSummary(BaseModel):
    """One row of the conversation list (console, analytics): who, where, how long."""

    id: str
    channel: str
    sender_id: str
    created_at: datetime
    updated_at: datetime
    last_seq: int


def split_conversation_id(conversation_id: str) -> tuple[str, str]:
    """``"widget:abc"`` -> ``("widget", "abc")``; an id without a channel gets channel ``""``."""
    channel, sep, sender_id = conversation_id.partition(":")
    return (channel, sender_id) if sep else ("", conversation_id)


def _without_nul(value: Any) -> Any:
    """PostgreSQL's JSONB rejects U+0000 in strings; store U+FFFD instead of failing the turn."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


class EventStore:
    """Append-only per-conversation event log plus the inbound message journal.

    ``append`` numbers events 1, 2, 3, ... per conversation; the counter lives on the
    conversation row and is bumped by one atomic upsert, so concurrent appenders (other
    tasks, other processes) never get the same ``seq``. With ``expected_seq`` an append is
    optimistic: it commits only if nobody appended since the caller read the conversation
    (:class:`~bot.errors.ConcurrencyConflict` otherwise). Registered projectors (read
    models) are applied in the append's own transaction. Inbound messages are written
    before the provider is acknowledged and deduplicated on (conversation, message id).
    """

    def __init__(self, engine: AsyncEngine, *, projectors: Sequence[Projector] = ()) -> None:
        self.engine = engine
        self._projectors: list[Projector] = []
        for projector in projectors:
            self.add_projector(projector)
        self._postgres = engine.dialect.name == "postgresql"
        sqlite = engine.dialect.name == "sqlite"
        if not (sqlite or self._postgres):
            raise ConfigError(f"EventStore supports SQLite and PostgreSQL, not {engine.dialect.name}")
        # SQLite allows one writer at a time: queueing our own writers here is cheaper than
        # letting them collide and sleep in SQLite's busy handler.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if sqlite else None
        # An in-memory database is ONE shared connection, so reads must not interleave
        # with a write transaction either.
        self._read_lock = self._write_lock if is_sqlite_memory(engine.url) else None
        # Writes to one conversation from this process commit in the order they were
        # called (arrival order), even though pooled connections could finish them in any order.
        self._call_order = InMemoryLockStore()

    @classmethod
    def from_url(cls, url: str | URL, *, schema: str | None = None, **engine_kwargs: Any) -> EventStore:
        """A store for ``sqlite:///path`` or ``postgresql://...`` (plain or async driver names).

        ``schema`` (PostgreSQL only) keeps the tables in that schema via ``search_path``,
        e.g. one schema per test run.
        """
        engine_kwargs.setdefault("pool_pre_ping", True)
        return cls(create_engine(url, schema=schema, **engine_kwargs))

    def add_projector(self, projector: Projector) -> None:
        """Keep ``projector``'s read model in step with every append from now on."""
        if any(p.name == projector.name for p in self._projectors):
            raise ConfigError(f"a projector named {projector.name!r} is already registered")
        self._projectors.append(projector)

    @property
    def projectors(self) -> list[Projector]:
        """The registered read models, in registration order."""
        return list(self._projectors)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"`` (shown on the health page)."""
        return self.engine.dialect.name

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic (safe to call on every start)."""
        from bot.migrations import upgrade

        async with _migration_lock(), self._write() as conn:
            await conn.run_sync(upgrade, revision)

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None if never migrated)."""
        from bot.migrations import current_revision

        async with self._read() as conn:
            return await conn.run_sync(current_revision)

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self._read() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    # ---- events ----------------------------------------------------------------
    async def append(
        self,
        conversation_id: str,
        new_events: Sequence[Event],
        *,
        expected_seq: int | None = None,
        outcome: InboundOutcome | None = None,
    ) -> list[int]:
        """Append events atomically; returns their ``seq`` numbers, in order.

        ``expected_seq`` is the conversation's last ``seq`` as the caller read it (0 for a
        conversation without events): if another writer appended since, nothing is written
        and :class:`~bot.errors.ConcurrencyConflict` is raised. ``outcome`` marks the
        inbound message the events answer (processed or failed) in the same transaction,
        so a turn costs one commit after its message was stored. Projectors following any
        of the events are applied in that transaction too.
        """
        if not new_events:
            if expected_seq is not None:
                actual = await self.latest_seq(conversation_id)
                if actual != expected_seq:
                    raise ConcurrencyConflict(conversation_id, expected_seq, actual)
            if outcome is not None:
                await self.mark_inbound(conversation_id, *outcome)
            return []
        now = datetime.now(UTC)
        count = len(new_events)
        channel, sender_id = split_conversation_id(conversation_id)
        last_event_at = datetime.fromtimestamp(max(e.timestamp for e in new_events), UTC)
        counter = {
            "id": conversation_id,
            "channel": channel,
            "sender_id": sender_id,
            "created_at": now,
            "updated_at": last_event_at,
            "last_seq": count,
        }
        async with self._write(conversation_id) as conn:
            # the upsert row-locks the conversation: the seq range below is ours alone
            last = (await conn.execute(statements.counter_upsert(self.dialect), counter)).scalar_one()
            first = last - count + 1
            if expected_seq is not None and first - 1 != expected_seq:
                # raising inside the transaction rolls the counter bump back: nothing is written
                raise ConcurrencyConflict(conversation_id, expected_seq, first - 1)
            await conn.execute(
                events.insert(),
                [
                    {
                        "conversation_id": conversation_id,
                        "seq": first + i,
                        "type": event.event,
                        "timestamp": event.timestamp,
                        "data": self._json(event.to_dict()),
                        "created_at": now,
                    }
                    for i, event in enumerate(new_events)
                ],
            )
            if outcome is not None:
                await conn.execute(*self._mark_statement(conversation_id, *outcome))
            if self._projectors:
                stored = [StoredEvent(first + i, event) for i, event in enumerate(new_events)]
                await self._project(conn, conversation_id, stored)
        return list(range(first, last + 1))

    async def _project(self, conn: AsyncConnection, conversation_id: str, stored: list[StoredEvent]) -> None:
        for projector in self._projectors:
            followed = wants(projector, stored)
            if followed:
                await projector.apply(conn, conversation_id, followed)

    async def rebuild_projections(self, names: Iterable[str] | None = None, *, batch: int = 200) -> int:
        """Rebuild read models from the whole log (all, or those ``names``); returns how many
        conversations were replayed.

        Each projector is reset in one transaction, then the log is replayed a batch of
        conversations per transaction. Run it while no process is writing (an append that
        lands between two batches would be applied once by the append and once by the replay).
        """
        chosen = list(self._projectors)
        if names is not None:
            wanted = set(names)
            unknown = wanted - {p.name for p in chosen}
            if unknown:
                raise ConfigError(f"no projector named {', '.join(sorted(unknown))}")
            chosen = [p for p in chosen if p.name in wanted]
        if not chosen:
            return 0
        async with self._write() as conn:
            for projector in chosen:
                await projector.reset(conn)
        async with self._read() as conn:
            ids = (
                (await conn.execute(select(conversations.c.id).order_by(conversations.c.id))).scalars().all()
            )
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            stmt = (
                select(events.c.conversation_id, events.c.seq, events.c.data)
                .where(events.c.conversation_id.in_(chunk))
                .order_by(events.c.conversation_id, events.c.seq)
            )
            async with self._write() as conn:
                rows = (await conn.execute(stmt)).all()
                by_conversation: dict[str, list[StoredEvent]] = {}
                parsed = events_from_dicts([row.data for row in rows])
                for row, event in zip(rows, parsed, strict=True):
                    by_conversation.setdefault(row.conversation_id, []).append(StoredEvent(row.seq, event))
                for conversation_id, stored in by_conversation.items():
                    for projector in chosen:
                        followed = wants(projector, stored)
                        if followed:
                            await projector.apply(conn, conversation_id, followed)
        return len(ids)

    async def load(self, conversation_id: str, after_seq: int | None = None) -> list[StoredEvent]:
        """The conversation's events in ``seq`` order, only those after ``after_seq`` if given."""
        stmt = (
            select(events.c.seq, events.c.data)
            .where(events.c.conversation_id == conversation_id)
            .order_by(events.c.seq)
        )
        if after_seq is not None:
            stmt = stmt.where(events.c.seq > after_seq)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        parsed = events_from_dicts([row.data for row in rows])
        return [StoredEvent(row.seq, event) for row, event in zip(rows, parsed, strict=True)]

    async def load_with_seq(
        self, conversation_id: str, after_seq: int | None = None
    ) -> tuple[list[StoredEvent], int]:
        """The conversation's events (after ``after_seq`` if given) and its last ``seq``, read on
        one connection: what an optimistic writer reads before ``append(expected_seq=...)``."""
        params = {"r_conversation": conversation_id, "r_after": -1 if after_seq is None else after_seq}
        async with self._read() as conn:
            # one statement, so the seq and the events after it are one consistent read
            found = (await conn.execute(statements.log_tail(), params)).all()
        last = found[0].last_seq if found else 0
        rows = [row for row in found if row.seq is not None]
        parsed = events_from_dicts([row.data for row in rows])
        return [StoredEvent(row.seq, event) for row, event in zip(rows, parsed, strict=True)], last

    async def events(self, conversation_id: str) -> list[Event]:
        """All the conversation's events, oldest first (what the tracker folds over)."""
        return [stored.event for stored in await self.load(conversation_id)]

    async def latest_seq(self, conversation_id: str) -> int:
        """The ``seq`` of the conversation's last event; 0 if it has none."""
        stmt = select(conversations.c.last_seq).where(conversations.c.id == conversation_id)
        async with self._read() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none() or 0

    async def conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationSummary]:
        """Conversations, most recently active first."""
        stmt = (
            select(conversations)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [ConversationSummary.model_validate(dict(row)) for row in rows]

    # ---- inbound journal -------------------------------------------------------
    async def record_inbound(self, message: InboundMessage) -> bool:
        """Store a client message durably; False if this (conversation, message id) was seen.

        Channels acknowledge the provider only after this returns, and process the
        message only when it returns True: that is how provider retries are deduped.
        """
        now = datetime.now(UTC)
        conversation_id = message.conversation_id
        conversation = {
            "id": conversation_id,
            "channel": message.channel,
            "sender_id": message.sender_id,
            "created_at": now,
            "updated_at": message.received_at,
            "last_seq": 0,
        }
        journal = {
            "conversation_id": conversation_id,
            "message_id": message.message_id,
            "channel": message.channel,
            "received_at": message.received_at,
            "status": "received",
            "payload": self._json(message.model_dump(mode="json")),
        }
        async with self._write(conversation_id) as conn:
            if self._postgres:  # both rows in one statement: one round trip
                both = {f"c_{k}": v for k, v in conversation.items() if k != "last_seq"}
                both.update({f"j_{k}": v for k, v in journal.items()})
                journaled = await conn.execute(statements.journal_with_conversation(), both)
            else:
                await conn.execute(statements.conversation_insert(self.dialect), conversation)
                journaled = await conn.execute(statements.journal_insert(self.dialect), journal)
            inserted = journaled.scalar_one_or_none()
        return inserted is not None

    async def mark_inbound(
        self, conversation_id: str, message_id: str, status: InboundStatus, error: str | None = None
    ) -> bool:
        """Record what became of a message (``processed`` or ``failed`` with ``error``).

        Returns False if no such message was recorded.
        """
        async with self._write(conversation_id) as conn:
            result = await conn.execute(*self._mark_statement(conversation_id, message_id, status, error))
        return result.rowcount > 0

    @staticmethod
    def _mark_statement(
        conversation_id: str, message_id: str, status: InboundStatus, error: str | None
    ) -> tuple[Any, dict[str, Any]]:
        if status not in INBOUND_STATUSES:
            raise ValueError(f"status must be one of {INBOUND_STATUSES}, not {status!r}")
        return statements.mark_update(), {
            "m_conversation": conversation_id,
            "m_message": message_id,
            "m_status": status,
            "m_error": error,
            "m_at": None if status == "received" else datetime.now(UTC),
        }

    async def count_attempt(self, conversation_id: str, message_id: str, by: int = 1) -> int | None:
        """Add ``by`` to a still unanswered message's processing attempts, in a transaction of
        its own that commits before the attempt runs (an attempt that kills its process still
        counts, whichever process made it); the count now, or None when the message is not
        ``received`` any more (answered or parked meanwhile). ``by=-1`` takes back an attempt
        that an outage, not the message, cut short."""
        journal = inbound_messages.c
        stmt = (
            update(inbound_messages)
            .where(
                journal.conversation_id == conversation_id,
                journal.message_id == message_id,
                journal.status == "received",
                journal.attempts + by >= 0,
            )
            .values(attempts=journal.attempts + by)
            .returning(journal.attempts)
        )
        async with self._write(conversation_id) as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()

    async def pending_inbound(self, limit: int | None = None) -> list[InboundMessage]:
        """Messages received but never processed (e.g. the process died), oldest first."""
        stmt = (
            select(inbound_messages.c.payload)
            .where(inbound_messages.c.status == "received")
            .order_by(inbound_messages.c.received_at, inbound_messages.c.id)
            .limit(limit)
        )
        async with self._read() as conn:
            payloads = (await conn.execute(stmt)).scalars().all()
        return [InboundMessage.model_validate(payload) for payload in payloads]

    # ---- plumbing --------------------------------------------------------------
    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT (same API on SQLite and PostgreSQL)."""
        return postgresql_insert(table) if self._postgres else sqlite_insert(table)

    def _json(self, value: dict[str, Any]) -> dict[str, Any]:
        return _without_nul(value) if self._postgres else value

    @asynccontextmanager
    async def _write(self, conversation_id: str | None = None) -> AsyncIterator[AsyncConnection]:
        in_order = self._call_order.lock(conversation_id) if conversation_id is not None else nullcontext()
        async with in_order, self._transaction(self._write_lock, begin=True) as conn:
            yield conn

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._transaction(self._read_lock, begin=False)

    @asynccontextmanager
    async def _transaction(self, lock: asyncio.Lock | None, *, begin: bool) -> AsyncIterator[AsyncConnection]:
        async with lock if lock is not None else nullcontext():
            if begin:
                async with self.engine.begin() as conn:
                    yield conn
            else:
                async with self.engine.connect() as conn:
                    yield conn
