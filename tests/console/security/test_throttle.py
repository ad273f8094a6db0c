"""Sign-in throttling by username and address, and by address; success resets the pair's count."""

from __future__ import annotations

import datetime as dt

from console.security.platform import ConsolePlatform

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


async def test_username_limit_window_and_reset_on_success(platform: ConsolePlatform) -> None:
    throttle = platform.throttle
    for minute in range(4):
        await throttle.record("ewa", "10.0.0.1", False, now=T0 + dt.timedelta(minutes=minute))
    assert await throttle.retry_after("ewa", "10.0.0.1", now=T0 + dt.timedelta(minutes=4)) is None
    await throttle.record("ewa", "10.0.0.1", False, now=T0 + dt.timedelta(minutes=4))  # the 5th
    wait = await throttle.retry_after("ewa", "10.0.0.1", now=T0 + dt.timedelta(minutes=5))
    assert wait == 10 * 60  # the first failure (minute 0) leaves the window at minute 15
    assert await throttle.retry_after("ewa", "10.0.0.1", now=T0 + dt.timedelta(minutes=15, seconds=1)) is None
    # a success clears the count for the username at that address
    await throttle.record("kasia", "10.0.0.3", True, now=T0)
    for second in range(4):
        await throttle.record("kasia", "10.0.0.3", False, now=T0 - dt.timedelta(seconds=10 - second))
    await throttle.record("kasia", "10.0.0.3", False, now=T0 + dt.timedelta(seconds=1))
    assert await throttle.retry_after("kasia", "10.0.0.3", now=T0 + dt.timedelta(seconds=2)) is None


async def test_failures_from_another_address_never_lock_the_owner_out(platform: ConsolePlatform) -> None:
    """A third party hammering a known username pauses only their own address."""
    throttle = platform.throttle
    for second in range(50):  # far past the per-username budget, from the attacker's address
        await throttle.record("ewa", "203.0.113.66", False, now=T0 + dt.timedelta(seconds=second))
    later = T0 + dt.timedelta(minutes=1)
    assert await throttle.retry_after("ewa", "203.0.113.66", now=later) is not None
    assert await throttle.retry_after("ewa", "10.0.0.1", now=later) is None  # the owner's office


async def test_an_address_trying_many_usernames_is_paused(platform: ConsolePlatform) -> None:
    throttle = platform.throttle
    for n in range(throttle.max_per_ip):
        await throttle.record(f"guess{n}", "203.0.113.9", False, now=T0)
    assert await throttle.retry_after("someone-new", "203.0.113.9", now=T0) == 15 * 60
    assert await throttle.retry_after("someone-new", "198.51.100.1", now=T0) is None
