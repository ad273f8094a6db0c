"""Login sessions: a random token in the browser's cookie, only its SHA-256 in the database.

A session ends when it has been idle too long, at its absolute expiry, at logout, or when
its user is disabled or their password is reset. The CSRF token a page sends back in the
:data:`CSRF_HEADER` header is an HMAC of the cookie's token, so it needs no storage and
is useless without the cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from console.security.models import ConsoleUser
from console.tables import sessions, users

SESSION_COOKIE = "concierge_session"
# set on the login page before anyone signs in, so the login form has a CSRF token too
PRELOGIN_COOKIE = "concierge_prelogin"
CSRF_HEADER = "X-CSRF-Token"
# last_seen_at is written at most this often, not on every request
TOUCH_EVERY = dt.timedelta(seconds=60)


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """What the database keeps for ``token``: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(token: str) -> str:
    """The CSRF token that goes with a cookie token (sent back in :data:`CSRF_HEADER`)."""
    return hmac.new(token.encode(), b"concierge-csrf", hashlib.sha256).hexdigest()


def csrf_matches(token: str | None, header: str | None) -> bool:
    """True when ``header`` is the CSRF token of the cookie ``token`` (constant time)."""
    if not token or not header:
        return False
    return hmac.compare_digest(csrf_for(token), header)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A valid session and its user."""

    id: str
    user: ConsoleUser
    expires_at: dt.datetime


class SessionStore:
    """Create, resolve and end sessions in ``console_sessions``."""

    def __init__(self, engine: AsyncEngine, *, idle: dt.timedelta, absolute: dt.timedelta) -> None:
        self.engine = engine
        self.idle = idle
        self.absolute = absolute

    async def create(self, user_id: int, *, now: dt.datetime | None = None) -> str:
        """A new session for ``user_id``; returns the token for the cookie (never stored)."""
        now = now or dt.datetime.now(dt.UTC)
        token = new_token()
        async with self.engine.begin() as conn:
            await conn.execute(
                sessions.insert().values(
                    id=token_id(token),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.absolute,
                )
            )
        return token

    async def resolve(self, token: str | None, *, now: dt.datetime | None = None) -> ActiveSession | None:
        """The live session behind ``token`` (touching its idle clock), or None.

        None for an unknown, idle, expired or disabled user's session; dead ones are deleted.
        """
        if not token:
            return None
        now = now or dt.datetime.now(dt.UTC)
        sid = token_id(token)
        stmt = (
            select(sessions.c.last_seen_at, sessions.c.expires_at, users)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id == sid)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        if row.disabled or now >= row.expires_at or now - row.last_seen_at >= self.idle:
            await self.end(token)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            async with self.engine.begin() as conn:
                await conn.execute(update(sessions).where(sessions.c.id == sid).values(last_seen_at=now))
        user = ConsoleUser(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            agent_id=row.agent_id,
        )
        return ActiveSession(id=sid, user=user, expires_at=row.expires_at)

    async def end(self, token: str) -> None:
        """Delete the session behind ``token`` (logout); nothing happens if there is none."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.id == token_id(token)))

    async def end_all(self, user_id: int) -> int:
        """Delete every session of ``user_id`` (disabled, password reset); returns how many."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return result.rowcount

    async def prune(self, *, now: dt.datetime | None = None) -> int:
        """Delete expired and idle sessions; returns how many."""
        now = now or dt.datetime.now(dt.UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(sessions).where(
                    or_(sessions.c.expires_at <= now, sessions.c.last_seen_at <= now - self.idle)
                )
            )
        return result.rowcount
