"""Agents' presence on both stores: statuses, heartbeats, expiry, and Redis shared by processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from handoff.presence import (
    InMemoryPresence,
    PresenceStore,
    PresenceUnavailable,
    RedisPresence,
    presence_from_url,
)
from tests.console.cluster import free_port

AGENTS = ("anna", "olena", "dmytro")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of our own on the machine's Redis, cleaned up afterwards."""
    name = f"test:presence:{uuid.uuid4().hex[:12]}:"
    yield name
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=name + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def presence(
    request: pytest.FixtureRequest, redis_url: str, prefix: str
) -> AsyncIterator[PresenceStore]:
    store: PresenceStore
    if request.param == "memory":
        store = InMemoryPresence(ttl=30)
    else:
        store = RedisPresence.from_url(redis_url, ttl=30, key_prefix=prefix)
    yield store
    await store.close()


async def test_statuses_are_offline_until_set_and_offline_again_when_cleared(presence: PresenceStore) -> None:
    assert await presence.statuses(AGENTS) == dict.fromkeys(AGENTS, "offline")
    await presence.set_status("anna", "online")
    await presence.set_status("olena", "away")
    assert await presence.statuses(AGENTS) == {"anna": "online", "olena": "away", "dmytro": "offline"}
    await presence.set_status("anna", "offline")
    await presence.heartbeat("anna")  # a heartbeat never brings back someone who logged out
    assert (await presence.statuses(["anna"]))["anna"] == "offline"
    assert (await presence.health()).status == "ok"


async def test_a_status_expires_without_heartbeats_and_lives_on_with_them() -> None:
    clock = Clock()
    presence = InMemoryPresence(ttl=60, clock=clock)
    await presence.set_status("anna", "online")
    await presence.set_status("olena", "away")
    clock.now += 45
    await presence.heartbeat("anna")  # Anna's workspace is still open; Olena's is not
    clock.now += 45
    assert await presence.statuses(["anna", "olena"]) == {"anna": "online", "olena": "offline"}
    clock.now += 61
    assert await presence.statuses(["anna"]) == {"anna": "offline"}


@pytest.mark.redis
async def test_redis_statuses_expire_and_are_shared_by_every_client(redis_url: str, prefix: str) -> None:
    # two stores with their own connections stand for two processes
    first = RedisPresence.from_url(redis_url, ttl=1.0, key_prefix=prefix)
    second = RedisPresence.from_url(redis_url, ttl=1.0, key_prefix=prefix)
    try:
        await first.set_status("anna", "online")
        await first.set_status("olena", "away")
        assert await second.statuses(AGENTS) == {"anna": "online", "olena": "away", "dmytro": "offline"}
        await second.set_status("olena", "online")
        assert (await first.statuses(["olena"]))["olena"] == "online"
        for _ in range(4):  # Anna's heartbeats (from either process) keep her; Olena has none
            await asyncio.sleep(0.35)
            await second.heartbeat("anna")
        assert await first.statuses(["anna", "olena"]) == {"anna": "online", "olena": "offline"}
        await asyncio.sleep(1.2)
        assert (await first.statuses(["anna"]))["anna"] == "offline"
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
async def test_unreachable_redis_is_reported_down(redis_url: str) -> None:
    nowhere = RedisPresence.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        health = await nowhere.health()
        assert health.status == "down" and health.detail.startswith("redis: ")
    finally:
        await nowhere.close()
    assert isinstance(presence_from_url(None), InMemoryPresence)
    configured = presence_from_url(redis_url)
    assert isinstance(configured, RedisPresence)
    await configured.close()


@pytest.mark.redis
async def test_without_redis_changes_are_refused_and_everyone_reads_as_offline(tmp_path: Path) -> None:
    from bot.store.database import create_engine
    from handoff.agents import AgentProfile, AgentRoster
    from handoff.ledger import HandoffLedger
    from handoff.roster import AgentDirectory

    nowhere = RedisPresence.from_url(f"redis://127.0.0.1:{free_port()}/0")
    database = create_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    roster = AgentRoster(agents=[AgentProfile(id=agent, name=agent.title()) for agent in AGENTS])
    directory = AgentDirectory(roster, HandoffLedger(database), nowhere)
    try:
        with pytest.raises(PresenceUnavailable):
            await directory.set_status("anna", "online")
        with pytest.raises(PresenceUnavailable):
            await nowhere.heartbeat("anna")
        # the router and the console keep working: nobody is routed to directly meanwhile
        assert await directory.statuses() == dict.fromkeys(AGENTS, "offline")
        assert await directory.status("anna") == "offline"
    finally:
        await nowhere.close()
        await database.dispose()
