"""Login throttling keyed on username *and* address, so nobody can lock another person out.

Failures count within a sliding window (15 minutes by default). Two budgets:

* per (username, address): ``max_per_username`` failures pause sign-in for that username
  *from that address* only. An attacker hammering a known username from elsewhere never
  stops its owner signing in from their own address; a successful sign-in clears the
  pair's count.
* per address: ``max_per_ip`` failures (any usernames) pause every sign-in from that
  address, the global brake on one source guessing many accounts.

While refused, the caller learns how long to wait (until the oldest counted failure
leaves the window), not whether the password was right. Addresses are the client's as
:mod:`console.limits` resolves it (``X-Forwarded-For`` only from trusted proxies).
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from console.tables import login_attempts


class LoginThrottle:
    """Counts attempts in ``console_login_attempts`` and says when to refuse (per username and
    address, and per address)."""

    def __init__(
        self, engine: AsyncEngine, *, window: dt.timedelta, max_per_username: int, max_per_ip: int
    ) -> None:
        self.engine = engine
        self.window = window
        self.max_per_username = max_per_username
        self.max_per_ip = max_per_ip

    async def retry_after(self, username: str, ip: str, *, now: dt.datetime | None = None) -> int | None:
        """Seconds to wait before ``username`` may try again from ``ip``; None if allowed now."""
        now = now or dt.datetime.now(dt.UTC)
        start = now - self.window
        async with self.engine.connect() as conn:
            pair = and_(login_attempts.c.username == username, login_attempts.c.ip == ip)
            last_ok = (
                await conn.execute(
                    select(func.max(login_attempts.c.at)).where(pair, login_attempts.c.succeeded.is_(True))
                )
            ).scalar_one_or_none()
            since = max(start, last_ok) if last_ok else start
            waits = []
            for where, limit, after in (
                (pair, self.max_per_username, since),
                (login_attempts.c.ip == ip, self.max_per_ip, start),
            ):
                failures = (
                    (
                        await conn.execute(
                            select(login_attempts.c.at)
                            .where(where, login_attempts.c.succeeded.is_(False), login_attempts.c.at > after)
                            .order_by(login_attempts.c.at.desc())
                            .limit(limit)
                        )
                    )
                    .scalars()
                    .all()
                )
                if len(failures) >= limit:
                    # allowed again when the oldest of the last `limit` failures leaves the window
                    waits.append((failures[-1] + self.window - now).total_seconds())
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    async def record(
        self, username: str, ip: str, succeeded: bool, *, now: dt.datetime | None = None
    ) -> None:
        """Note an attempt; old ones (past the window) are deleted on the way."""
        now = now or dt.datetime.now(dt.UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                login_attempts.insert().values(username=username, ip=ip, succeeded=succeeded, at=now)
            )
            await conn.execute(delete(login_attempts).where(login_attempts.c.at < now - 2 * self.window))
