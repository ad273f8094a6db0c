"""Request rate limits: "at most N hits per key per window", in-process or shared through Redis.

The public edge (the widget, the REST channel, sign-in) counts hits per client address
and per sender with a :class:`RateLimiter`; a caller over its budget is told how long to
wait (``Retry-After``). With ``CONCIERGE_REDIS_URL`` every process shares the counts
(:class:`RedisRateLimiter`); without it each process counts its own
(:class:`MemoryRateLimiter`), which is right for the single-process default.

Windows are fixed (a counter per key that expires ``window`` seconds after its first
hit): one Redis round trip per hit, and a burst at a window's edge can reach at most
twice the budget, which is fine for shedding floods. If Redis fails, hits are allowed
(and logged once per failure streak): a rate limit must not take the chat down with it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.redis_pool import redis_from_url

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rate:
    """A budget: ``limit`` hits per ``window`` seconds; ``limit`` 0 means unlimited."""

    limit: int
    window: float = 60.0

    @property
    def unlimited(self) -> bool:
        """True when nothing is counted."""
        return self.limit <= 0


class RateLimiter(Protocol):
    """Counts hits per key; the seam the edge codes against."""

    async def hit(self, key: str, rate: Rate) -> int | None:
        """Count one hit on ``key``; None if within ``rate``, else whole seconds to wait (>= 1)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryRateLimiter:
    """Counts in this process (a dict of fixed windows); expired windows are swept as it grows."""

    SWEEP_AT = 10_000  # keys; sweeping then keeps memory bounded under a flood of addresses

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, rate: Rate) -> int | None:
        """See :meth:`RateLimiter.hit`."""
        if rate.unlimited:
            return None
        now = self.clock()
        ends, count = self._windows.get(key, (0.0, 0))
        if now >= ends:
            if len(self._windows) >= self.SWEEP_AT:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            ends, count = now + rate.window, 0
        count += 1
        self._windows[key] = (ends, count)
        if count <= rate.limit:
            return None
        return max(1, math.ceil(ends - now))

    async def close(self) -> None:
        """Nothing to release."""
        return None


# INCR the window's counter, start its expiry on the first hit; over the limit: its TTL (ms).
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
  return ttl
end
return -1
"""


class RedisRateLimiter:
    """Counts in Redis, shared by every process; fails open (allows) while Redis is down."""

    def __init__(self, client: Redis, *, prefix: str = "concierge:rate:", owns_client: bool = False) -> None:
        self.client = client
        self.prefix = prefix
        self.owns_client = owns_client
        self._script = client.register_script(_HIT)
        self._failing = False

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> RedisRateLimiter:
        """A limiter with its own client for ``url`` (closed by :meth:`close`)."""
        return cls(redis_from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0), owns_client=True)

    async def hit(self, key: str, rate: Rate) -> int | None:
        """See :meth:`RateLimiter.hit`."""
        if rate.unlimited:
            return None
        window_ms = max(1, int(rate.window * 1000))
        try:
            ttl = int(await self._script(keys=[self.prefix + key], args=[rate.limit, window_ms]))
        except (RedisError, OSError) as exc:
            if not self._failing:
                log.warning("rate limits: Redis unavailable (%s); allowing meanwhile", type(exc).__name__)
            self._failing = True
            return None
        self._failing = False
        return None if ttl < 0 else max(1, math.ceil(ttl / 1000))

    async def close(self) -> None:
        """Close the client if this limiter made it."""
        if self.owns_client:
            await self.client.aclose()


def rate_limiter_from_url(redis_url: str | None) -> RateLimiter:
    """Redis-backed when ``redis_url`` is set, else in-process."""
    if redis_url:
        return RedisRateLimiter.from_url(redis_url)
    return MemoryRateLimiter()
