"""The model pool: bounded threads, first come first served, closed with the engine."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.modelpool import ModelPool


async def test_at_most_workers_jobs_run_at_once_and_all_finish_in_order_of_arrival() -> None:
    pool = ModelPool(workers=2)
    running, peak, started = 0, 0, []
    guard = threading.Lock()
    release = threading.Event()

    def job(n: int) -> int:
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
            started.append(n)
        release.wait(5)
        with guard:
            running -= 1
        return n

    try:
        jobs = [asyncio.ensure_future(pool.run(job, n)) for n in range(6)]
        await asyncio.sleep(0.2)
        assert running == 2  # the other four wait their turn
        release.set()
        assert await asyncio.gather(*jobs) == list(range(6))
        assert peak == 2
        assert started[:2] == [0, 1] and sorted(started[2:]) == [2, 3, 4, 5]
    finally:
        pool.close()


async def test_a_closed_pool_takes_no_more_work() -> None:
    pool = ModelPool(workers=2)
    assert await pool.run(sum, [1, 2, 3]) == 6
    pool.close()
    with pytest.raises(RuntimeError):
        await pool.run(sum, [1])
