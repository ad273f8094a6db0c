"""Live fan-out of transcript lines to whoever watches a conversation, on any process.

The event log is the truth; the feed only says "conversation C has new lines" (with the
lines, for whoever wants them). Watchers therefore treat a notice as a cue to catch up
from the log by ``seq`` (:class:`~bot.live_socket.SeqSocket`), so a notice that is lost,
duplicated or reordered costs nothing, and a reconnecting client loses nothing.

- :class:`InProcessFeed`: one process (the embedded default).
- :class:`RedisFeed`: Redis pub/sub, one channel per watched conversation, one pub/sub
  connection per process: an agent's reply appended on process B reaches a widget socket
  held by process A. After Redis comes back, every watcher gets an empty batch (a gap
  notice) once its channel is subscribed again, so it catches up what it missed.

``subscribe(conversation_id)`` returns a :class:`Subscription`: an async iterator of
batches (``list[TranscriptEntry]``; an empty batch is a gap notice) that must be closed
(``aclose()``, or ``async with``). ``await subscription.ready()`` returns once the feed
delivers to it; reading the log after that misses nothing. ``subscribe(conversation_id,
on_batch=callback)`` hands each batch to the callback instead: the feed's one delivery path
per process (the Redis reader task, or ``publish`` in process) fans out to every socket
that way, so an idle socket holds no queue and no task of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.models import ComponentHealth, TranscriptEntry
from bot.periodic import cancel_and_wait
from bot.redis_pool import redis_from_url

log = logging.getLogger(__name__)

DEFAULT_CHANNEL_PREFIX = "concierge:live:"
Batch = list[TranscriptEntry]
_BATCH = TypeAdapter(list[TranscriptEntry])


class Subscription:
    """One watcher of one conversation: batches of new lines, an empty batch after a gap.

    Either iterated (``async for batch in subscription``: batches wait in a queue) or, given
    ``on_batch``, handed each batch at once by the feed: no queue and no task of its own, which
    is what an idle widget socket needs (a few hundred bytes, not a queue and a task per socket).
    ``on_batch`` runs inside the feed's delivery, so it must return quickly and not raise
    (it may start a task); an error it raises is logged and the other watchers still get theirs.
    """

    __slots__ = ("_on_batch", "_on_close", "_queue", "_ready", "_waiter", "closed", "conversation_id")

    def __init__(
        self,
        conversation_id: str,
        on_close: Callable[[Subscription], object],
        on_batch: Callable[[Batch], object] | None = None,
    ) -> None:
        self.conversation_id = conversation_id
        self._on_batch = on_batch
        self._queue: asyncio.Queue[Batch | None] | None = asyncio.Queue() if on_batch is None else None
        self._ready = False
        self._waiter: asyncio.Future[None] | None = None  # made only while someone awaits ready()
        self._on_close = on_close
        self.closed = False

    @property
    def is_ready(self) -> bool:
        """Whether the feed delivers here already."""
        return self._ready

    def put(self, batch: Batch) -> None:
        """Hand the watcher a batch (called by the feed)."""
        if self.closed:
            return
        if self._queue is not None:
            self._queue.put_nowait(batch)
            return
        try:
            self._on_batch(batch)  # type: ignore[misc]  # set whenever there is no queue
        except Exception:  # one watcher's fault must not stop the feed for the others
            log.exception("live feed: a watcher failed to take a notice")

    def mark_ready(self) -> None:
        """The feed now delivers to this watcher."""
        self._ready = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def ready(self, within: float = 2.0) -> bool:
        """Wait until the feed delivers here; False after ``within`` seconds (the feed is
        away: the watcher still works from the log, and gets a gap notice when it is back)."""
        if self._ready:
            return True
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(within):
                await asyncio.shield(self._waiter)  # another caller's timeout leaves it pending
        except TimeoutError:
            return False
        finally:
            if self._ready:
                self._waiter = None
        return True

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Batch:
        if self._queue is None:
            raise TypeError("a subscription with on_batch is not iterated: its batches go to on_batch")
        if self.closed:
            raise StopAsyncIteration
        batch = await self._queue.get()
        if batch is None:
            raise StopAsyncIteration
        return batch

    async def aclose(self) -> None:
        """Stop watching (idempotent)."""
        self.close()

    def close(self) -> None:
        """Stop watching, from synchronous code (idempotent)."""
        if not self.closed:
            self.closed = True
            if self._queue is not None:
                self._queue.put_nowait(None)
            self._on_close(self)

    async def __aenter__(self) -> Subscription:
        await self.ready()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


@runtime_checkable
class LiveFeed(Protocol):
    """Publishes new transcript lines and lets sockets watch conversations (see the module docstring)."""

    async def publish(self, conversation_id: str, entries: Batch) -> None:
        """Tell every watcher of the conversation about new lines; never raises (the log has them)."""
        ...

    def subscribe(
        self, conversation_id: str, on_batch: Callable[[Batch], object] | None = None
    ) -> Subscription:
        """Start watching a conversation: batches are iterated, or handed to ``on_batch``."""
        ...

    async def health(self) -> ComponentHealth:
        """``ok``, or ``down`` when the shared feed cannot be reached."""
        ...

    async def close(self) -> None:
        """Stop delivering and release connections."""
        ...


class _Watchers:
    """Subscriptions by conversation, shared by both feeds."""

    def __init__(self) -> None:
        self.by_conversation: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> bool:
        """Register; True if it is the conversation's first watcher here."""
        watchers = self.by_conversation.setdefault(subscription.conversation_id, set())
        watchers.add(subscription)
        return len(watchers) == 1

    def remove(self, subscription: Subscription) -> bool:
        """Unregister; True if the conversation has no watcher left here."""
        watchers = self.by_conversation.get(subscription.conversation_id)
        if watchers is None:
            return False
        watchers.discard(subscription)
        if watchers:
            return False
        del self.by_conversation[subscription.conversation_id]
        return True

    def deliver(self, conversation_id: str, batch: Batch) -> None:
        for subscription in list(self.by_conversation.get(conversation_id, ())):
            subscription.put(batch)


class InProcessFeed:
    """Watchers in this process only."""

    def __init__(self) -> None:
        self._watchers = _Watchers()

    async def publish(self, conversation_id: str, entries: Batch) -> None:
        """See :meth:`LiveFeed.publish`."""
        if entries:
            self._watchers.deliver(conversation_id, list(entries))

    def subscribe(
        self, conversation_id: str, on_batch: Callable[[Batch], object] | None = None
    ) -> Subscription:
        """See :meth:`LiveFeed.subscribe` (ready at once)."""
        subscription = Subscription(conversation_id, self._watchers.remove, on_batch)
        self._watchers.add(subscription)
        subscription.mark_ready()
        return subscription

    @property
    def watched(self) -> int:
        """How many conversations have a watcher."""
        return len(self._watchers.by_conversation)

    async def health(self) -> ComponentHealth:
        """Always ``ok``."""
        return ComponentHealth(status="ok", detail="in process")

    async def close(self) -> None:
        """Nothing to release."""


class RedisFeed:
    """Redis pub/sub: one channel per watched conversation; see the module docstring."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = DEFAULT_CHANNEL_PREFIX,
        retry_interval: float = 0.5,
        owns_client: bool = False,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retry_interval = retry_interval
        self._owns_client = owns_client
        self._watchers = _Watchers()
        self._pubsub = redis.pubsub()
        self._reader: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()  # set while any conversation is watched
        self._changes: set[str] = set()  # channels to (un)subscribe, applied by the reader
        self._gap: set[str] = set()  # conversations owed a gap notice once resubscribed
        self._broken = False

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisFeed:
        """A feed with its own client for ``redis://host:port/db``; ``close()`` closes it."""
        return cls(redis_from_url(url), owns_client=True, **kwargs)

    def _channel(self, conversation_id: str) -> str:
        return self.prefix + conversation_id

    async def publish(self, conversation_id: str, entries: Batch) -> None:
        """See :meth:`LiveFeed.publish`; a Redis outage is logged (watchers catch up later)."""
        if not entries:
            return
        payload = json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False)
        try:
            await self.redis.publish(self._channel(conversation_id), payload)
        except (RedisError, OSError) as exc:
            log.warning("live feed: publishing failed (%s); watchers catch up later", type(exc).__name__)

    def subscribe(
        self, conversation_id: str, on_batch: Callable[[Batch], object] | None = None
    ) -> Subscription:
        """See :meth:`LiveFeed.subscribe`; ready once Redis confirms the channel."""
        subscription = Subscription(conversation_id, self._unsubscribe, on_batch)
        if self._watchers.add(subscription):
            self._changes.add(conversation_id)
        else:
            existing = next(iter(self._watchers.by_conversation[conversation_id] - {subscription}))
            if existing.is_ready:
                subscription.mark_ready()
        self._wanted.set()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="live-feed")
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        if self._watchers.remove(subscription):
            self._changes.add(subscription.conversation_id)

    async def health(self) -> ComponentHealth:
        """``ok`` when Redis answers a ping, ``down`` otherwise."""
        try:
            await self.redis.ping()
        except Exception as exc:  # any failure to reach Redis is the answer itself
            return ComponentHealth(status="down", detail=f"redis: {type(exc).__name__}")
        return ComponentHealth(status="ok", detail="redis pub/sub")

    async def close(self) -> None:
        """Stop the reader, end every subscription and close the connections."""
        if self._reader is not None:
            await cancel_and_wait(self._reader)
        for watchers in list(self._watchers.by_conversation.values()):
            for subscription in list(watchers):
                await subscription.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        if self._owns_client:
            await self.redis.aclose()

    async def _apply_changes(self) -> None:
        """(Un)subscribe the channels whose local watchers appeared or left."""
        changes, self._changes = self._changes, set()
        try:
            add = [c for c in changes if c in self._watchers.by_conversation]
            drop = [c for c in changes if c not in self._watchers.by_conversation]
            if add:
                await self._pubsub.subscribe(*(self._channel(c) for c in add))
            if drop and self._pubsub.connection is not None:
                await self._pubsub.unsubscribe(*(self._channel(c) for c in drop))
        except BaseException:
            self._changes |= changes  # tried again once Redis answers
            raise

    async def _read(self) -> None:
        while True:
            if not self._watchers.by_conversation and not self._changes:
                self._wanted.clear()
                await self._wanted.wait()
            try:
                if self._changes:
                    await self._apply_changes()
                if self._pubsub.connection is None:
                    continue
                message = await self._pubsub.get_message(timeout=0.2)
            except (RedisError, OSError) as exc:
                if not self._broken:
                    log.warning("live feed: Redis unreachable (%s); retrying", type(exc).__name__)
                    self._broken = True
                    self._gap |= set(self._watchers.by_conversation)
                    self._changes |= set(self._watchers.by_conversation)  # resubscribe all when back
                await asyncio.sleep(self.retry_interval)
                continue
            if self._broken:
                log.info("live feed: Redis is back")
                self._broken = False
            if message is not None:
                self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if not name.startswith(self.prefix):
            return
        conversation_id = name[len(self.prefix) :]
        if message.get("type") == "subscribe":
            for subscription in self._watchers.by_conversation.get(conversation_id, ()):
                subscription.mark_ready()
            if conversation_id in self._gap:
                self._gap.discard(conversation_id)
                self._watchers.deliver(conversation_id, [])  # catch up what the outage hid
            return
        if message.get("type") != "message":
            return
        try:
            batch = _BATCH.validate_json(message["data"])
        except ValueError:
            log.warning("live feed: an unreadable notice was ignored")
            batch = []  # still a cue to catch up from the log
        self._watchers.deliver(conversation_id, batch)


def live_feed_from_url(redis_url: str | None, **kwargs: Any) -> LiveFeed:
    """Redis pub/sub when a Redis URL is configured, in-process fan-out otherwise."""
    if redis_url:
        return RedisFeed.from_url(redis_url, **kwargs)
    return InProcessFeed()
