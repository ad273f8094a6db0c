"""The outbox on real SQLite and PostgreSQL: once, in order, with backoff, rate limits and receipts.

The channel here is a scripted implementation of the ``deliver`` seam (it fails as told);
the providers' own wire formats are tested against stand-ins in the channel test files.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter
from sqlalchemy import Connection, inspect

from bot.channels.base import ChannelSection, MessageHandler, PushChannel
from bot.channels.outbox import Outbox, OutboxSettings, RateLimit, TokenBucket
from bot.channels.tables import METADATA
from bot.errors import ChannelError, OutsideWindow, RateLimited
from bot.migrations import downgrade, upgrade
from bot.models import OutboundMessage
from bot.store import EventStore

FAST = OutboxSettings(base_delay=0.02, max_delay=0.1, poll_interval=0.05, max_attempts=5)


class ScriptedChannel(PushChannel):
    """Delivers by appending to ``delivered``; raises the scripted errors first, one per attempt."""

    name = "scripted"

    def __init__(
        self,
        failures: Sequence[Exception] = (),
        rate: RateLimit | None = None,
        delivered: list[str] | None = None,
    ) -> None:
        super().__init__(ChannelSection(rate_limit=rate or RateLimit(per_second=1000, burst=1000)))
        self.failures = list(failures)
        self.delivered = delivered if delivered is not None else []
        self.attempt_times: list[float] = []

    def router(self, handler: MessageHandler) -> APIRouter:
        return APIRouter()

    async def deliver(self, message: OutboundMessage) -> str | None:
        self.attempt_times.append(time.monotonic())
        if self.failures:
            raise self.failures.pop(0)
        await asyncio.sleep(0)  # let other deliveries interleave, as real I/O would
        self.delivered.append(message.text or "")
        return f"prov-{message.text}"


def msg(text: str, recipient: str = "client-1") -> OutboundMessage:
    return OutboundMessage(channel="scripted", recipient_id=recipient, text=text)


def outbox_for(store: EventStore, channel: ScriptedChannel, settings: OutboxSettings = FAST) -> Outbox:
    outbox = Outbox(store.engine, settings, rng=random.Random(7))
    channel.attach(outbox)
    return outbox


async def test_a_message_is_stored_then_delivered_once_and_its_key_dedupes(
    migrated_store: EventStore,
) -> None:
    channel = ScriptedChannel()
    outbox = outbox_for(migrated_store, channel)
    first = await outbox.enqueue(msg("hello"), key="turn-1:0")
    again = await outbox.enqueue(msg("hello"), key="turn-1:0")  # a retried turn
    assert first == again
    row = await outbox.get(first)
    assert row is not None and row.status == "queued"  # durable before any delivery
    await outbox.drain(within=5)
    assert channel.delivered == ["hello"]
    row = await outbox.get(first)
    assert row is not None
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 1, "prov-hello")
    assert row.sent_at is not None and row.last_error is None


async def test_fails_twice_then_succeeds_is_delivered_exactly_once(migrated_store: EventStore) -> None:
    channel = ScriptedChannel([ChannelError("HTTP 500"), RateLimited("429", retry_after=0.3)])
    outbox = outbox_for(migrated_store, channel)
    row_id = await outbox.enqueue(msg("your booking is confirmed"))
    await outbox.drain(within=10)
    assert channel.delivered == ["your booking is confirmed"]
    row = await outbox.get(row_id)
    assert row is not None and (row.status, row.attempts) == ("sent", 3)
    first, second, third = channel.attempt_times
    assert second - first >= FAST.base_delay / 2  # backoff after the 500
    assert third - second >= 0.3  # Retry-After honoured


async def test_non_retryable_errors_and_closed_windows_fail_at_once_and_stay_visible(
    migrated_store: EventStore,
) -> None:
    channel = ScriptedChannel(
        [ChannelError("recipient rejected", retryable=False), OutsideWindow("24-hour window closed")]
    )
    outbox = outbox_for(migrated_store, channel)
    a = await outbox.enqueue(msg("one", "alice"))
    b = await outbox.enqueue(msg("two", "bob"))
    await outbox.drain(within=5)
    assert channel.delivered == []
    failed = await outbox.rows(status="failed")
    assert {r.id for r in failed} == {a, b}
    reasons = {r.message.text: r.last_error or "" for r in failed}
    assert "recipient rejected" in reasons["one"] and "OutsideWindow" in reasons["two"]
    assert all(r.attempts == 1 for r in failed)
    assert channel.health().status == "degraded"


async def test_gives_up_after_max_attempts(migrated_store: EventStore) -> None:
    channel = ScriptedChannel([ChannelError(f"HTTP 503 #{i}") for i in range(10)])
    outbox = outbox_for(migrated_store, channel, FAST.model_copy(update={"max_attempts": 3}))
    row_id = await outbox.enqueue(msg("lost cause"))
    await outbox.drain(within=5)
    row = await outbox.get(row_id)
    assert row is not None and (row.status, row.attempts) == ("failed", 3)
    assert row.last_error is not None and "HTTP 503 #2" in row.last_error
    assert len(channel.attempt_times) == 3


async def test_a_conversation_s_messages_arrive_in_order_even_when_one_is_retried(
    migrated_store: EventStore,
) -> None:
    channel = ScriptedChannel([ChannelError("HTTP 502")])
    outbox = outbox_for(migrated_store, channel)
    for text in ("first", "second", "third"):
        await outbox.enqueue(msg(text, "alice"))
    await outbox.enqueue(msg("other client", "bob"))
    await outbox.drain(within=5)
    alice = [t for t in channel.delivered if t != "other client"]
    assert alice == ["first", "second", "third"]
    assert "other client" in channel.delivered  # not held back by alice's retry


async def test_two_workers_never_send_the_same_row(migrated_store: EventStore) -> None:
    delivered: list[str] = []
    workers = [ScriptedChannel(delivered=delivered), ScriptedChannel(delivered=delivered)]
    outboxes = [outbox_for(migrated_store, w) for w in workers]
    texts = [f"m{i}" for i in range(40)]
    for i, text in enumerate(texts):
        await outboxes[0].enqueue(msg(text, f"client-{i % 8}"))
    await asyncio.gather(*(o.drain(within=30) for o in outboxes))
    assert sorted(delivered) == sorted(texts)  # every row once, none twice
    rows = await outboxes[1].rows(limit=100)
    assert [r.status for r in rows] == ["sent"] * len(texts) and all(r.attempts == 1 for r in rows)


async def test_the_background_worker_delivers_what_is_enqueued(migrated_store: EventStore) -> None:
    channel = ScriptedChannel()
    outbox = outbox_for(migrated_store, channel)
    await outbox.start()
    try:
        await outbox.enqueue(msg("pushed"))
        for _ in range(200):
            if channel.delivered:
                break
            await asyncio.sleep(0.01)
    finally:
        await outbox.stop()
    assert channel.delivered == ["pushed"]
    assert channel.health().status == "ok"


class SlowChannel(ScriptedChannel):
    """Each send takes ``seconds``; ``started`` is set when the first one begins."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = asyncio.Event()

    async def deliver(self, message: OutboundMessage) -> str | None:
        self.started.set()
        await asyncio.sleep(self.seconds)
        return await super().deliver(message)


async def test_stop_lets_the_round_in_flight_finish_and_returns_every_connection(
    migrated_store: EventStore,
) -> None:
    channel = SlowChannel(0.2)
    outbox = outbox_for(migrated_store, channel)
    for i in range(3):
        await outbox.enqueue(msg(f"slow{i}", f"client-{i}"))
    await outbox.start()
    await asyncio.wait_for(channel.started.wait(), timeout=10)
    await outbox.stop()  # mid-send: the round finishes instead of being cut off
    assert sorted(channel.delivered) == ["slow0", "slow1", "slow2"]
    assert {r.status for r in await outbox.rows()} == {"sent"}
    assert migrated_store.engine.pool.checkedout() == 0


async def test_a_round_longer_than_the_grace_is_cancelled_and_its_row_retried_later(
    migrated_store: EventStore,
) -> None:
    channel = SlowChannel(30)
    outbox = outbox_for(migrated_store, channel)
    await outbox.enqueue(msg("stuck"))
    await outbox.start()
    await asyncio.wait_for(channel.started.wait(), timeout=10)
    started = time.monotonic()
    await outbox.stop(grace=0.2)
    assert time.monotonic() - started < 5
    assert channel.delivered == []
    assert [r.status for r in await outbox.rows()] == ["sending"]  # leased; retried after the lease


async def test_the_channel_rate_limit_spaces_sends(migrated_store: EventStore) -> None:
    channel = ScriptedChannel(rate=RateLimit(per_second=10, burst=2))
    outbox = outbox_for(migrated_store, channel)
    for i in range(6):
        await outbox.enqueue(msg(f"r{i}", f"client-{i}"))
    started = time.monotonic()
    await outbox.drain(within=10)
    elapsed = time.monotonic() - started
    assert len(channel.delivered) == 6
    assert elapsed >= 0.35  # 2 at once, then 4 more at 10/s


async def test_receipts_move_a_row_forward_only(migrated_store: EventStore) -> None:
    channel = ScriptedChannel()
    outbox = outbox_for(migrated_store, channel)
    row_id = await outbox.enqueue(msg("receipt me"))
    await outbox.drain(within=5)
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert await outbox.record_receipt("scripted", "prov-receipt me", "read", at)
    assert not await outbox.record_receipt("scripted", "prov-receipt me", "delivered", at)  # late: ignored
    assert not await outbox.record_receipt("scripted", "prov-receipt me", "failed", at)
    row = await outbox.get(row_id)
    assert row is not None and row.status == "read" and row.read_at == at
    assert not await outbox.record_receipt("scripted", "unknown-id", "delivered")


async def test_a_receipt_that_beats_the_send_call_is_applied_afterwards(migrated_store: EventStore) -> None:
    channel = ScriptedChannel()
    outbox = outbox_for(migrated_store, channel)
    row_id = await outbox.enqueue(msg("fast"))
    assert not await outbox.record_receipt("scripted", "prov-fast", "delivered")  # nothing to move yet
    await outbox.drain(within=5)
    row = await outbox.get(row_id)
    assert row is not None and row.status == "delivered"
    assert await outbox.is_ours("scripted", "prov-fast")
    assert not await outbox.is_ours("scripted", "someone-else")


async def test_backlog_counts_waiting_and_failed_rows(migrated_store: EventStore) -> None:
    channel = ScriptedChannel([ChannelError("bad", retryable=False)])
    outbox = outbox_for(migrated_store, channel)
    await outbox.enqueue(msg("will fail", "a"))
    await outbox.drain(within=5)
    await outbox.enqueue(msg("waiting", "b"))
    backlog = await outbox.refresh_backlog()
    assert backlog == {"scripted": {"failed": 1, "queued": 1}}
    detail = channel.health().detail
    assert "1 waiting" in detail and "1 failed" in detail


def test_backoff_grows_exponentially_with_jitter_capped_and_respects_retry_after() -> None:
    outbox = Outbox.__new__(Outbox)
    outbox.settings = OutboxSettings(base_delay=2, max_delay=60)
    outbox.rng = random.Random(1)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (9, 60)]:
        delays = [outbox.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert outbox.backoff(1, retry_after=30) == 30


def test_token_bucket_grants_a_burst_then_paces_and_pauses() -> None:
    now = [0.0]
    bucket = TokenBucket(RateLimit(per_second=2, burst=2), clock=lambda: now[0])
    assert bucket.take() == 0 and bucket.take() == 0
    assert bucket.take() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.take() == 0
    bucket.pause(10)
    now[0] = 5
    assert bucket.take() == pytest.approx(5.5)


def drift(connection: Connection) -> list[object]:
    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name == "outbox"

    def outbox_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        # the channels' MetaData also holds later tables (channel_addresses, server_keys:
        # revision 0011); this test is about revision 0004's outbox table
        return type_ != "table" or name == "outbox"

    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": ours, "include_object": outbox_only}
    )
    return list(compare_metadata(context, METADATA))


async def test_revision_0004_builds_the_outbox_table_as_defined_and_goes_down(
    migrated_store: EventStore,
) -> None:
    async with migrated_store.engine.connect() as conn:
        assert await conn.run_sync(drift) == []
        uniques = await conn.run_sync(lambda c: inspect(c).get_unique_constraints("outbox"))
        assert [u["column_names"] for u in uniques] == [["idempotency_key"]]
    async with migrated_store.engine.begin() as conn:
        await conn.run_sync(downgrade, "0003")
    async with migrated_store.engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert "outbox" not in names and {"events", "clients"} <= names
    async with migrated_store.engine.begin() as conn:
        await conn.run_sync(upgrade, "head")


async def test_a_lease_that_ran_out_lets_another_worker_retry_the_row(migrated_store: EventStore) -> None:
    clock = [datetime(2026, 3, 1, tzinfo=UTC)]
    channel = ScriptedChannel()
    outbox = Outbox(migrated_store.engine, FAST, clock=lambda: clock[0])
    channel.attach(outbox)
    row_id = await outbox.enqueue(msg("stuck"))
    assert await outbox._claim(row_id, clock[0]) is not None  # a worker claims it, then dies
    assert await outbox.run_once() == (0, pytest.approx(FAST.poll_interval))
    clock[0] += timedelta(seconds=FAST.lease_seconds + 1)
    attempted, _ = await outbox.run_once()
    assert attempted == 1 and channel.delivered == ["stuck"]


class InFlightCounter(ScriptedChannel):
    """Counts deliveries in flight: each takes a little while, as a provider call does."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0

    async def deliver(self, message: OutboundMessage) -> str | None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return await super().deliver(message)
        finally:
            self.in_flight -= 1


async def test_a_backlog_is_sent_at_most_parallel_sends_at_once(migrated_store: EventStore) -> None:
    """A backlog of many conversations' rows (after a restart) does not take one database
    connection per row at once: attempts run at most ``parallel_sends`` together."""
    channel = InFlightCounter()
    outbox = outbox_for(migrated_store, channel, FAST.model_copy(update={"parallel_sends": 3}))
    for n in range(12):
        await outbox.enqueue(msg(f"m{n}", recipient=f"client-{n}"))
    await outbox.drain(within=20)
    assert sorted(channel.delivered) == sorted(f"m{n}" for n in range(12))
    assert channel.peak == 3
