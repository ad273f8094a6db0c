"""One message at a time per conversation, in arrival order.

The engine holds ``lock(conversation_id)`` for a whole turn, so two messages of one
conversation never run concurrently and are answered in the order they arrived
(FIFO). :class:`InMemoryLockStore` serves one process; :class:`RedisLockStore` serves
several processes or hosts with a ticket lock like Rasa's, whose tickets expire so a
crashed process cannot block a conversation for longer than the lock lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import ConciergeError
from bot.models import ComponentHealth
from bot.redact import conversation_ref
from bot.redis_pool import redis_from_url

log = logging.getLogger(__name__)

DEFAULT_LOCK_LIFETIME = 60.0  # seconds; Rasa's default too
DEFAULT_KEY_PREFIX = "concierge:lock:"


class LockTimeout(ConciergeError):
    """The conversation's lock was not obtained within the caller's ``wait_timeout``."""


@runtime_checkable
class LockStore(Protocol):
    """Per-conversation mutual exclusion with first-come, first-served fairness."""

    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the conversation for the ``async with`` block; waiters enter in arrival order."""
        ...

    async def queue_length(self, conversation_id: str) -> int:
        """How many holders and waiters the conversation has now (0 when idle)."""
        ...

    async def health(self) -> ComponentHealth:
        """``ok``, or ``down`` when the shared lock service cannot be reached."""
        ...

    async def close(self) -> None:
        """Release resources (connections) the store owns."""
        ...


# ---- one process ---------------------------------------------------------------------
@dataclass
class _Queue:
    held: bool = False
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class InMemoryLockStore:
    """FIFO lock per conversation for a single process (one event loop).

    A released lock is handed straight to the oldest waiter, so a newcomer can never
    overtake the queue; a conversation's entry disappears as soon as nobody holds or
    waits for it, so idle conversations cost no memory.
    """

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        """See :meth:`LockStore.lock`."""
        queue = self._queues.setdefault(conversation_id, _Queue())
        if queue.held:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue.waiters.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    # The lock was handed to us just as we were cancelled: pass it on.
                    self._release(conversation_id, queue)
                else:
                    queue.waiters.remove(turn)
                raise
        else:
            queue.held = True
        try:
            yield
        finally:
            self._release(conversation_id, queue)

    async def queue_length(self, conversation_id: str) -> int:
        """See :meth:`LockStore.queue_length`."""
        queue = self._queues.get(conversation_id)
        return 0 if queue is None else int(queue.held) + len(queue.waiters)

    @property
    def active_conversations(self) -> int:
        """How many conversations are held or waited for (idle ones are forgotten)."""
        return len(self._queues)

    async def health(self) -> ComponentHealth:
        """Always ``ok``: nothing to reach."""
        return ComponentHealth(status="ok", detail="in process")

    async def close(self) -> None:
        """Nothing to release."""

    def _release(self, conversation_id: str, queue: _Queue) -> None:
        while queue.waiters:
            turn = queue.waiters.popleft()
            if not turn.done():  # a cancelled waiter's future is done; skip it
                turn.set_result(None)  # ownership moves to the waiter; `held` stays True
                return
        queue.held = False
        del self._queues[conversation_id]


# ---- several processes: Redis ticket lock ---------------------------------------------
# Keys for conversation C: hash  P{C}           epoch, next (last ticket issued), serving
#                          string P{C}:<epoch>:<n> exists while ticket n's owner is alive
# The epoch changes whenever the hash is created afresh (after idling or expiry), so a
# stale ticket from an earlier epoch can never be mistaken for a current one.

_ISSUE = """
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then
  redis.call('HSET', k, 'epoch', ARGV[1], 'next', 0, 'serving', 1)
end
local epoch = redis.call('HGET', k, 'epoch')
local n = redis.call('HINCRBY', k, 'next', 1)
redis.call('SET', k .. ':' .. epoch .. ':' .. n, '1', 'PX', ARGV[2])
redis.call('PEXPIRE', k, ARGV[3])
return {epoch, n}
"""

# Returns 1: the lock is ours; 0: keep waiting; -1: our ticket was skipped as dead.
_POLL = """
local k = KEYS[1]
local epoch = ARGV[1]
local n = tonumber(ARGV[2])
if redis.call('HGET', k, 'epoch') ~= epoch then return -1 end
local prefix = k .. ':' .. epoch .. ':'
local serving = tonumber(redis.call('HGET', k, 'serving'))
while serving < n and redis.call('EXISTS', prefix .. serving) == 0 do
  serving = serving + 1
end
redis.call('HSET', k, 'serving', serving)
redis.call('PEXPIRE', k, ARGV[4])
if serving > n then return -1 end
redis.call('SET', prefix .. n, '1', 'PX', ARGV[3])
if serving == n then return 1 end
return 0
"""

# Returns 1 if we still held the lock, 0 if it had been taken from us (held too long).
_RELEASE = """
local k = KEYS[1]
local epoch = ARGV[1]
local n = tonumber(ARGV[2])
if redis.call('HGET', k, 'epoch') ~= epoch then return 0 end
local prefix = k .. ':' .. epoch .. ':'
redis.call('DEL', prefix .. n)
local serving = tonumber(redis.call('HGET', k, 'serving'))
local held = 0
if serving == n then held = 1 end
-- Serve the next live ticket, past our own and any abandoned or expired ones.
local last = tonumber(redis.call('HGET', k, 'next'))
while serving <= last and redis.call('EXISTS', prefix .. serving) == 0 do
  serving = serving + 1
end
if serving > last then
  redis.call('DEL', k)
else
  redis.call('HSET', k, 'serving', serving)
  redis.call('PEXPIRE', k, ARGV[3])
end
return held
"""

# Live tickets: the holder's and those of waiters still alive (or not yet expired).
_QUEUE_LENGTH = """
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return 0 end
local prefix = k .. ':' .. redis.call('HGET', k, 'epoch') .. ':'
local count = 0
for n = tonumber(redis.call('HGET', k, 'serving')), tonumber(redis.call('HGET', k, 'next')) do
  count = count + redis.call('EXISTS', prefix .. n)
end
return count
"""


class RedisLockStore:
    """FIFO ticket lock per conversation, shared by every process using one Redis.

    Taking the lock issues the next ticket (an atomic counter); the holder is the
    ticket "now serving", and releasing serves the next ticket. Each ticket has a
    lifetime: a waiter renews its ticket each time it polls, a holder gets
    ``lifetime`` seconds from the moment it is served. A ticket whose owner died
    (crash, kill, lost network) expires and is skipped, so a dead holder or waiter
    delays the conversation by at most ``lifetime``. A live holder that overruns
    ``lifetime`` loses the lock (a warning is logged), as in Rasa.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        lifetime: float = DEFAULT_LOCK_LIFETIME,
        poll_interval: float = 0.02,
        wait_timeout: float | None = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        owns_client: bool = False,
    ) -> None:
        if lifetime <= 0 or poll_interval <= 0:
            raise ValueError("lifetime and poll_interval must be positive")
        self.redis = redis
        self.lifetime = lifetime
        self.poll_interval = min(poll_interval, lifetime / 4)  # waiters renew well in time
        self.wait_timeout = wait_timeout
        self.key_prefix = key_prefix
        self._owns_client = owns_client
        # Waiters in this process nap on these; a release here wakes them at once, while
        # releases in other processes are noticed by polling.
        self._released: dict[str, asyncio.Event] = {}
        self._issuing: dict[str, list] = {}  # key -> [FIFO lock, tasks using it]
        self._issue = redis.register_script(_ISSUE)
        self._poll = redis.register_script(_POLL)
        self._release = redis.register_script(_RELEASE)
        self._queue_length = redis.register_script(_QUEUE_LENGTH)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisLockStore:
        """A store with its own client for ``redis://host:port/db``; ``close()`` closes it."""
        return cls(redis_from_url(url), owns_client=True, **kwargs)

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        """See :meth:`LockStore.lock`; raises :class:`LockTimeout` after ``wait_timeout``."""
        key = self.key_prefix + conversation_id
        epoch, ticket = await self._acquire(key, conversation_id)
        try:
            yield
        finally:
            if not await self._give_back(key, epoch, ticket):
                log.warning(
                    "lock for %s was held longer than its %gs lifetime and passed on",
                    conversation_id,
                    self.lifetime,
                )

    async def queue_length(self, conversation_id: str) -> int:
        """See :meth:`LockStore.queue_length` (a dead process's tickets count until they expire)."""
        return int(await self._queue_length(keys=[self.key_prefix + conversation_id]))

    async def health(self) -> ComponentHealth:
        """``ok`` when Redis answers a ping; ``down`` otherwise (no message can be processed
        until it is back: processing waits for it, see :meth:`lock`)."""
        try:
            await self.redis.ping()
        except Exception as exc:  # any failure to reach Redis is the answer itself
            return ComponentHealth(status="down", detail=f"redis: {type(exc).__name__}")
        return ComponentHealth(status="ok", detail="redis ticket lock")

    async def close(self) -> None:
        """Close the Redis client if this store created it."""
        if self._owns_client:
            await self.redis.aclose()

    @property
    def _lifetime_ms(self) -> int:
        return max(1, int(self.lifetime * 1000))

    @property
    def _idle_ms(self) -> int:
        # The queue hash outlives any ticket, so it never vanishes under a live holder.
        return 2 * self._lifetime_ms + 1000

    async def _take_ticket(self, key: str) -> tuple[bytes, int]:
        # Tickets of one process are issued one at a time in call order (asyncio.Lock is
        # FIFO): concurrent scripts on pooled connections could otherwise reach Redis in
        # any order, and two messages of one conversation would swap places.
        entry = self._issuing.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                epoch, ticket = await self._issue(
                    keys=[key], args=[uuid.uuid4().hex, self._lifetime_ms, self._idle_ms]
                )
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._issuing[key]
        return epoch, int(ticket)

    async def _acquire(self, key: str, conversation_id: str) -> tuple[bytes, int]:
        loop = asyncio.get_running_loop()
        deadline = None if self.wait_timeout is None else loop.time() + self.wait_timeout
        epoch, ticket = await self._take_ticket(key)
        delay = min(0.002, self.poll_interval)
        try:
            while True:
                state = await self._poll(keys=[key], args=[epoch, ticket, self._lifetime_ms, self._idle_ms])
                if state == 1:
                    return epoch, ticket
                if state == -1:
                    # Only happens if this process stalled for a whole lifetime.
                    log.warning(
                        "lock ticket for %s expired while waiting; queueing again",
                        conversation_ref(conversation_id),
                    )
                    epoch, ticket = await self._take_ticket(key)
                    continue
                if deadline is not None and loop.time() >= deadline:
                    raise LockTimeout(
                        f"conversation {conversation_id!r} stayed locked for {self.wait_timeout}s"
                    )
                await self._nap(key, delay)
                delay = min(delay * 2, self.poll_interval)
        except BaseException:
            # Timed out or cancelled while waiting: give the ticket back so the queue moves on.
            await self._give_back(key, epoch, ticket)
            raise

    async def _nap(self, key: str, seconds: float) -> None:
        released = self._released.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):  # the normal end of a nap: time to poll
            async with asyncio.timeout(seconds):
                await released.wait()

    async def _give_back(self, key: str, epoch: bytes, ticket: int) -> bool:
        """Release a ticket; False if it was no longer being served (lifetime overrun).

        Best effort: if Redis cannot be reached the ticket simply expires, so the
        error is logged rather than raised over the caller's own result.
        """
        try:
            held = bool(await self._release(keys=[key], args=[epoch, ticket, self._idle_ms]))
            released = self._released.pop(key, None)
            if released is not None:
                released.set()
            return held
        except RedisError:
            log.warning("could not release lock %s; it expires within %gs", key, self.lifetime, exc_info=True)
            return True


def lock_store_from_url(redis_url: str | None, **kwargs: Any) -> LockStore:
    """Redis ticket locks when a Redis URL is configured, in-process locks otherwise."""
    if redis_url:
        return RedisLockStore.from_url(redis_url, **kwargs)
    return InMemoryLockStore()
