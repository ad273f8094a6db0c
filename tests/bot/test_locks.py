"""Per-conversation locks: one holder at a time, first come first served, on both stores."""

from __future__ import annotations

import asyncio
import logging
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.locks import (
    InMemoryLockStore,
    LockStore,
    LockTimeout,
    RedisLockStore,
    lock_store_from_url,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of our own, cleaned up afterwards."""
    prefix = f"test:locks:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def locks(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> AsyncIterator[LockStore]:
    if request.param == "memory":
        store: LockStore = InMemoryLockStore()
    else:
        store = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, lifetime=10.0)
    yield store
    await store.close()


async def queue_reaches(store: LockStore, key: str, length: int) -> None:
    """Wait (at most 5 s) until ``key`` has ``length`` holders and waiters."""
    async with asyncio.timeout(5):
        # the queue lives in the store (Redis for one of them), so there is no Event to await
        while await store.queue_length(key) != length:  # noqa: ASYNC110
            await asyncio.sleep(0.002)


async def test_twenty_waiters_enter_one_at_a_time_in_arrival_order(locks: LockStore) -> None:
    entered: list[int] = []
    inside = 0
    most_inside = 0

    async def message(i: int) -> None:
        nonlocal inside, most_inside
        async with locks.lock("widget:ana"):
            inside += 1
            most_inside = max(most_inside, inside)
            entered.append(i)
            await asyncio.sleep(0.002)  # a turn awaits I/O; nobody may slip in meanwhile
            inside -= 1

    async with locks.lock("widget:ana"):
        tasks = []
        for i in range(20):
            tasks.append(asyncio.create_task(message(i)))
            await queue_reaches(locks, "widget:ana", i + 2)  # message i has arrived and queued
    await asyncio.gather(*tasks)

    assert entered == list(range(20))
    assert most_inside == 1
    assert await locks.queue_length("widget:ana") == 0


async def test_conversations_do_not_wait_for_each_other(locks: LockStore) -> None:
    async with locks.lock("widget:ana"):
        async with asyncio.timeout(2):
            async with locks.lock("widget:bo"):
                assert await locks.queue_length("widget:bo") == 1
        assert await locks.queue_length("widget:ana") == 1
    assert await locks.queue_length("widget:ana") == 0


async def test_a_failing_turn_or_a_cancelled_waiter_never_blocks_the_queue(locks: LockStore) -> None:
    with pytest.raises(RuntimeError):
        async with locks.lock("widget:cy"):
            raise RuntimeError("action server down")

    entered: list[str] = []

    async def message(name: str) -> None:
        async with locks.lock("widget:cy"):
            entered.append(name)

    async with locks.lock("widget:cy"):
        gone = asyncio.create_task(message("gone"))
        await queue_reaches(locks, "widget:cy", 2)
        kept = asyncio.create_task(message("kept"))
        await queue_reaches(locks, "widget:cy", 3)
        gone.cancel()  # e.g. the client disconnected
        with pytest.raises(asyncio.CancelledError):
            await gone
    async with asyncio.timeout(2):
        await kept
    assert entered == ["kept"]
    assert await locks.queue_length("widget:cy") == 0


async def test_a_waiter_cancelled_just_as_its_turn_came_passes_the_lock_on(locks: LockStore) -> None:
    entered: list[str] = []

    async def message(name: str) -> None:
        async with locks.lock("widget:dee"):
            entered.append(name)

    holder = locks.lock("widget:dee")
    await holder.__aenter__()
    unlucky = asyncio.create_task(message("unlucky"))
    await queue_reaches(locks, "widget:dee", 2)
    next_one = asyncio.create_task(message("next"))
    await queue_reaches(locks, "widget:dee", 3)
    await holder.__aexit__(None, None, None)  # the turn passes to "unlucky" ...
    unlucky.cancel()  # ... which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await unlucky
    async with asyncio.timeout(2):
        await next_one
    assert entered == ["next"]
    assert await locks.queue_length("widget:dee") == 0


async def test_idle_conversations_leave_nothing_behind(locks: LockStore, redis_url: str) -> None:
    for i in range(5):
        async with locks.lock(f"widget:idle{i}"):
            pass
    if isinstance(locks, InMemoryLockStore):
        assert locks.active_conversations == 0
    else:
        assert isinstance(locks, RedisLockStore)
        assert [k async for k in locks.redis.scan_iter(match=locks.key_prefix + "*")] == []


async def test_factory_picks_redis_only_when_configured(redis_url: str, redis_prefix: str) -> None:
    assert isinstance(lock_store_from_url(None), InMemoryLockStore)
    redis_locks = lock_store_from_url(redis_url, key_prefix=redis_prefix)
    try:
        assert isinstance(redis_locks, RedisLockStore) and isinstance(redis_locks, LockStore)
        async with redis_locks.lock("widget:x"):
            assert await redis_locks.redis.exists(redis_prefix + "widget:x") == 1
    finally:
        await redis_locks.close()


# ---- Redis only: several processes, and processes that die --------------------------------
HOLDER = """
import asyncio, sys
from bot.locks import RedisLockStore

async def main(url, prefix, mode):
    store = RedisLockStore.from_url(url, key_prefix=prefix, lifetime=1.0, poll_interval=0.01)
    if mode == "wait":
        print("waiting", flush=True)
    held = store.lock("widget:dead")  # kept referenced: never released, this process is killed
    await held.__aenter__()
    print("held", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


async def start_process(redis_url: str, prefix: str, mode: str) -> asyncio.subprocess.Process:
    """Another process that takes the lock ("hold") or queues for it ("wait")."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(HOLDER),
        redis_url,
        prefix,
        mode,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        assert (await process.stdout.readline()).strip() == (b"held" if mode == "hold" else b"waiting")
    return process


@pytest.mark.redis
async def test_a_killed_holder_blocks_only_for_the_lock_lifetime(redis_url: str, redis_prefix: str) -> None:
    holder = await start_process(redis_url, redis_prefix, "hold")
    held_at = time.monotonic()
    holder.kill()
    await holder.wait()
    locks = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, lifetime=1.0, poll_interval=0.01)
    try:
        async with asyncio.timeout(5), locks.lock("widget:dead"):
            waited = time.monotonic() - held_at
        assert 0.8 <= waited < 2.0  # the dead holder's 1 s lifetime, not forever
        assert [k async for k in locks.redis.scan_iter(match=redis_prefix + "*")] == []
    finally:
        await locks.close()


@pytest.mark.redis
async def test_a_waiter_killed_in_the_queue_is_skipped(redis_url: str, redis_prefix: str) -> None:
    locks = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, lifetime=1.0, poll_interval=0.01)
    try:
        async with locks.lock("widget:dead"):
            waiter = await start_process(redis_url, redis_prefix, "wait")
            await queue_reaches(locks, "widget:dead", 2)  # the other process is queued behind us
            after = asyncio.create_task(asyncio.wait_for(_enter(locks, "widget:dead"), 5))
            await queue_reaches(locks, "widget:dead", 3)
            waiter.kill()
            await waiter.wait()
            killed_at = time.monotonic()
        await after
        waited = time.monotonic() - killed_at
        assert waited < 2.0  # the dead waiter's ticket expires within its 1 s lifetime
        assert await locks.queue_length("widget:dead") == 0
    finally:
        await locks.close()


async def _enter(locks: LockStore, key: str) -> None:
    async with locks.lock(key):
        pass


@pytest.mark.redis
async def test_processes_share_one_fifo_queue(redis_url: str, redis_prefix: str) -> None:
    # Two stores with their own connections stand for two web workers.
    first = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, poll_interval=0.005)
    second = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, poll_interval=0.005)
    entered: list[int] = []

    async def message(i: int) -> None:
        async with (first if i % 2 else second).lock("whatsapp:48500"):
            entered.append(i)
            await asyncio.sleep(0.001)

    try:
        async with first.lock("whatsapp:48500"):
            tasks = []
            for i in range(10):
                tasks.append(asyncio.create_task(message(i)))
                await queue_reaches(first, "whatsapp:48500", i + 2)
        await asyncio.gather(*tasks)
        assert entered == list(range(10))
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
async def test_waiting_gives_up_after_the_timeout_and_leaves_the_queue(
    redis_url: str, redis_prefix: str
) -> None:
    locks = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, wait_timeout=0.2)
    try:
        async with locks.lock("widget:busy"):
            started = time.monotonic()
            with pytest.raises(LockTimeout, match="widget:busy"):
                async with locks.lock("widget:busy"):
                    pytest.fail("entered a held lock")
            assert 0.2 <= time.monotonic() - started < 1.0
            assert await locks.queue_length("widget:busy") == 1
        async with asyncio.timeout(1), locks.lock("widget:busy"):
            pass
    finally:
        await locks.close()


@pytest.mark.redis
async def test_a_holder_that_overruns_its_lifetime_is_passed_over(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    locks = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, lifetime=0.5, poll_interval=0.01)
    order: list[str] = []

    async def slow() -> None:
        async with locks.lock("widget:slow"):
            order.append("slow in")
            await asyncio.sleep(1.0)  # e.g. a hung action server
            order.append("slow out")

    async def next_message() -> None:
        async with locks.lock("widget:slow"):
            order.append("next")

    try:
        with caplog.at_level(logging.WARNING, logger="bot.locks"):
            first = asyncio.create_task(slow())
            await queue_reaches(locks, "widget:slow", 1)
            await asyncio.gather(first, next_message())
        assert order == ["slow in", "next", "slow out"]
        assert "lock for widget:slow was held longer than its 0.5s lifetime" in caplog.text
        assert await locks.queue_length("widget:slow") == 0
    finally:
        await locks.close()


ENTRANT = """
import asyncio, sys
from redis.asyncio import Redis
from bot.locks import RedisLockStore

async def main(url, prefix, name):
    store = RedisLockStore.from_url(url, key_prefix=prefix, poll_interval=0.01)
    print("queueing", flush=True)
    async with store.lock("whatsapp:fifo"):
        await store.redis.rpush(prefix + "order", name)
    await store.close()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.redis
async def test_messages_queued_from_two_processes_enter_in_arrival_order(
    redis_url: str, redis_prefix: str
) -> None:
    """Tickets from other processes and from this one, interleaved, are served first come first
    served (each entrant records itself in a Redis list while it holds the lock)."""
    here = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, poll_interval=0.01)
    other = RedisLockStore.from_url(redis_url, key_prefix=redis_prefix, poll_interval=0.01)
    processes: list[asyncio.subprocess.Process] = []

    async def queue_process(name: str, length: int) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            textwrap.dedent(ENTRANT),
            redis_url,
            redis_prefix,
            name,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        processes.append(process)
        await queue_reaches(here, "whatsapp:fifo", length)

    async def enter_here(name: str) -> None:
        async with other.lock("whatsapp:fifo"):
            await other.redis.rpush(redis_prefix + "order", name)

    try:
        async with here.lock("whatsapp:fifo"):
            await queue_process("process-1", 2)
            await queue_process("process-2", 3)
            local = asyncio.create_task(enter_here("this-process"))
            await queue_reaches(here, "whatsapp:fifo", 4)
            await queue_process("process-3", 5)
        async with asyncio.timeout(30):
            await local
            for process in processes:
                assert await process.wait() == 0
        order = [v.decode() for v in await here.redis.lrange(redis_prefix + "order", 0, -1)]
        assert order == ["process-1", "process-2", "this-process", "process-3"]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await here.close()
        await other.close()
