"""The one background loop of timed jobs: runs at once and again and again, survives a failing
round (logged once per failing streak), and stops when asked, a round in flight included."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.periodic import Periodic, cancel_and_wait


async def test_it_runs_at_once_and_again_until_stopped() -> None:
    rounds: list[int] = []
    third = asyncio.Event()

    async def tick() -> None:
        rounds.append(len(rounds) + 1)
        if len(rounds) == 3:
            third.set()

    loop = Periodic("counting", tick, 0.001)
    loop.start()
    loop.start()  # a second start while it runs changes nothing
    await asyncio.wait_for(third.wait(), 30)
    await loop.stop()
    assert not loop.running
    seen = len(rounds)
    await asyncio.sleep(0.01)
    assert len(rounds) == seen and rounds[:3] == [1, 2, 3]


async def test_a_failing_streak_is_logged_once_and_its_end_too(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = iter([ConnectionError, ConnectionError, ConnectionError, None])
    recovered = asyncio.Event()

    async def tick() -> None:
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome("the database is away")
        recovered.set()

    loop = Periodic("flaky job", tick, 0.001)
    with caplog.at_level(logging.INFO, logger="bot.periodic"):
        loop.start()
        await asyncio.wait_for(recovered.wait(), 30)
        await loop.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.periodic"]
    assert messages == ["flaky job failed (ConnectionError); retrying every 0.0 s", "flaky job works again"]
    assert not loop.failing


async def test_stop_cancels_a_round_in_flight() -> None:
    entered, cancelled = asyncio.Event(), asyncio.Event()

    async def tick() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()  # a round that would never end by itself
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop = Periodic("slow job", tick, 60)
    loop.start()
    await asyncio.wait_for(entered.wait(), 30)
    await loop.stop()
    assert cancelled.is_set() and not loop.running


def test_the_interval_must_be_positive() -> None:
    async def tick() -> None:
        return None

    with pytest.raises(ValueError, match="interval must be positive"):
        Periodic("never", tick, 0)


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again_until_it_ends() -> None:
    """What Python 3.11's asyncio.wait_for does when the cancel and the inner result meet:
    the loop goes on as if nothing happened; a single cancel() would leave close() waiting forever."""
    rounds = 0
    swallowed = 0

    async def loop_that_loses_a_cancel() -> None:
        nonlocal rounds, swallowed
        while True:
            rounds += 1
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed == 0:
                    swallowed += 1
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                    continue
                raise

    task = asyncio.create_task(loop_that_loses_a_cancel())
    await asyncio.sleep(0.03)
    await asyncio.wait_for(cancel_and_wait(task, recancel_after=0.05), 30)
    assert task.cancelled()
    assert swallowed == 1
    ended_at = rounds
    await asyncio.sleep(0.03)
    assert rounds == ended_at  # nothing runs on after it


async def test_cancel_and_wait_raises_what_the_task_failed_with() -> None:
    async def failing() -> None:
        raise RuntimeError("broken before the cancel")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="broken before the cancel"):
        await cancel_and_wait(task)


async def test_a_cancelled_stop_still_cancels_the_task_it_was_stopping() -> None:
    """asyncio.wait does not pass its caller's cancellation on (``await task`` did): a stop
    cancelled while the task swallowed the first cancel must not leave the task running."""
    swallowed = 0

    async def loop_that_loses_a_cancel() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed == 0:
                    swallowed += 1
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                    continue
                raise

    task = asyncio.create_task(loop_that_loses_a_cancel())
    await asyncio.sleep(0.03)
    stopping = asyncio.create_task(cancel_and_wait(task, recancel_after=600))
    await asyncio.sleep(0.05)  # the first cancel was delivered and swallowed
    assert swallowed == 1 and not task.done()
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    await asyncio.wait({task}, timeout=30)
    assert task.cancelled()
