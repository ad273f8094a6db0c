"""Optimistic appends and projectors on real SQLite files and a real PostgreSQL schema.

Two writers that read the same conversation and both append with the seq they read:
exactly one commits, the other gets ``ConcurrencyConflict`` and writes nothing, whether
the writers are tasks sharing a store or separate stores (separate connection pools, as
two processes have). Projectors see exactly the committed events, in the same transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import ConcurrencyConflict, ConfigError
from bot.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from bot.store import EventStore, StoredEvent
from bot.store.projections import Projector
from tests.database_support import BACKENDS, Database, scratch_database

META = MetaData()
# A tiny read model for the tests: per conversation, how many bot lines and the last seq seen.
bot_lines = Table(
    "test_bot_lines",
    META,
    Column("conversation_id", String(200), primary_key=True),
    Column("lines", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
)


class BotLines:
    """Counts the bot's lines per conversation (follows only ``bot`` events)."""

    name = "bot_lines"
    handles = frozenset({"bot"})

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        row = (
            await conn.execute(select(bot_lines).where(bot_lines.c.conversation_id == conversation_id))
        ).first()
        lines = (row.lines if row else 0) + len(stored)
        if row is None:
            await conn.execute(
                bot_lines.insert().values(
                    conversation_id=conversation_id, lines=lines, last_seq=stored[-1].seq
                )
            )
        else:
            await conn.execute(
                bot_lines.update()
                .where(bot_lines.c.conversation_id == conversation_id)
                .values(lines=lines, last_seq=stored[-1].seq)
            )

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(bot_lines.delete())


class Exploding:
    """A projector that fails: the append it belongs to must not commit."""

    name = "exploding"
    handles = frozenset({"slot"})

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        raise RuntimeError("read model broken")

    async def reset(self, conn: AsyncConnection) -> None:
        return None


@pytest.fixture(params=BACKENDS)
async def opener(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[object]:
    """A function opening a new, migrated store on one database (each call: its own pool)."""
    opened: list[EventStore] = []

    async def open_store(database: Database) -> EventStore:
        store = await database.migrated()
        async with store.engine.begin() as conn:
            await conn.run_sync(META.create_all)
        opened.append(store)
        return store

    async with scratch_database(request.param, tmp_path, postgres_url, "test_occ") as database:
        yield lambda: open_store(database)
        for store in opened:
            await store.close()


def said(text: str) -> BotUttered:
    return BotUttered(text=text)


async def test_an_append_with_the_seq_it_read_commits_and_a_stale_one_writes_nothing(opener) -> None:  # type: ignore[no-untyped-def]
    store: EventStore = await opener()
    assert await store.append("rest:a", [UserUttered(text="hi")], expected_seq=0) == [1]
    assert await store.append("rest:a", [said("hello")], expected_seq=1) == [2]
    with pytest.raises(ConcurrencyConflict) as caught:
        await store.append("rest:a", [said("stale")], expected_seq=1)
    assert (caught.value.expected_seq, caught.value.actual_seq) == (1, 2)
    assert [e.text for e in await store.events("rest:a")] == ["hi", "hello"]  # type: ignore[attr-defined]
    assert await store.latest_seq("rest:a") == 2
    # an append without expected_seq still appends after whatever is there
    assert await store.append("rest:a", [said("later")]) == [3]
    # a brand-new conversation expects 0; expecting more is a conflict
    with pytest.raises(ConcurrencyConflict):
        await store.append("rest:new", [said("x")], expected_seq=4)
    assert await store.events("rest:new") == []


async def test_of_two_writers_that_read_the_same_seq_exactly_one_wins(opener) -> None:  # type: ignore[no-untyped-def]
    first: EventStore = await opener()
    second: EventStore = await opener()  # its own pool: as another process would have
    for round_ in range(20):
        conversation = f"rest:race-{round_}"
        await first.append(conversation, [UserUttered(text="claim me")])
        _, seq = await first.load_with_seq(conversation)
        results = await asyncio.gather(
            first.append(conversation, [said("first")], expected_seq=seq),
            second.append(conversation, [said("second")], expected_seq=seq),
            return_exceptions=True,
        )
        conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
        winners = [r for r in results if isinstance(r, list)]
        assert len(conflicts) == 1 and len(winners) == 1, results
        texts = [getattr(e, "text", None) for e in await first.events(conversation)]
        assert texts[0] == "claim me" and len(texts) == 2


async def test_load_with_seq_returns_the_events_and_the_last_seq_together(opener) -> None:  # type: ignore[no-untyped-def]
    store: EventStore = await opener()
    assert await store.load_with_seq("rest:none") == ([], 0)
    await store.append("rest:b", [UserUttered(text="one"), said("two"), said("three")])
    stored, last = await store.load_with_seq("rest:b")
    assert last == 3 and [s.seq for s in stored] == [1, 2, 3]
    later, last = await store.load_with_seq("rest:b", after_seq=2)
    assert last == 3 and [s.seq for s in later] == [3]


async def test_a_projector_follows_only_its_events_in_the_append_transaction_and_rebuilds(opener) -> None:  # type: ignore[no-untyped-def]
    store: EventStore = await opener()
    store.add_projector(BotLines())
    await store.append(
        "rest:p", [UserUttered(text="hi"), said("hello"), ActionExecuted(name="action_listen")]
    )
    await store.append("rest:p", [UserUttered(text="prices?"), said("from 120 zł"), said("anything else?")])
    await store.append("rest:q", [UserUttered(text="only the client speaks")])
    with pytest.raises(ConcurrencyConflict):  # a failed append leaves the read model alone
        await store.append("rest:p", [said("stale")], expected_seq=1)

    async def read() -> dict[str, tuple[int, int]]:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(bot_lines))).all()
        return {r.conversation_id: (r.lines, r.last_seq) for r in rows}

    assert await read() == {"rest:p": (3, 6)}
    assert await store.rebuild_projections() == 2
    assert await read() == {"rest:p": (3, 6)}
    assert await store.rebuild_projections(["bot_lines"]) == 2
    with pytest.raises(ConfigError):
        await store.rebuild_projections(["no_such_model"])
    with pytest.raises(ConfigError):
        store.add_projector(BotLines())  # one name, one read model


async def test_a_failing_projector_rolls_the_whole_append_back(opener) -> None:  # type: ignore[no-untyped-def]
    store: EventStore = await opener()
    store.add_projector(Exploding())
    await store.append("rest:x", [UserUttered(text="hi")])
    with pytest.raises(RuntimeError):
        await store.append("rest:x", [SlotSet(name="tier", value="VIP")])
    assert await store.latest_seq("rest:x") == 1
    assert len(await store.events("rest:x")) == 1


def test_the_test_projectors_satisfy_the_protocol() -> None:
    assert isinstance(BotLines(), Projector)
    assert isinstance(Exploding(), Projector)
