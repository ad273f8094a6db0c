"""The outbox: every message to a client is a durable row first, then delivered with retries.

``PushChannel.send(message)`` enqueues; a worker task (started and stopped by the app's
lifespan) delivers each row through its adapter's ``deliver(message)``:

- **With the turn.** A turn's replies are written by :class:`~bot.channels.outbox_projection.
  OutboxProjector` inside the transaction that stores the turn's events and marks its
  inbound message processed: a crash leaves either all three or none (and then the message
  is still ``received`` and is processed again at the next start).
- **Once.** ``idempotency_key`` is unique, so a retried turn (a provider redelivery, a
  restart) cannot enqueue the same reply twice; a row is claimed with a conditional UPDATE
  (``queued -> sending``, committed before the provider is called), so two workers, in one
  process or many, never send the same row. A claim is a lease: a worker that dies
  mid-send leaves a ``sending`` row that another worker claims again once ``lease_until``
  has passed. That retry may repeat a send the provider had already accepted (the
  duplicate window, ``docs/channels.md``): it is logged, noted in ``last_error``, and the
  adapter gets the row's key as ``OutboundMessage.idempotency_key`` for providers that
  dedupe on one. A delivery call is cut off before its lease ends (``lease_seconds`` minus
  a margin), so a slow call never overlaps another worker's retry.
- **In order.** Per conversation, only the oldest unfinished row is due; a reply waiting
  for its retry holds back the replies after it, so a client never reads them shuffled.
- **Retries.** A retryable :class:`~bot.errors.ChannelError` is retried with exponential
  backoff and jitter (``base_delay * 2**(attempt-1)``, capped at ``max_delay``, then a random
  point in its upper half), never sooner than the provider's ``Retry-After``
  (:class:`~bot.errors.RateLimited`, which also pauses the whole channel). After
  ``max_attempts`` the row is ``failed`` with ``last_error``; so are non-retryable errors and
  :class:`~bot.errors.OutsideWindow` at once. Failed rows stay visible (:meth:`Outbox.rows`).
- **Rate limits.** One token bucket per channel (``RateLimit``: messages per second, burst),
  per worker process.
- **Receipts.** :meth:`Outbox.record_receipt` moves a row forward only
  (``sent -> delivered -> read``; ``failed`` only before delivery). A receipt that arrives
  before the send call returned (possible with fast providers) is kept briefly in memory and
  applied as soon as the row learns its provider id.

Works on SQLite and PostgreSQL through the event store's SQLAlchemy engine.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.addresses import AddressBook
from bot.channels.tables import outbox
from bot.errors import ChannelError, OutsideWindow, RateLimited
from bot.models import OutboundMessage
from bot.periodic import cancel_and_wait

log = logging.getLogger(__name__)

OutboxStatus = Literal["queued", "sending", "sent", "delivered", "read", "failed"]
ReceiptStatus = Literal["sent", "delivered", "read", "failed"]
UNFINISHED = ("queued", "sending")
# a receipt may move a row only from these statuses (forward only)
RECEIPT_FROM: dict[str, tuple[str, ...]] = {
    "sent": ("sending",),
    "delivered": ("sending", "sent"),
    "read": ("sending", "sent", "delivered"),
    "failed": ("sending", "sent"),
}
RECEIPT_TIME_COLUMN = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}
EARLY_RECEIPT_SECONDS = 300.0


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the outbox's default clock)."""
    return datetime.now(UTC)


class OutboxSettings(BaseModel):
    """How hard and how fast the worker tries (``credentials.yml``'s ``outbox:`` section)."""

    max_attempts: int = Field(default=8, ge=1)
    base_delay: float = Field(default=2.0, gt=0, description="seconds before the first retry")
    max_delay: float = Field(default=600.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0, description="seconds between scans when idle")
    lease_seconds: float = Field(
        default=30.0,
        ge=5,
        description="a claimed row's lease: how soon a send cut short by a crash is retried; "
        "a delivery call is cancelled LEASE_MARGIN seconds before it ends",
    )
    batch_size: int = Field(default=50, ge=1)
    parallel_sends: int = Field(
        default=8,
        ge=1,
        description="delivery attempts at once; each holds a database connection when it "
        "records its result, and the pool is shared with the turns",
    )


class RateLimit(BaseModel):
    """A channel's send rate: ``per_second`` on average, bursts of up to ``burst``."""

    per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=20, ge=1)


class OutboxRow(BaseModel):
    """One outgoing message and what became of it (what the console shows an agent)."""

    id: int
    channel: str
    recipient_id: str
    conversation_id: str
    idempotency_key: str
    message: OutboundMessage
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None


class Deliverer(Protocol):
    """What the outbox needs from an adapter (``PushChannel`` in :mod:`bot.channels.base`)."""

    name: ClassVar[str]
    rate_limit: RateLimit

    async def deliver(self, message: OutboundMessage) -> str | None:
        """One delivery attempt; the provider's message id."""
        ...

    def delivery_succeeded(self, at: datetime) -> None:
        """Note a successful send (health)."""
        ...

    def delivery_failed(self, error: str, at: datetime) -> None:
        """Note a failed attempt (health)."""
        ...


class TokenBucket:
    """Classic token bucket on the monotonic clock; ``pause`` empties it for a while."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = limit.per_second
        self.capacity = float(limit.burst)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.paused_until = 0.0

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return now

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one will be available."""
        now = self._refill()
        if now < self.paused_until:
            return self.paused_until - now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def pause(self, seconds: float) -> None:
        """The provider asked us to slow down: grant nothing for ``seconds``."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self.tokens = 0.0


#: how long :meth:`Outbox.stop` lets a delivery round finish before cancelling it
STOP_GRACE_SECONDS = 5.0
#: a delivery call is cancelled this many seconds before its lease ends, so no other worker
#: can claim the row while the call may still reach the provider
LEASE_MARGIN = 2.0
#: ``last_error`` of a row claimed again after its lease ran out (its worker died mid-send)
MAYBE_SENT = "the previous attempt's worker stopped mid-send; the provider may have the message already"


def delivery_key(row: OutboxRow) -> str:
    """The key a provider may dedupe this row's sends on: the same on every attempt, and unique
    to the row even across databases (a fresh database numbers ``seq`` from 1 again), so
    ``<idempotency_key>@<created_at in microseconds>``."""
    return f"{row.idempotency_key}@{int(row.created_at.timestamp() * 1_000_000)}"


def outbox_insert(dialect: str, rows: Sequence[tuple[str, OutboundMessage]], now: datetime) -> Any:
    """The INSERT of ``(idempotency_key, message)`` rows as ``queued``; keys already present
    are left alone (ON CONFLICT DO NOTHING), so writing the same rows again is harmless.

    Shared by :meth:`Outbox.enqueue` (its own transaction) and the outbox projector (the
    append's transaction); returns the inserted ids.
    """
    insert = postgresql_insert(outbox) if dialect == "postgresql" else sqlite_insert(outbox)
    values = [
        {
            "channel": message.channel,
            "recipient_id": message.recipient_id,
            "conversation_id": f"{message.channel}:{message.recipient_id}",
            "idempotency_key": key,
            "payload": message.model_dump(mode="json", exclude={"idempotency_key"}),
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for key, message in rows
    ]
    return (
        insert.values(values)
        .on_conflict_do_nothing(index_elements=[outbox.c.idempotency_key])
        .returning(outbox.c.id)
    )


class Outbox:
    """Durable outgoing messages and the worker that delivers them."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: OutboxSettings | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or OutboxSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self._channels: dict[str, Deliverer] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._early: dict[tuple[str, str], list[tuple[ReceiptStatus, datetime, str | None, float]]] = {}
        self.backlog: dict[str, dict[str, int]] = {}
        #: conversation ids are opaque: the address a row goes to is read here at delivery
        self.addresses = AddressBook(engine)

    # ---- wiring ----------------------------------------------------------------
    def register(self, channel: Deliverer) -> None:
        """Deliver this channel's rows through ``channel`` at its ``rate_limit``."""
        self._channels[channel.name] = channel
        self._buckets[channel.name] = TokenBucket(channel.rate_limit)

    @property
    def channels(self) -> list[str]:
        """The channels this outbox delivers for."""
        return sorted(self._channels)

    async def start(self) -> None:
        """Start the worker task (the app's lifespan calls this)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._work(), name="outbox-worker")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop the worker after its current round (at most ``grace`` seconds, then cancel it).

        Cancelling the worker in the middle of a database call can leave the driver's
        connection half closed while the engine is disposed (seen as a hang at exit), so
        the worker is asked to finish first. A row it was sending when cancelled stays
        leased and is retried later.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=grace)
        except TimeoutError:
            await cancel_and_wait(task)
        finally:
            self._stopping = False

    # ---- writing ---------------------------------------------------------------
    async def enqueue(self, message: OutboundMessage, *, key: str | None = None) -> int:
        """Store ``message`` for delivery; returns its row id.

        ``key`` makes enqueueing idempotent: the same key again returns the first row's
        id and stores nothing (default: a fresh random key, i.e. always a new row).
        """
        now = self.clock()
        key = key or f"{message.channel}:{uuid.uuid4().hex}"
        stmt = outbox_insert(self.engine.dialect.name, [(key, message)], now)
        async with self.engine.begin() as conn:
            row_id = (await conn.execute(stmt)).scalar_one_or_none()
            if row_id is None:
                row_id = (
                    await conn.execute(select(outbox.c.id).where(outbox.c.idempotency_key == key))
                ).scalar_one()
                log.info("outbox: %s already holds key %s (row %s)", message.channel, key, row_id)
        self._wake.set()
        return int(row_id)

    def wake(self) -> None:
        """Look for due rows now (rows were committed elsewhere, e.g. with a turn's events)."""
        self._wake.set()

    async def record_receipt(
        self,
        channel: str,
        provider_message_id: str,
        status: ReceiptStatus,
        at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        """Apply a provider's delivery receipt; True if a row moved forward.

        Never moves a row back (a late ``delivered`` after ``read`` changes nothing). A
        receipt for a row still waiting for its send call to return is applied then.
        """
        if status not in RECEIPT_FROM:
            raise ValueError(f"receipt status must be one of {sorted(RECEIPT_FROM)}, not {status!r}")
        at = at or self.clock()
        values: dict[str, Any] = {"status": status, "updated_at": self.clock()}
        if status in RECEIPT_TIME_COLUMN:
            values[RECEIPT_TIME_COLUMN[status]] = at
        if status == "failed":
            values["last_error"] = error or "the provider reported the message as not delivered"
        stmt = (
            update(outbox)
            .where(
                outbox.c.channel == channel,
                outbox.c.provider_message_id == provider_message_id,
                outbox.c.status.in_(RECEIPT_FROM[status]),
            )
            .values(**values)
        )
        async with self.engine.begin() as conn:
            moved = (await conn.execute(stmt)).rowcount > 0
            if not moved:
                known = (
                    await conn.execute(
                        select(outbox.c.id).where(
                            outbox.c.channel == channel, outbox.c.provider_message_id == provider_message_id
                        )
                    )
                ).first()
        if not moved and known is None:
            self._remember_early(channel, provider_message_id, status, at, error)
        return moved

    def _remember_early(
        self, channel: str, provider_id: str, status: ReceiptStatus, at: datetime, error: str | None
    ) -> None:
        deadline = time.monotonic() + EARLY_RECEIPT_SECONDS
        for key in [k for k, v in self._early.items() if all(d < time.monotonic() for *_, d in v)]:
            del self._early[key]
        self._early.setdefault((channel, provider_id), []).append((status, at, error, deadline))

    # ---- reading ---------------------------------------------------------------
    async def rows(
        self,
        *,
        conversation_id: str | None = None,
        status: OutboxStatus | Iterable[OutboxStatus] | None = None,
        limit: int = 200,
    ) -> list[OutboxRow]:
        """Rows, oldest first, filtered by conversation and/or status (failed ones for the console)."""
        stmt = select(outbox).order_by(outbox.c.id).limit(limit)
        if conversation_id is not None:
            stmt = stmt.where(outbox.c.conversation_id == conversation_id)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            stmt = stmt.where(outbox.c.status.in_(wanted))
        async with self.engine.connect() as conn:
            found = (await conn.execute(stmt)).mappings().all()
        return [_row(dict(r)) for r in found]

    async def get(self, row_id: int) -> OutboxRow | None:
        """One row by id."""
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(outbox).where(outbox.c.id == row_id))).mappings().first()
        return _row(dict(found)) if found is not None else None

    async def is_ours(self, channel: str, provider_message_id: str) -> bool:
        """True when we sent a message with this provider id (an echo must not be ingested)."""
        stmt = select(outbox.c.id).where(
            outbox.c.channel == channel, outbox.c.provider_message_id == provider_message_id
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt.limit(1))).first() is not None

    async def refresh_backlog(self) -> dict[str, dict[str, int]]:
        """Count rows per channel and status (for ``/health``); also kept in ``self.backlog``."""
        stmt = (
            select(outbox.c.channel, outbox.c.status, func.count())
            .where(outbox.c.status.in_([*UNFINISHED, "failed"]))
            .group_by(outbox.c.channel, outbox.c.status)
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(stmt)).all()
        backlog: dict[str, dict[str, int]] = {}
        for channel, status, count in found:
            backlog.setdefault(channel, {})[status] = int(count)
        self.backlog = backlog
        return backlog

    # ---- the worker ------------------------------------------------------------
    async def _work(self) -> None:
        while not self._stopping:
            try:
                attempted, wait = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away; keep the worker alive
                log.exception("outbox: a delivery round failed")
                attempted, wait = 0, self.settings.poll_interval
            if attempted or self._stopping:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(
                    self._wake.wait(), timeout=max(0.01, min(wait, self.settings.poll_interval))
                )
            except TimeoutError:
                pass

    async def run_once(self) -> tuple[int, float]:
        """One round: claim and deliver every due row the rate limits allow.

        Returns how many rows were attempted and how long until something may be due.
        """
        if not self._channels:
            return 0, self.settings.poll_interval
        now = self.clock()
        earlier = outbox.alias("earlier")
        blocked = exists().where(
            earlier.c.conversation_id == outbox.c.conversation_id,
            earlier.c.id < outbox.c.id,
            earlier.c.status.in_(UNFINISHED),
        )
        due = or_(
            and_(outbox.c.status == "queued", outbox.c.next_attempt_at <= now),
            and_(outbox.c.status == "sending", outbox.c.lease_until < now),
        )
        stmt = (
            select(outbox.c.id, outbox.c.channel)
            .where(outbox.c.channel.in_(list(self._channels)), due, ~blocked)
            .order_by(outbox.c.id)
            .limit(self.settings.batch_size)
        )
        async with self.engine.connect() as conn:
            candidates = (await conn.execute(stmt)).all()
        wait = await self._next_due_in(now)
        claimed: list[OutboxRow] = []
        for row_id, channel in candidates:
            pause = self._buckets[channel].take()
            if pause > 0:
                wait = min(wait, pause)
                continue
            row = await self._claim(row_id, now)
            if row is not None:
                claimed.append(row)
        if claimed:
            slots = asyncio.Semaphore(self.settings.parallel_sends)

            async def attempt(row: OutboxRow) -> None:
                async with slots:
                    await self._attempt(row)

            await asyncio.gather(*(attempt(row) for row in claimed))
        return len(claimed), wait

    async def _next_due_in(self, now: datetime) -> float:
        stmt = select(func.min(outbox.c.next_attempt_at)).where(
            outbox.c.status == "queued", outbox.c.channel.in_(list(self._channels))
        )
        async with self.engine.connect() as conn:
            soonest = (await conn.execute(stmt)).scalar_one_or_none()
        if soonest is None:
            return self.settings.poll_interval
        if soonest.tzinfo is None:
            soonest = soonest.replace(tzinfo=UTC)
        return max(0.0, (soonest - now).total_seconds())

    async def _claim(self, row_id: int, now: datetime) -> OutboxRow | None:
        """Take the row for one attempt (conditional UPDATE); None if another worker has it."""
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        stmt = (
            update(outbox)
            .where(
                outbox.c.id == row_id,
                or_(
                    and_(outbox.c.status == "queued", outbox.c.next_attempt_at <= now),
                    and_(outbox.c.status == "sending", outbox.c.lease_until < now),
                ),
            )
            .values(
                status="sending",
                lease_until=lease,
                attempts=outbox.c.attempts + 1,
                updated_at=now,
                # a row still "sending" here was leased by a worker that died mid-send
                last_error=case((outbox.c.status == "sending", MAYBE_SENT), else_=outbox.c.last_error),
            )
            .returning(*outbox.c)
        )
        async with self.engine.begin() as conn:
            found = (await conn.execute(stmt)).mappings().first()
        if found is None:
            return None
        if found["last_error"] == MAYBE_SENT:
            log.warning(
                "outbox: row %s on %s is sent again after its worker stopped mid-send (attempt %d); "
                "the client may see it twice",
                row_id,
                found["channel"],
                found["attempts"],
            )
        return _row(dict(found))

    async def _attempt(self, row: OutboxRow) -> None:
        channel = self._channels[row.channel]
        address = await self.addresses.recipient(row.channel, row.recipient_id)
        if address is None:  # the conversation's address was erased: nobody to write to
            exc = ChannelError("no address on file for this conversation (erased)", retryable=False)
            await self._failed_attempt(row, channel, exc, final=True)
            return
        # the address exists only in memory, for the provider call; the row keeps the token
        message = row.message.model_copy(
            update={"idempotency_key": delivery_key(row), "recipient_id": address}
        )
        timeout = max(1.0, self.settings.lease_seconds - LEASE_MARGIN)
        try:
            provider_id = await asyncio.wait_for(channel.deliver(message), timeout)
        except TimeoutError:
            # cut off before the lease ends: no other worker may hold the row yet
            exc = ChannelError(f"the provider did not answer within {timeout:g}s")
            await self._failed_attempt(row, channel, exc)
            return
        except RateLimited as exc:
            if exc.retry_after:
                self._buckets[row.channel].pause(exc.retry_after)
            await self._failed_attempt(row, channel, exc, retry_after=exc.retry_after)
        except OutsideWindow as exc:
            await self._failed_attempt(row, channel, exc, final=True)
        except ChannelError as exc:
            await self._failed_attempt(row, channel, exc, final=not exc.retryable)
        except Exception as exc:  # an adapter bug: keep the row, retry, and say what happened
            log.exception("outbox: %s delivery raised unexpectedly", row.channel)
            await self._failed_attempt(row, channel, exc)
        else:
            await self._succeeded(row, channel, provider_id)

    async def _succeeded(self, row: OutboxRow, channel: Deliverer, provider_id: str | None) -> None:
        now = self.clock()
        stmt = (
            update(outbox)
            .where(outbox.c.id == row.id, outbox.c.status == "sending")
            .values(
                status="sent",
                provider_message_id=provider_id,
                sent_at=now,
                lease_until=None,
                last_error=None,
                updated_at=now,
            )
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)
        channel.delivery_succeeded(now)
        log.info("outbox: row %s sent on %s (attempt %d)", row.id, row.channel, row.attempts)
        if provider_id is not None:
            for status, at, error, _deadline in self._early.pop((row.channel, provider_id), []):
                await self.record_receipt(row.channel, provider_id, status, at, error)

    async def _failed_attempt(
        self,
        row: OutboxRow,
        channel: Deliverer,
        exc: Exception,
        *,
        final: bool = False,
        retry_after: float | None = None,
    ) -> None:
        now = self.clock()
        attempts = row.attempts  # the claim already counted this attempt
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        channel.delivery_failed(reason, now)
        values: dict[str, Any] = {"last_error": reason, "lease_until": None, "updated_at": now}
        if final or attempts >= self.settings.max_attempts:
            values["status"] = "failed"
            log.warning(
                "outbox: row %s on %s failed after %d attempt(s): %s", row.id, row.channel, attempts, reason
            )
        else:
            delay = self.backoff(attempts, retry_after)
            values["status"] = "queued"
            values["next_attempt_at"] = now + timedelta(seconds=delay)
            log.info(
                "outbox: row %s on %s retry %d in %.2fs: %s", row.id, row.channel, attempts, delay, reason
            )
        stmt = update(outbox).where(outbox.c.id == row.id, outbox.c.status == "sending").values(**values)
        async with self.engine.begin() as conn:
            await conn.execute(stmt)
        self._wake.set()

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before attempt ``attempts + 1``: capped exponential with jitter, >= Retry-After."""
        ceiling = min(self.settings.max_delay, self.settings.base_delay * 2 ** max(0, attempts - 1))
        delay = ceiling / 2 + self.rng.random() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    async def drain(self, within: float = 30.0) -> None:
        """Deliver until no row of a registered channel is queued or sending (tests, shutdown).

        Waits out backoff delays; raises :class:`TimeoutError` if rows remain after ``within`` seconds.
        """
        deadline = time.monotonic() + within
        while True:
            attempted, wait = await self.run_once()
            if attempted:
                continue
            stmt = select(func.count()).where(
                outbox.c.status.in_(UNFINISHED), outbox.c.channel.in_(list(self._channels))
            )
            async with self.engine.connect() as conn:
                remaining = (await conn.execute(stmt)).scalar_one()
            if not remaining:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"outbox: {remaining} row(s) still unsent after {within}s")
            await asyncio.sleep(max(0.005, min(wait, 0.05, deadline - time.monotonic())))


def _row(data: Mapping[str, Any]) -> OutboxRow:
    values = dict(data)
    values["message"] = OutboundMessage.model_validate(values.pop("payload"))
    return OutboxRow.model_validate(values)
