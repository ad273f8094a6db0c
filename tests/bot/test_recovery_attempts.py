"""Recovery attempts are counted in the database, before each attempt: a poison message is
parked after ``max_attempts`` attempts in all, however many processes tried it and even when
each attempt killed its process (``kill -9`` leaves no exception to count).

Real processes on one database (SQLite file and PostgreSQL), and two recovery loops with
stores of their own on one database; the turns fail as each test needs
(:mod:`tests.bot.recovery_crash`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.locks import lock_store_from_url
from bot.models import InboundMessage
from bot.recovery import PARKED, RecoveryLoop
from bot.store import EventStore
from bot.store.tables import inbound_messages
from tests.bot.recovery_crash import Turns, sweep_in_own_process
from tests.database_support import BACKENDS, scratch_database

MAX_ATTEMPTS = 3


async def journal_row(store: EventStore, message: InboundMessage) -> tuple[str, str | None, int]:
    query = select(inbound_messages.c.status, inbound_messages.c.error, inbound_messages.c.attempts).where(
        inbound_messages.c.conversation_id == message.conversation_id,
        inbound_messages.c.message_id == message.message_id,
    )
    async with store.engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return row.status, row.error, row.attempts


def stale(sender: str) -> InboundMessage:
    """A message stored a minute ago and never answered (its turn's process died)."""
    return InboundMessage(
        channel="test",
        sender_id=sender,
        text="when are you open",
        message_id=f"{sender}-1",
        received_at=datetime.now(UTC) - timedelta(minutes=1),
    )


async def run_sweep_process(url: str, schema: str | None, turn: str) -> int | None:
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=sweep_in_own_process, args=(url, schema, MAX_ATTEMPTS, turn))
    child.start()
    await asyncio.to_thread(child.join, 120)
    return child.exitcode


@pytest.fixture(params=BACKENDS)
async def shared(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[str, str | None]]:
    """A migrated database several processes open: (url, schema)."""
    async with scratch_database(request.param, tmp_path, postgres_url, "test_recovery_attempts") as database:
        await (await database.migrated()).close()
        yield database.url, database.schema


async def test_a_message_that_kills_every_process_trying_it_is_parked_after_three(
    shared: tuple[str, str | None],
) -> None:
    url, schema = shared
    store = EventStore.from_url(url, schema=schema)
    try:
        poison = stale("kim")
        assert await store.record_inbound(poison)
        for attempt in range(1, MAX_ATTEMPTS + 1):  # a new process each time: a restart
            assert await run_sweep_process(url, schema, "kill") == -signal.SIGKILL
            assert await journal_row(store, poison) == ("received", None, attempt)
        assert await run_sweep_process(url, schema, "refuse") == 0  # parks without trying
        status, error, attempts = await journal_row(store, poison)
        assert status == "failed" and attempts == MAX_ATTEMPTS + 1
        assert error == f"{PARKED}: {MAX_ATTEMPTS} attempts started, none finished"
        assert await store.pending_inbound() == []
    finally:
        await store.close()


async def test_two_processes_failing_one_message_share_its_count(shared: tuple[str, str | None]) -> None:
    """Two recovery loops with stores of their own (two processes) fail the same poison
    message in turn: parked after three failures in all, by whichever made the third."""
    url, schema = shared
    store_a, store_b = EventStore.from_url(url, schema=schema), EventStore.from_url(url, schema=schema)
    try:
        poison = stale("lea")
        assert await store_a.record_inbound(poison)
        turns_a, turns_b = Turns(store_a, "raise"), Turns(store_b, "raise")
        on_a = RecoveryLoop(turns_a, max_attempts=MAX_ATTEMPTS)  # type: ignore[arg-type]
        on_b = RecoveryLoop(turns_b, max_attempts=MAX_ATTEMPTS)  # type: ignore[arg-type]
        assert await on_a.sweep(min_age=0) == 0
        assert await on_b.sweep(min_age=0) == 0
        assert await journal_row(store_a, poison) == ("received", None, 2)
        assert await on_a.sweep(min_age=0) == 0  # the third attempt in all: A's second
        status, error, attempts = await journal_row(store_b, poison)
        assert status == "failed" and attempts == MAX_ATTEMPTS
        assert (
            error == f"{PARKED}: {MAX_ATTEMPTS} attempts failed, last PoisonError: lea-1 cannot be processed"
        )
        assert (on_a.parked, on_b.parked) == (1, 0)
        assert await on_b.sweep(min_age=0) == 0 and await on_a.sweep(min_age=0) == 0  # never again
        assert (turns_a.runs, turns_b.runs) == (2, 1)
    finally:
        await store_a.close()
        await store_b.close()


async def test_an_attempt_cut_short_by_an_outage_is_taken_back(tmp_path: Path) -> None:
    """Redis is away (nothing listens on its port): the turn cannot take the conversation's
    lock, the sweep sees the outage and the attempt does not count against the message."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = EventStore.from_url(f"sqlite:///{tmp_path / 'outage.db'}")
    locks = lock_store_from_url(f"redis://127.0.0.1:{port}/0")
    try:
        await store.migrate()
        waiting = stale("max")
        assert await store.record_inbound(waiting)
        turns = Turns(store, "lock", locks)
        recovery = RecoveryLoop(turns, max_attempts=1)  # type: ignore[arg-type]
        for _ in range(3):
            assert await recovery.sweep(min_age=0) == 0
        assert turns.runs == 3
        assert await journal_row(store, waiting) == ("received", None, 0)
        assert recovery.parked == 0
    finally:
        await locks.close()
        await store.close()
