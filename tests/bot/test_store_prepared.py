"""PostgreSQL connections from ``bot.store.create_engine`` never prepare statements on the
server: psycopg's automatic preparing cost a round trip per statement it prepared and another
per one it evicted (``DEALLOCATE``), about two per turn (docs/benchmarks.md, "Turn latency").
The store's reads and writes give the same results without it. And a client message and
its new conversation are written in one statement (one round trip instead of two)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

from bot.events import ActionExecuted, SlotSet, UserUttered
from bot.models import InboundMessage
from bot.store import create_engine, statements
from tests.database_support import migrated_store

pytestmark = pytest.mark.postgres


async def test_a_statement_run_many_times_is_not_prepared(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            for i in range(12):  # psycopg's default prepared a statement on its fifth run
                assert (await conn.execute(text("SELECT :n + 1"), {"n": i})).scalar_one() == i + 1
            prepared = (await conn.execute(text("SELECT count(*) FROM pg_prepared_statements"))).scalar_one()
        assert prepared == 0
    finally:
        await engine.dispose()


async def test_an_explicit_threshold_is_kept(postgres_url: str) -> None:
    engine = create_engine(postgres_url, connect_args={"prepare_threshold": 1})
    try:
        async with engine.connect() as conn:
            for i in range(3):
                await conn.execute(text("SELECT :n + 2"), {"n": i})
            prepared = (await conn.execute(text("SELECT count(*) FROM pg_prepared_statements"))).scalar_one()
        assert prepared >= 1
    finally:
        await engine.dispose()


async def test_the_store_reads_back_what_it_appended(tmp_path: Path, postgres_url: str) -> None:
    async with migrated_store("postgresql", tmp_path, postgres_url, "test_prepared") as store:
        for turn in range(8):  # more runs of each statement than psycopg's threshold was
            cid = f"rest:client{turn % 2}"
            await store.append(
                cid,
                [
                    UserUttered(text=f"hello {turn}", timestamp=1000.0 + turn),
                    SlotSet(name="tier", value=None if turn % 3 else "gold", timestamp=1000.0 + turn),
                    ActionExecuted(name="action_listen", timestamp=1000.0 + turn),
                ],
            )
        for client in (0, 1):
            stored, last = await store.load_with_seq(f"rest:client{client}")
            assert last == 12
            assert [s.seq for s in stored] == list(range(1, 13))
            texts = [e.text for e in (s.event for s in stored) if isinstance(e, UserUttered)]
            assert texts == [f"hello {t}" for t in range(8) if t % 2 == client]
        async with store.engine.connect() as conn:
            prepared = (await conn.execute(text("SELECT count(*) FROM pg_prepared_statements"))).scalar_one()
        assert prepared == 0


async def test_a_message_and_its_new_conversation_are_stored_in_one_statement(
    tmp_path: Path, postgres_url: str
) -> None:
    """On PostgreSQL the journal row and its conversation row are one statement (a CTE): the
    conversation is created once, a retry of the message is refused, a second message joins
    the existing conversation, and the first append numbers its events from 1."""

    async with migrated_store("postgresql", tmp_path, postgres_url, "test_journal_cte") as store:
        sent: list[str] = []

        def remember(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            sent.append(statement)

        sa_event.listen(store.engine.sync_engine, "before_cursor_execute", remember)
        first = InboundMessage(channel="rest", sender_id="alice", text="hi", message_id="m1")
        assert await store.record_inbound(first) is True
        sa_event.remove(store.engine.sync_engine, "before_cursor_execute", remember)
        assert len(sent) == 1 and sent[0].lstrip().startswith("WITH new_conversation")
        assert await store.record_inbound(first.model_copy(update={"text": "retried"})) is False
        second = InboundMessage(channel="rest", sender_id="alice", text="again", message_id="m2")
        assert await store.record_inbound(second) is True
        async with store.engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT id, channel, sender_id, last_seq FROM conversations"))
            ).all()
            journal = (
                await conn.execute(text("SELECT message_id, status FROM inbound_messages ORDER BY id"))
            ).all()
        assert [tuple(r) for r in rows] == [("rest:alice", "rest", "alice", 0)]
        assert [tuple(r) for r in journal] == [("m1", "received"), ("m2", "received")]
        assert [m.text for m in await store.pending_inbound()] == ["hi", "again"]
        assert await store.append("rest:alice", [UserUttered(text="hi", timestamp=1.0)]) == [1]
        assert statements.journal_with_conversation() is statements.journal_with_conversation()
