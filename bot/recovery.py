"""Messages stored but never answered get answered, in the background, on every process.

A message is stored (``received``) before it is acknowledged, and marked ``processed`` or
``failed`` in the transaction of its turn. One still ``received`` a while after it arrived
was cut off: the process died, or Redis or the database went away mid-turn (the webhook
had already answered 200). :class:`RecoveryLoop` sweeps for such messages at start-up and
then every ``interval`` seconds, so processing resumes by itself when Redis or the
database come back, and start-up never waits for it.

Every process sweeps, so a message may be picked by two of them, or by a sweep while its
own turn is still waiting for the conversation's lock: :func:`already_answered`, checked
by the engine under that lock, makes the second run a no-op. A message whose processing
fails ``max_attempts`` times in this process while Redis and the database answer (a poison
message: its turn keeps raising outside the engine's own safe reply; an outage counts
against no message) is parked: marked ``failed`` with a reason starting
``parked:``, kept for a person to look at, and never retried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.models import InboundMessage
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
        self.interval = interval
        self.min_age = min_age
        self.max_attempts = max_attempts
        self.batch = batch
        self.after = after  # e.g. wake the outbox: the turn's replies are rows already
        self.recovered = 0
        self.parked = 0
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def sweep(self, *, min_age: float | None = None) -> int:
        """Process every unanswered message older than ``min_age`` seconds; returns how many ran."""
        age = self.min_age if min_age is None else min_age
        cutoff = datetime.now(UTC) - timedelta(seconds=age)
        pending = await self.engine.store.pending_inbound(limit=self.batch)
        done = 0
        for message in pending:
            if _aware(message.received_at) > cutoff:
                continue  # just arrived: its own turn is on the way
            key = (message.conversation_id, message.message_id)
            try:
                await self.engine.process(message)
            except Exception as exc:
                if await self._outage():
                    log.warning("recovery: Redis or the database is away; sweeping again later")
                    break  # not the message's fault: nothing is counted against it
                self._attempts[key] += 1
                if self._attempts[key] >= self.max_attempts:
                    await self._park(message, exc)
                else:
                    log.warning(
                        "recovery: a message of %s failed (%s), attempt %d of %d",
                        message.conversation_id,
                        type(exc).__name__,
                        self._attempts[key],
                        self.max_attempts,
                    )
                continue
            self._attempts.pop(key, None)
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

    async def _park(self, message: InboundMessage, exc: Exception) -> None:
        reason = f"{PARKED}: {self.max_attempts} attempts failed, last {type(exc).__name__}: {exc}"[:500]
        try:
            await self.engine.store.mark_inbound(
                message.conversation_id, message.message_id, "failed", reason
            )
        except Exception:  # the store is away too: counted again at the next sweep
            log.warning("recovery: could not park a message of %s", conversation_ref(message.conversation_id))
            return
        self._attempts.pop((message.conversation_id, message.message_id), None)
        self.parked += 1
        log.error(
            "recovery: parked a message of %s after %d failed attempts",
            message.conversation_id,
            self.max_attempts,
        )

    def start(self) -> None:
        """Sweep now (everything unanswered, whatever its age) and then every ``interval``."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="recovery")

    async def stop(self) -> None:
        """Stop sweeping (a turn in flight is cancelled; its message stays ``received``)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        first = True
        while True:
            try:
                count = await self.sweep(min_age=0.0 if first else None)
                if count:
                    log.warning("recovery: answered %d message(s) left unanswered", count)
                first = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again at the next round
                log.warning("recovery: sweeping failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(self.interval)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
