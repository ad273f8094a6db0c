"""Agents' presence (online / away / offline) shared by every process that routes or shows it.

An agent's status is set by the console and kept alive by heartbeats: each open workspace
socket heartbeats for its agent, and a status nobody heartbeats expires after ``ttl``
seconds (the laptop slept, the tab closed, the process serving the socket died), so the
router never sends a VIP to someone who is gone. ``offline`` is simply "no entry".

:class:`InMemoryPresence` serves one process (the embedded default);
:class:`RedisPresence` serves several processes through one Redis (``CONCIERGE_REDIS_URL``):
a status is one key with an expiry, read straight from Redis, so a change made on one
process is what every other process reads next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import ConciergeError
from bot.models import ComponentHealth
from bot.redis_pool import redis_from_url
from handoff.agents import AgentStatus

DEFAULT_TTL = 60.0  # seconds without a heartbeat before an agent counts as offline
DEFAULT_KEY_PREFIX = "concierge:presence:"
STATUSES: tuple[AgentStatus, ...] = ("online", "away", "offline")


class PresenceUnavailable(ConciergeError):
    """The shared presence store (Redis) cannot be reached right now."""


@runtime_checkable
class PresenceStore(Protocol):
    """Where agents' statuses live; every method may be called from any process."""

    ttl: float

    async def set_status(self, agent_id: str, status: AgentStatus) -> None:
        """Record a status chosen by the agent; it lasts ``ttl`` unless heartbeats renew it."""
        ...

    async def heartbeat(self, agent_id: str) -> None:
        """The agent's console is still there: renew their status (an offline agent stays offline)."""
        ...

    async def statuses(self, agent_ids: Iterable[str]) -> dict[str, AgentStatus]:
        """The status of each agent named (``offline`` when none is recorded or it expired)."""
        ...

    async def health(self) -> ComponentHealth:
        """``ok``, or ``down`` when the shared store cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections the store owns."""
        ...


class InMemoryPresence:
    """Statuses in this process's memory, with the same expiry as the shared store."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[AgentStatus, float]] = {}

    async def set_status(self, agent_id: str, status: AgentStatus) -> None:
        """See :meth:`PresenceStore.set_status`."""
        if status == "offline":
            self._entries.pop(agent_id, None)
        else:
            self._entries[agent_id] = (status, self.clock() + self.ttl)

    async def heartbeat(self, agent_id: str) -> None:
        """See :meth:`PresenceStore.heartbeat`."""
        entry = self._live(agent_id)
        if entry is not None:
            self._entries[agent_id] = (entry, self.clock() + self.ttl)

    async def statuses(self, agent_ids: Iterable[str]) -> dict[str, AgentStatus]:
        """See :meth:`PresenceStore.statuses`."""
        return {agent_id: self._live(agent_id) or "offline" for agent_id in agent_ids}

    async def health(self) -> ComponentHealth:
        """Always ``ok``: nothing to reach."""
        return ComponentHealth(status="ok", detail="in process")

    async def close(self) -> None:
        """Nothing to release."""

    def _live(self, agent_id: str) -> AgentStatus | None:
        entry = self._entries.get(agent_id)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[agent_id]
            return None
        return entry[0]


# Renew only a status that is still there: a heartbeat must never bring back an agent
# who logged out (or expired) in between.
_HEARTBEAT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 0
"""


class RedisPresence:
    """Statuses as Redis keys with an expiry; see the module docstring."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl: float = DEFAULT_TTL,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        owns_client: bool = False,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.redis = redis
        self.ttl = ttl
        self.key_prefix = key_prefix
        self._owns_client = owns_client
        self._heartbeat = redis.register_script(_HEARTBEAT)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisPresence:
        """A store with its own client for ``redis://host:port/db``; ``close()`` closes it."""
        return cls(redis_from_url(url), owns_client=True, **kwargs)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def set_status(self, agent_id: str, status: AgentStatus) -> None:
        """See :meth:`PresenceStore.set_status`; :class:`PresenceUnavailable` without Redis."""
        key = self.key_prefix + agent_id
        try:
            if status == "offline":
                await self.redis.delete(key)
            else:
                await self.redis.set(key, status, px=self._ttl_ms)
        except (RedisError, OSError) as exc:
            raise PresenceUnavailable(f"agent presence is unavailable ({type(exc).__name__})") from exc

    async def heartbeat(self, agent_id: str) -> None:
        """See :meth:`PresenceStore.heartbeat`; :class:`PresenceUnavailable` without Redis."""
        try:
            await self._heartbeat(keys=[self.key_prefix + agent_id], args=[self._ttl_ms])
        except (RedisError, OSError) as exc:
            raise PresenceUnavailable(f"agent presence is unavailable ({type(exc).__name__})") from exc

    async def statuses(self, agent_ids: Iterable[str]) -> dict[str, AgentStatus]:
        """See :meth:`PresenceStore.statuses` (one round trip for the whole roster);
        :class:`PresenceUnavailable` without Redis."""
        ids = list(agent_ids)
        if not ids:
            return {}
        try:
            values = await self.redis.mget([self.key_prefix + agent_id for agent_id in ids])
        except (RedisError, OSError) as exc:
            raise PresenceUnavailable(f"agent presence is unavailable ({type(exc).__name__})") from exc
        result: dict[str, AgentStatus] = {}
        for agent_id, raw in zip(ids, values, strict=True):
            value = raw.decode() if isinstance(raw, bytes) else raw
            result[agent_id] = value if value in STATUSES else "offline"
        return result

    async def health(self) -> ComponentHealth:
        """``ok`` when Redis answers a ping, ``down`` otherwise."""
        try:
            await self.redis.ping()
        except Exception as exc:  # any failure to reach Redis is the answer itself
            return ComponentHealth(status="down", detail=f"redis: {type(exc).__name__}")
        return ComponentHealth(status="ok", detail="redis")

    async def close(self) -> None:
        """Close the Redis client if this store created it."""
        if self._owns_client:
            await self.redis.aclose()


def presence_from_url(redis_url: str | None, **kwargs: Any) -> PresenceStore:
    """Redis presence when a Redis URL is configured, in-process presence otherwise."""
    if redis_url:
        return RedisPresence.from_url(redis_url, **kwargs)
    return InMemoryPresence(**kwargs)
