"""Redis clients on a blocking pool: a burst of turns waits for a connection instead of failing.

With redis-py's plain pool, the command that needs connection number ``max_connections + 1``
raised ``MaxConnectionsError`` (REST load of 25-100 requests/s gave 500s); real Redis here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import MaxConnectionsError

from bot.locks import RedisLockStore, lock_store_from_url
from bot.redis_pool import redis_from_url

pytestmark = pytest.mark.redis


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of our own, cleaned up afterwards."""
    prefix = f"test:pool:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def burst(store: RedisLockStore, conversations: int) -> tuple[list[str], list[BaseException]]:
    """Take and release the lock of ``conversations`` distinct conversations at once:
    the conversations served, and the errors raised (every turn runs to its end)."""
    done: list[str] = []

    async def turn(i: int) -> None:
        async with store.lock(f"rest:client-{i}"):
            await asyncio.sleep(0.001)  # the turn's work, holding the lock
            done.append(f"rest:client-{i}")

    results = await asyncio.gather(*(turn(i) for i in range(conversations)), return_exceptions=True)
    return done, [r for r in results if isinstance(r, BaseException)]


async def test_two_hundred_turns_share_four_connections_without_an_error(redis_url: str, prefix: str) -> None:
    store = RedisLockStore(redis_from_url(redis_url, max_connections=4), key_prefix=prefix, owns_client=True)
    try:
        done, errors = await burst(store, 200)
    finally:
        await store.close()
    assert errors == []
    assert sorted(done) == sorted(f"rest:client-{i}" for i in range(200))


async def test_the_configured_lock_store_takes_more_locks_at_once_than_it_has_connections(
    redis_url: str, prefix: str
) -> None:
    store = lock_store_from_url(redis_url, key_prefix=prefix)  # what the engine is built with
    assert isinstance(store, RedisLockStore)
    try:
        done, errors = await burst(store, 300)  # the pool holds 100
    finally:
        await store.close()
    assert errors == []
    assert len(set(done)) == 300


async def test_a_plain_pool_of_the_same_size_fails_the_same_burst(redis_url: str, prefix: str) -> None:
    # why the blocking pool: redis-py's default pool refuses the connection beyond its size
    store = RedisLockStore(Redis.from_url(redis_url, max_connections=4), key_prefix=prefix, owns_client=True)
    try:
        done, errors = await burst(store, 200)
    finally:
        await store.close()
    assert errors and all(isinstance(e, MaxConnectionsError) for e in errors)
    assert len(done) < 200


def test_a_pool_needs_a_connection_and_a_positive_wait() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        redis_from_url("redis://127.0.0.1:6379/0", max_connections=0)
    with pytest.raises(ValueError, match="pool_timeout"):
        redis_from_url("redis://127.0.0.1:6379/0", pool_timeout=0)
