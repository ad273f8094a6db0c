"""Sessions die when idle, at their absolute expiry, when the user is disabled, and at logout."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from console.security.platform import ConsolePlatform
from console.security.sessions import csrf_for, csrf_matches, token_id
from console.tables import sessions
from tests.console.conftest import add_user

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


async def test_idle_and_absolute_expiry(platform: ConsolePlatform) -> None:
    user_id = await add_user(platform, "ewa", "editor")
    store = platform.sessions
    token = await store.create(user_id, now=T0)
    # used every 90 minutes: never idle for 2 hours, but dead at the 12-hour mark
    at = T0
    while at + dt.timedelta(minutes=90) < T0 + store.absolute:
        at += dt.timedelta(minutes=90)
        found = await store.resolve(token, now=at)
        assert found is not None and found.user.username == "ewa"
    assert await store.resolve(token, now=T0 + store.absolute) is None
    # idle: unused for two hours
    idle = await store.create(user_id, now=T0)
    assert await store.resolve(idle, now=T0 + store.idle - dt.timedelta(seconds=1)) is not None
    assert await store.resolve(idle, now=T0 + 2 * store.idle) is None
    async with platform.store.engine.connect() as conn:
        assert (await conn.execute(select(sessions.c.id))).scalars().all() == []  # dead ones deleted


async def test_disabling_a_user_kills_their_sessions_and_prune_clears_old_ones(
    platform: ConsolePlatform,
) -> None:
    user_id = await add_user(platform, "ewa", "editor")
    token = await platform.sessions.create(user_id)
    await platform.accounts.update(user_id, disabled=True)
    assert await platform.sessions.resolve(token) is None
    stale = await platform.sessions.create(user_id, now=T0)
    assert await platform.sessions.prune() == 1
    assert await platform.sessions.resolve(stale) is None
    assert await platform.sessions.resolve("never issued") is None
    assert await platform.sessions.resolve(None) is None


async def test_only_the_tokens_hash_is_stored_and_csrf_is_bound_to_the_token(
    platform: ConsolePlatform,
) -> None:
    user_id = await add_user(platform, "ewa", "editor")
    token = await platform.sessions.create(user_id)
    async with platform.store.engine.connect() as conn:
        assert (await conn.execute(select(sessions.c.id))).scalar_one() == token_id(token)
    assert csrf_matches(token, csrf_for(token))
    other = await platform.sessions.create(user_id)
    assert not csrf_matches(token, csrf_for(other))
    assert not csrf_matches(None, csrf_for(token)) and not csrf_matches(token, None)
    assert await platform.sessions.end_all(user_id) == 2
