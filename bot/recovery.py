"""Messages stored but never answered get answered, in the background, on every process.

A message is stored (``received``) before it is acknowledged, and marked ``processed`` or
``failed`` in the transaction of its turn. One still ``received`` a while after it arrived
was cut off: the process died, or Redis or the database went away mid-turn (the webhook
had already answered 200). :class:`RecoveryLoop` sweeps for such messages at start-up and
then every ``interval`` seconds, so processing resumes by itself when Redis or the
database come back, and start-up never waits for it.

Every process sweeps, so a message may be picked by two of them, or by a sweep while its
own turn is still waiting for the conversation's lock: :func:`already_answered`, checked
by the engine under that lock, makes the second run a no-op. Every recovery attempt is
counted in ``inbound_messages.attempts`` in a committed transaction of its own before it
starts, so the count is shared by all processes and survives ``kill -9``. A message whose
processing fails ``max_attempts`` times while Redis and the database answer (a poison
message: its turn keeps raising outside the engine's own safe reply; an outage, or a stop
cutting an attempt short, counts against no message), or whose ``max_attempts`` attempts
never finished (each one took its process down), is parked: marked ``failed`` with a
reason starting ``parked:``, kept for a person to look at, and never retried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.models import InboundMessage
from bot.periodic import Periodic
from bot.redact import conversation_ref
from bot.store.tables import inbound_messages

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.store import EventStore

log = logging.getLogger(__name__)

PARKED = "parked"


async def already_answered(store: EventStore, message: InboundMessage) -> bool:
    """True when the message's turn already committed (``processed`` or ``failed``).

    A message with no journal row (a caller that never stored it) is not answered yet.
    """
    query = select(inbound_messages.c.status).where(
        inbound_messages.c.conversation_id == message.conversation_id,
        inbound_messages.c.message_id == message.message_id,
    )
    async with store.engine.connect() as conn:
        status = (await conn.execute(query)).scalar_one_or_none()
    return status is not None and status != "received"


async def earlier_unanswered(store: EventStore, message: InboundMessage) -> list[InboundMessage]:
    """The conversation's messages stored before ``message`` and still unanswered, oldest first.

    A crash (or an outage) leaves them ``received``; the engine answers them before
    ``message``, under the conversation's lock, so a client who kept writing while we were
    down gets the replies in the order of their messages, not the newest first.
    """
    journal = inbound_messages.c
    own = (
        select(journal.id)
        .where(journal.conversation_id == message.conversation_id, journal.message_id == message.message_id)
        .scalar_subquery()
    )
    query = (
        select(journal.payload)
        .where(
            journal.conversation_id == message.conversation_id, journal.status == "received", journal.id < own
        )
        .order_by(journal.id)
    )
    async with store.engine.connect() as conn:
        payloads = (await conn.execute(query)).scalars().all()
    return [InboundMessage.model_validate(payload) for payload in payloads]


class RecoveryLoop:
    """Sweeps for unanswered messages now and every ``interval`` seconds; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = 5.0,
        min_age: float = 10.0,
        max_attempts: int = 3,
        batch: int = 200,
        after: Callable[[InboundMessage], None] | None = None,
    ) -> None:
        if interval <= 0 or max_attempts < 1:
            raise ValueError("interval must be positive and max_attempts at least 1")
        self.engine = engine
        self.min_age = min_age
        self.max_attempts = max_attempts
        self.batch = batch
        self.after = after  # e.g. wake the outbox: the turn's replies are rows already
        self.recovered = 0
        self.parked = 0
        self._first = True
        self._loop = Periodic("recovery", self._round, interval, logger=log)

    @property
    def interval(self) -> float:
        """Seconds between sweeps (the next round uses a new value)."""
        return self._loop.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._loop.interval = seconds

    async def sweep(self, *, min_age: float | None = None) -> int:
        """Process every unanswered message older than ``min_age`` seconds; returns how many ran.

        Each attempt is counted in the database before it starts (its own transaction), so
        the count holds across processes and restarts: a message whose attempts keep
        killing their process is parked once ``max_attempts`` of them were started.
        """
        age = self.min_age if min_age is None else min_age
        cutoff = datetime.now(UTC) - timedelta(seconds=age)
        store = self.engine.store
        pending = await store.pending_inbound(limit=self.batch)
        done = 0
        for message in pending:
            if _aware(message.received_at) > cutoff:
                continue  # just arrived: its own turn is on the way
            attempt = await store.count_attempt(message.conversation_id, message.message_id)
            if attempt is None:
                continue  # answered or parked meanwhile, by another process
            if attempt > self.max_attempts:  # the earlier ones never finished: each took its process
                await self._park(message, f"{self.max_attempts} attempts started, none finished")
                continue
            try:
                await self.engine.process(message)
            except asyncio.CancelledError:  # stopping: the attempt was cut short, not the message's fault
                with contextlib.suppress(Exception):
                    await store.count_attempt(message.conversation_id, message.message_id, by=-1)
                raise
            except Exception as exc:
                if await self._outage():
                    with contextlib.suppress(Exception):  # the database may be the one away
                        await store.count_attempt(message.conversation_id, message.message_id, by=-1)
                    log.warning("recovery: Redis or the database is away; sweeping again later")
                    break  # not the message's fault: nothing is counted against it
                if attempt >= self.max_attempts:
                    await self._park(
                        message, f"{self.max_attempts} attempts failed, last {type(exc).__name__}: {exc}"
                    )
                else:
                    log.warning(
                        "recovery: a message of %s failed (%s), attempt %d of %d",
                        conversation_ref(message.conversation_id),
                        type(exc).__name__,
                        attempt,
                        self.max_attempts,
                    )
                continue
            done += 1
            if self.after is not None:
                self.after(message)
        self.recovered += done
        return done

    async def _outage(self) -> bool:
        """Whether the lock service or the database is unreachable right now."""
        try:
            await self.engine.store.ping()
        except Exception:
            return True
        return (await self.engine.locks.health()).status != "ok"

    async def _park(self, message: InboundMessage, why: str) -> None:
        reason = f"{PARKED}: {why}"[:500]
        try:
            await self.engine.store.mark_inbound(
                message.conversation_id, message.message_id, "failed", reason
            )
        except Exception:  # the store is away too: parked at the next sweep (the count stays)
            log.warning("recovery: could not park a message of %s", conversation_ref(message.conversation_id))
            return
        self.parked += 1
        log.error(
            "recovery: parked a message of %s after %d attempts",
            conversation_ref(message.conversation_id),
            self.max_attempts,
        )

    def start(self) -> None:
        """Sweep now (everything unanswered, whatever its age) and then every ``interval``."""
        if not self._loop.running:
            self._first = True  # a restarted loop sweeps everything again, as at start-up
        self._loop.start()

    async def stop(self) -> None:
        """Stop sweeping (a turn in flight is cancelled; its message stays ``received``)."""
        await self._loop.stop()

    async def _round(self) -> None:
        count = await self.sweep(min_age=0.0 if self._first else None)
        self._first = False
        if count:
            log.warning("recovery: answered %d message(s) left unanswered", count)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
