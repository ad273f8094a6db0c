"""Redis clients whose connection pool makes callers wait, instead of failing, under load.

redis-py's default pool holds at most 100 connections and raises ``MaxConnectionsError``
("Too many connections") for the 101st concurrent command: at a few dozen REST requests a
second (each turn takes a lock, polls it, publishes to the live feed, counts a rate limit)
that was a 500 for the client. A :class:`redis.asyncio.BlockingConnectionPool` queues the
command until a connection is free; only a wait longer than ``pool_timeout`` seconds (Redis
truly stuck) raises, as ``redis.exceptions.ConnectionError``, which every caller already
treats as "Redis is unavailable".
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

#: connections per client (redis-py's own default, now a ceiling to wait at, not a failure)
DEFAULT_MAX_CONNECTIONS = 100
#: how long a command waits for a free connection before Redis counts as unavailable
DEFAULT_POOL_TIMEOUT = 20.0


def redis_from_url(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    **connection_kwargs: Any,
) -> Redis:
    """A client for ``redis://host:port/db`` on a blocking pool of ``max_connections``.

    ``connection_kwargs`` go to each connection (e.g. ``socket_timeout``); ``aclose()``
    closes the pool too.
    """
    if max_connections < 1 or pool_timeout <= 0:
        raise ValueError("max_connections must be at least 1 and pool_timeout positive")
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, **connection_kwargs
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
