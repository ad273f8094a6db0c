"""The app's edge (console/limits.py): client address, body sizes, rate limits; sign-in
throttling a third party cannot turn into a lockout."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot.ratelimit import MemoryRateLimiter, Rate, RedisRateLimiter
from bot.settings import Settings
from console.app import create_app
from console.limits import client_address, parse_networks
from console.security.platform import ConsolePlatform
from tests.console.conftest import PASSWORD, add_user, client_for, login_csrf
from tests.redis_server import own_redis

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


@asynccontextmanager
async def app_with(settings: Settings, **changes: Any) -> AsyncIterator[FastAPI]:
    """The console app over ``settings`` with ``changes``; its platform closed afterwards."""
    app = create_app(settings.model_copy(update=changes))
    try:
        yield app
    finally:
        await app.state.console.close()


async def login(
    client: httpx.AsyncClient, token: str, username: str, password: str, via: str | None = None
) -> httpx.Response:
    headers = {"X-CSRF-Token": token}
    if via is not None:
        headers["X-Forwarded-For"] = via
    return await client.post(
        "/console/login", json={"username": username, "password": password}, headers=headers
    )


# ---- the client's address --------------------------------------------------------------
def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    proxies = parse_networks("10.0.0.5, 192.168.1.0/24")
    assert client_address("127.0.0.1", ATTACKER, proxies) == "127.0.0.1"  # not a proxy we trust
    assert client_address("10.0.0.5", OWNER, proxies) == OWNER
    # the right-most hop that is not one of our proxies: a client cannot forge what our proxy adds
    assert client_address("10.0.0.5", f"{ATTACKER}, {OWNER}, 192.168.1.9", proxies) == OWNER
    assert client_address("10.0.0.5", "not-an-address", proxies) == "10.0.0.5"
    assert client_address("10.0.0.5", OWNER, []) == "10.0.0.5"  # default: trust nobody
    with pytest.raises(ValueError, match="nonsense"):
        parse_networks("10.0.0.1, nonsense")


# ---- sign-in ---------------------------------------------------------------------------
async def test_a_third_party_cannot_lock_a_known_user_out(console_settings: Settings) -> None:
    """An attacker hammers ewa's username from their address; ewa still signs in from hers."""
    async with app_with(console_settings, trusted_proxies="127.0.0.1", login_per_ip_per_minute=0) as app:
        platform: ConsolePlatform = await app.state.console.ready()
        await add_user(platform, "ewa", "editor")
        async with client_for(app) as attacker, client_for(app) as owner:
            token = await login_csrf(attacker)
            statuses = [
                (await login(attacker, token, "ewa", f"guess-{n}", via=ATTACKER)).status_code
                for n in range(8)
            ]
            assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
            # even the right password from the attacker's address waits now
            assert (await login(attacker, token, "ewa", PASSWORD, via=ATTACKER)).status_code == 429
            own = await login(owner, await login_csrf(owner), "ewa", PASSWORD, via=OWNER)
            assert own.status_code == 200, own.text
            assert own.json()["user"]["username"] == "ewa"


async def test_a_forged_forwarded_for_does_not_escape_the_address_limit(console_settings: Settings) -> None:
    """By default no proxy is trusted: rotating X-Forwarded-For changes nothing."""
    async with app_with(console_settings, login_per_ip_per_minute=0) as app:
        platform: ConsolePlatform = await app.state.console.ready()
        await add_user(platform, "ewa", "editor")
        async with client_for(app) as client:
            token = await login_csrf(client)
            for n in range(5):
                await login(client, token, "ewa", "wrong password!", via=f"198.51.100.{n + 10}")
            refused = await login(client, token, "ewa", PASSWORD, via="198.51.100.200")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_sign_in_attempts_per_address_get_429_with_retry_after(console_settings: Settings) -> None:
    async with app_with(console_settings, login_per_ip_per_minute=3) as app:
        async with client_for(app) as client:
            token = await login_csrf(client)
            statuses = [
                (await login(client, token, f"user{n}", "whatever pass")).status_code for n in range(4)
            ]
            refused = await login(client, token, "someone", "whatever pass")
    assert statuses[:3] == [401, 401, 401] and statuses[3] == 429
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"] == "rate_limited"


# ---- body sizes ------------------------------------------------------------------------
async def test_a_console_body_over_the_limit_is_413_before_it_is_read(console_settings: Settings) -> None:
    async with app_with(console_settings) as app:
        async with client_for(app) as client:
            token = await login_csrf(client)
            declared = await client.post(
                "/console/login",
                content=b"x" * (2 * 1024 * 1024),
                headers={"X-CSRF-Token": token, "content-type": "application/json"},
            )

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
                for _ in range(40):
                    yield b"y" * 65_536

            streamed = await client.post(
                "/console/login",
                content=chunks(),
                headers={"X-CSRF-Token": token, "content-type": "application/json"},
            )
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "too_large"
        assert "1 MB" in response.json()["message"]


# ---- the limiter itself, in process and in Redis -----------------------------------------
async def test_memory_limiter_counts_a_window_and_says_how_long_to_wait() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    rate = Rate(2, window=60)
    assert [await limiter.hit("k", rate) for _ in range(3)] == [None, None, 60]
    now[0] += 59.5
    assert await limiter.hit("k", rate) == 1
    now[0] += 1
    assert await limiter.hit("k", rate) is None  # a new window
    assert await limiter.hit("other", Rate(0)) is None  # 0: unlimited


async def test_redis_limiter_is_shared_by_two_processes(redis_url: str) -> None:
    prefix = f"test:rate:{uuid.uuid4().hex}:"
    first = RedisRateLimiter.from_url(redis_url)
    second = RedisRateLimiter.from_url(redis_url)
    first.prefix = second.prefix = prefix
    try:
        rate = Rate(3, window=60)
        hits = [await first.hit("ip:1", rate), await second.hit("ip:1", rate), await first.hit("ip:1", rate)]
        assert hits == [None, None, None]
        wait = await second.hit("ip:1", rate)
        assert wait is not None and 1 <= wait <= 60
    finally:
        await first.client.delete(prefix + "ip:1")
        await first.close()
        await second.close()


async def test_redis_limiter_allows_while_redis_is_down() -> None:
    """A rate limit must not take the chat down with it: no Redis, no limit (logged)."""
    async with own_redis() as server:
        limiter = RedisRateLimiter.from_url(server.url)
        try:
            assert await limiter.hit("k", Rate(1)) is None
            assert await limiter.hit("k", Rate(1)) is not None
            await server.stop()
            assert await limiter.hit("k", Rate(1)) is None
        finally:
            await limiter.close()
