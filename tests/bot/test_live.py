"""Live fan-out: lines published by one process reach watchers on another, and a Redis outage
ends with a gap notice so watchers catch up from the log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from bot.live import InProcessFeed, LiveFeed, RedisFeed, Subscription, live_feed_from_url
from bot.models import TranscriptEntry
from tests.redis_server import own_redis

GUARD = 10.0  # seconds a test waits for a notice before it fails


def line(seq: int, text: str) -> TranscriptEntry:
    return TranscriptEntry(seq=seq, sender="agent", text=text, timestamp=1.0)


async def next_batch(subscription: Subscription) -> list[TranscriptEntry]:
    async with asyncio.timeout(GUARD):
        return await anext(subscription)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def feeds(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[tuple[LiveFeed, LiveFeed]]:
    """A publishing feed and a watching feed: one in-process feed twice, or two Redis feeds
    with their own connections (two processes)."""
    if request.param == "memory":
        feed = InProcessFeed()
        yield feed, feed
        return
    prefix = f"test:live:{uuid.uuid4().hex[:8]}:"
    publisher, watcher = (RedisFeed.from_url(redis_url, prefix=prefix) for _ in range(2))
    yield publisher, watcher
    await publisher.close()
    await watcher.close()


async def test_watchers_of_a_conversation_get_its_lines_and_only_its_lines(
    feeds: tuple[LiveFeed, LiveFeed],
) -> None:
    publisher, watcher = feeds
    first, second = watcher.subscribe("widget:a"), watcher.subscribe("widget:a")
    other = watcher.subscribe("widget:b")
    for subscription in (first, second, other):
        assert await subscription.ready()
    await publisher.publish("widget:a", [line(3, "hello"), line(4, "there")])
    await publisher.publish("widget:a", [])  # nothing to say: nothing sent
    for subscription in (first, second):
        assert [e.text for e in await next_batch(subscription)] == ["hello", "there"]
    await publisher.publish("widget:b", [line(7, "bee")])
    assert [e.seq for e in await next_batch(other)] == [7]
    await first.aclose()
    await publisher.publish("widget:a", [line(5, "again")])
    assert [e.text for e in await next_batch(second)] == ["again"]
    assert [b async for b in first] == []  # a closed subscription ends
    await second.aclose()
    await other.aclose()


async def test_a_callback_watcher_gets_each_batch_without_a_queue_and_one_failing_callback_spares_the_others(
    feeds: tuple[LiveFeed, LiveFeed],
) -> None:
    publisher, watcher = feeds
    taken: list[list[int]] = []
    witnessed: asyncio.Queue[list[int]] = asyncio.Queue()

    def broken(_batch: list[TranscriptEntry]) -> None:
        raise RuntimeError("this socket is gone")

    failing = watcher.subscribe("widget:c", on_batch=broken)
    taking = watcher.subscribe("widget:c", on_batch=lambda batch: taken.append([e.seq for e in batch]))
    witness = watcher.subscribe(
        "widget:c", on_batch=lambda batch: witnessed.put_nowait([e.seq for e in batch])
    )
    for subscription in (failing, taking, witness):
        assert await subscription.ready()
    with pytest.raises(TypeError):  # its batches go to the callback: there is nothing to iterate
        await anext(taking)
    await publisher.publish("widget:c", [line(1, "one"), line(2, "two")])
    async with asyncio.timeout(GUARD):
        assert await witnessed.get() == [1, 2]
    assert taken == [[1, 2]]  # handed over in the feed's delivery, before the next watcher's
    taking.close()
    await publisher.publish("widget:c", [line(3, "three")])
    async with asyncio.timeout(GUARD):
        assert await witnessed.get() == [3]
    assert taken == [[1, 2]]  # a closed watcher is handed nothing more
    failing.close()
    witness.close()


@pytest.mark.redis
async def test_the_factory_picks_redis_only_when_configured(redis_url: str) -> None:
    assert isinstance(live_feed_from_url(None), InProcessFeed)
    feed = live_feed_from_url(redis_url)
    assert isinstance(feed, RedisFeed)
    assert (await feed.health()).detail == "redis pub/sub"
    await feed.close()


@pytest.mark.redis
async def test_after_a_redis_outage_watchers_get_a_gap_notice_and_lines_flow_again() -> None:
    async with own_redis() as redis:
        publisher, watcher = RedisFeed.from_url(redis.url), RedisFeed.from_url(redis.url, retry_interval=0.1)
        try:
            watching = watcher.subscribe("telegram:42")
            assert await watching.ready()
            await publisher.publish("telegram:42", [line(1, "before")])
            assert [e.text for e in await next_batch(watching)] == ["before"]

            await redis.stop()
            assert (await watcher.health()).status == "down"
            await publisher.publish("telegram:42", [line(2, "lost")])  # logged, never raised
            await redis.start()
            assert (await watcher.health()).status == "ok"

            assert await next_batch(watching) == []  # the gap notice: catch up from the log
            await publisher.publish("telegram:42", [line(3, "after")])
            assert [e.text for e in await next_batch(watching)] == ["after"]
        finally:
            await publisher.close()
            await watcher.close()
