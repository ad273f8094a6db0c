"""Round leases: while one holder does a round of a job, every other holder skips it; the
next round is anyone's. On SQLite and on PostgreSQL (two engines stand for two processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.leases import RoundLease, lease_key
from bot.store.database import create_engine
from tests.database_support import BACKENDS, scratch_database


@pytest.fixture(params=BACKENDS)
async def engines(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    async with scratch_database(request.param, tmp_path, postgres_url, "test_leases") as database:
        first, second = (create_engine(database.url, schema=database.schema) for _ in range(2))
        yield first, second
        await first.dispose()
        await second.dispose()


async def test_one_holder_does_a_round_the_others_skip_it(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    here, there = (RoundLease(engine, "imap:inbox@mail") for engine in engines)
    elsewhere = RoundLease(engines[1], "another job")
    async with here.round() as mine:
        assert mine
        async with there.round() as theirs:
            assert not theirs  # held: skipped, never waited for
        async with elsewhere.round() as other_job:
            assert other_job  # leases of other jobs are independent
    async with there.round() as theirs:
        assert theirs  # the next round is anyone's
    assert (here.rounds, there.rounds, there.skipped) == (1, 1, 1)


def test_lease_keys_are_stable_signed_64_bit_numbers() -> None:
    key = lease_key("imap:inbox@mail")
    assert key == lease_key("imap:inbox@mail") != lease_key("imap:other@mail")
    assert -(2**63) <= key < 2**63
