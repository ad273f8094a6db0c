"""The event log on real SQLite files and a real PostgreSQL (one fresh schema per test)."""

from __future__ import annotations

import asyncio
import typing
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.errors import ConfigError
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AgentNoteAdded,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    CsatRecorded,
    CsatRequested,
    EntitiesAdded,
    EntityValue,
    Event,
    FollowupAction,
    HandoffRequested,
    HandoffStatusChanged,
    KnowledgeGapNoted,
    LoopInterrupted,
    ReminderCancelled,
    ReminderScheduled,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    event_from_dict,
)
from bot.migrations import head_revision
from bot.models import Attachment, InboundMessage
from bot.store import EventStore, async_url
from bot.store.tables import events as events_table
from bot.store.tables import inbound_messages
from tests.database_support import BACKENDS, Database, scratch_database


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[Database]:
    async with scratch_database(request.param, tmp_path, postgres_url, "test_store") as database:
        yield database


@pytest.fixture
async def store(database: Database) -> AsyncIterator[EventStore]:
    store = database.open()
    await store.migrate()
    yield store
    await store.close()


def every_event() -> list[Event]:
    """One of each event kind, with the rich fields a real conversation carries."""
    return [
        ActionExecuted(name="action_session_start", policy=None, confidence=None, timestamp=100.0),
        SessionStarted(timestamp=100.5),
        ActionExecuted(name="action_listen", policy="RulePolicy", confidence=1.0, timestamp=101.0),
        UserUttered(
            text="Book a gel manicure in Mokotów tomorrow at 10",
            parse_data={
                "text": "Book a gel manicure in Mokotów tomorrow at 10",
                "intent": {"name": "book_appointment", "confidence": 0.9312},
                "entities": [
                    {
                        "entity": "service",
                        "value": "manicure_gel",
                        "start": 7,
                        "end": 19,
                        "extractor": "CRFEntityExtractor",
                        "confidence_entity": 0.88,
                    },
                    {"entity": "studio", "value": "Mokotów", "start": 23, "end": 30, "role": "location"},
                    {
                        "entity": "time",
                        "value": {"from": "2025-03-02T10:00:00+01:00", "grain": "hour"},
                        "start": 31,
                        "end": 44,
                        "extractor": "DucklingEntityExtractor",
                        "additional_info": {"values": [{"value": "2025-03-02T10:00:00+01:00"}]},
                    },
                ],
                "intent_ranking": [
                    {"name": "book_appointment", "confidence": 0.9312},
                    {"name": "ask_prices", "confidence": 0.04},
                ],
                "language": "en",
                "sentiment": -0.25,
                "response_selector": {"faq": {"response": {"intent_response_key": "faq/hours"}}},
            },
            input_channel="widget",
            message_id="wamid.HBgL",
            metadata={"sender": "client", "locale": "pl-PL"},
            timestamp=102.25,
        ),
        SlotSet(name="services", value=["manicure_gel", "pedicure"], timestamp=103.0),
        SlotSet(name="booking", value={"studio": "Mokotów", "price": 180.5, "vip": True, "note": None}),
        ActiveLoop(name="booking_form"),
        LoopInterrupted(is_interrupted=True),
        ActionExecutionRejected(name="booking_form", policy="RulePolicy", confidence=0.7),
        BotUttered(
            text="Which studio suits you?",
            data={
                "buttons": [{"title": "Mokotów", "payload": '/inform{"studio": "Mokotów"}'}],
                "image": "https://example.invalid/studio.png",
                "custom": {"card": {"rows": [1, 2]}},
            },
            metadata={"sender": "bot", "utter_action": "utter_ask_studio"},
        ),
        FollowupAction(name="action_check_availability"),
        EntitiesAdded(entities=[EntityValue(entity="studio", value="Wola", start=0, end=4)]),
        UserUtteranceReverted(),
        ActionReverted(),
        AllSlotsReset(),
        HandoffRequested(reason="sentiment", detail="score -0.8 over two turns"),
        HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", reason="sentiment"),
        AgentNoteAdded(text="prefers Anna; <b>allergic</b> to latex", author="anna.kowalska"),
        CsatRequested(agent_id="anna.kowalska"),
        CsatRecorded(score=5, comment="Thank you!", agent_id="anna.kowalska"),
        ReminderScheduled(
            intent="EXTERNAL_appointment_reminder",
            date_time="2025-03-01T10:00:00+01:00",
            name="MH-10001-24h",
            entities={"kind": "appointment_reminder", "service": "gel manicure"},
            kill_on_user_msg=False,
        ),
        ReminderCancelled(name="MH-10001-24h"),
        KnowledgeGapNoted(
            question="do you do tattoo removal?", language="en", reason="no_answer", score=0.12, tried="kb"
        ),
        ConversationPaused(),
        ConversationResumed(),
        Restarted(),
    ]


async def test_every_event_type_round_trips(store: EventStore) -> None:
    written = every_event()
    kinds = set(typing.get_args(typing.get_args(Event)[0]))
    assert {type(e) for e in written} == kinds, "the sample must hold every event kind"

    seqs = await store.append("widget:ana", written)
    assert seqs == list(range(1, len(written) + 1))

    loaded = await store.load("widget:ana")
    assert [s.seq for s in loaded] == seqs
    assert [s.event for s in loaded] == written
    user = loaded[3].event
    assert isinstance(user, UserUttered)
    assert user.intent_name == "book_appointment"
    assert user.entities[2].value == {"from": "2025-03-02T10:00:00+01:00", "grain": "hour"}
    assert user.parse_data.model_dump()["entities"][2]["additional_info"]["values"][0]["value"].startswith(
        "2025"
    )
    assert await store.events("widget:ana") == written
    assert await store.latest_seq("widget:ana") == len(written)


async def test_rows_hold_rasa_wire_dicts(store: EventStore) -> None:
    rasa = {"event": "form", "timestamp": 4.0, "name": "booking_form"}  # Rasa 2 name, read as active_loop
    await store.append("rest:bo", [event_from_dict(rasa), BotUttered(text="hi", timestamp=5.0)])
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(events_table.c.seq, events_table.c.type, events_table.c.timestamp, events_table.c.data)
                .where(events_table.c.conversation_id == "rest:bo")
                .order_by(events_table.c.seq)
            )
        ).all()
    assert [(r.seq, r.type, r.timestamp) for r in rows] == [(1, "active_loop", 4.0), (2, "bot", 5.0)]
    assert rows[0].data == {"event": "active_loop", "timestamp": 4.0, "name": "booking_form", "metadata": {}}
    assert rows[1].data["text"] == "hi" and rows[1].data["data"] == {}


async def test_load_after_seq_and_appends_continue_numbering(store: EventStore) -> None:
    assert await store.load("widget:new") == []
    assert await store.latest_seq("widget:new") == 0
    assert await store.append("widget:new", []) == []
    assert await store.append("widget:new", [ActionExecuted(name="action_listen")]) == [1]
    assert await store.append("widget:new", [BotUttered(text="a"), BotUttered(text="b")]) == [2, 3]
    assert await store.append("widget:other", [BotUttered(text="x")]) == [1]  # numbering is per conversation
    later = await store.load("widget:new", after_seq=1)
    assert [(s.seq, s.event.text) for s in later] == [(2, "a"), (3, "b")]  # type: ignore[union-attr]
    assert await store.load("widget:new", after_seq=3) == []


async def test_fifty_concurrent_appenders_never_collide(database: Database, store: EventStore) -> None:
    # Two stores = two connection pools, as two processes would have.
    other = database.open()
    try:

        async def writer(i: int) -> list[int]:
            target = store if i % 2 else other
            return await target.append(
                "whatsapp:48500", [SlotSet(name="writer", value=i), BotUttered(text=f"w{i}")]
            )

        results = await asyncio.gather(*(writer(i) for i in range(50)))
    finally:
        await other.close()

    assert sorted(s for seqs in results for s in seqs) == list(range(1, 101))
    assert all(seqs[1] == seqs[0] + 1 for seqs in results)  # one append's events stay together
    loaded = await store.load("whatsapp:48500")
    assert [s.seq for s in loaded] == list(range(1, 101))
    for i, (first, second) in enumerate(results):
        slot, said = loaded[first - 1].event, loaded[second - 1].event
        assert isinstance(slot, SlotSet) and slot.value == i
        assert isinstance(said, BotUttered) and said.text == f"w{i}"
    assert await store.latest_seq("whatsapp:48500") == 100


async def test_writes_to_one_conversation_keep_their_call_order(store: EventStore) -> None:
    # Webhook handlers for one chat call the store in arrival order; pooled connections
    # must not let a later message overtake an earlier one.
    seqs = await asyncio.gather(*(store.append("telegram:77", [BotUttered(text=f"m{i}")]) for i in range(20)))
    assert seqs == [[i + 1] for i in range(20)]
    t0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    messages = [
        InboundMessage(channel="telegram", sender_id="88", text=f"m{i}", message_id=f"tg-{i}", received_at=t0)
        for i in range(20)
    ]
    await asyncio.gather(*(store.record_inbound(m) for m in messages))
    assert [m.message_id for m in await store.pending_inbound()] == [f"tg-{i}" for i in range(20)]


async def test_same_message_id_is_recorded_once(store: EventStore) -> None:
    msg = InboundMessage(channel="whatsapp", sender_id="48500", text="hi", message_id="wamid.1")
    assert await store.record_inbound(msg) is True
    assert await store.record_inbound(msg.model_copy(update={"text": "retried"})) is False
    # the same provider id in another conversation is another message
    assert await store.record_inbound(msg.model_copy(update={"sender_id": "48501"})) is True

    retry = InboundMessage(channel="whatsapp", sender_id="48500", text="storm", message_id="wamid.2")
    outcomes = await asyncio.gather(*(store.record_inbound(retry) for _ in range(10)))
    assert outcomes.count(True) == 1
    pending = await store.pending_inbound()
    assert [(m.sender_id, m.message_id, m.text) for m in pending] == [
        ("48500", "wamid.1", "hi"),
        ("48501", "wamid.1", "hi"),
        ("48500", "wamid.2", "storm"),
    ]


async def test_a_turns_events_and_its_message_outcome_commit_together(store: EventStore) -> None:
    msg = InboundMessage(channel="widget", sender_id="ana", text="hello", message_id="m1")
    assert await store.record_inbound(msg)
    seqs = await store.append(
        "widget:ana",
        [UserUttered(text="hello"), BotUttered(text="Welcome!")],
        outcome=("m1", "processed", None),
    )
    assert seqs == [1, 2]
    assert await store.pending_inbound() == []
    # an outcome with no events still marks the message
    other = InboundMessage(channel="widget", sender_id="ana", text="?", message_id="m2")
    assert await store.record_inbound(other)
    assert await store.append("widget:ana", [], outcome=("m2", "failed", "boom")) == []
    assert await store.pending_inbound() == []


async def test_pending_messages_survive_a_restart(database: Database, store: EventStore) -> None:
    t0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    first = InboundMessage(
        channel="telegram",
        sender_id="77",
        text="Cześć! Czy jest wolny termin?",
        message_id="tg-1",
        attachments=[
            Attachment(kind="image", url="https://example.invalid/nails.jpg", mime_type="image/jpeg")
        ],
        metadata={"language": "pl"},
        received_at=t0,
    )
    done = InboundMessage(
        channel="telegram",
        sender_id="77",
        text="ok",
        message_id="tg-2",
        received_at=t0 + timedelta(seconds=5),
    )
    last = InboundMessage(
        channel="widget",
        sender_id="abc",
        text="hello",
        message_id="w-1",
        received_at=t0 + timedelta(seconds=9),
    )
    for msg in (last, done, first):  # arrival order in the table differs from received_at
        assert await store.record_inbound(msg)
    assert await store.mark_inbound("telegram:77", "tg-2", "processed")
    await store.close()  # the process dies here

    restarted = database.open()
    try:
        pending = await restarted.pending_inbound()
        assert pending == [first, last]  # oldest first, every field kept
        assert pending[0].received_at == t0
        assert await restarted.mark_inbound("telegram:77", "tg-1", "failed", error="TimeoutError: NLU")
        assert await restarted.pending_inbound() == [last]
        assert await restarted.mark_inbound("telegram:77", "missing", "processed") is False
        with pytest.raises(ValueError, match="status"):
            await restarted.mark_inbound("widget:abc", "w-1", "done")  # type: ignore[arg-type]
        async with restarted.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        inbound_messages.c.message_id,
                        inbound_messages.c.status,
                        inbound_messages.c.error,
                        inbound_messages.c.processed_at,
                    ).order_by(inbound_messages.c.received_at)
                )
            ).all()
        assert [(r.message_id, r.status, r.error) for r in rows] == [
            ("tg-1", "failed", "TimeoutError: NLU"),
            ("tg-2", "processed", None),
            ("w-1", "received", None),
        ]
        assert rows[0].processed_at is not None and rows[2].processed_at is None
    finally:
        await restarted.close()


async def test_conversations_are_listed_most_recent_first(store: EventStore) -> None:
    await store.append("widget:old", [BotUttered(text="a", timestamp=1_700_000_000.0)])
    await store.append("telegram:mid", [BotUttered(text="b", timestamp=1_700_000_100.0)])
    await store.append("widget:new", [BotUttered(text="c", timestamp=1_700_000_200.0)])
    await store.append(
        "widget:old",
        [BotUttered(text="d", timestamp=1_700_000_300.0), BotUttered(text="e", timestamp=1_700_000_301.0)],
    )
    page = await store.conversations(limit=2)
    assert [(c.id, c.channel, c.sender_id, c.last_seq) for c in page] == [
        ("widget:old", "widget", "old", 3),
        ("widget:new", "widget", "new", 1),
    ]
    assert page[0].updated_at == datetime.fromtimestamp(1_700_000_301.0, UTC)
    assert page[0].created_at.tzinfo is not None
    rest = await store.conversations(limit=2, offset=2)
    assert [c.id for c in rest] == ["telegram:mid"]


async def test_nul_characters_do_not_break_the_turn(store: EventStore) -> None:
    await store.append("widget:nul", [UserUttered(text="hi\x00there")])
    (stored,) = await store.events("widget:nul")
    expected = "hi\ufffdthere" if store.dialect == "postgresql" else "hi\x00there"  # JSONB cannot hold U+0000
    assert isinstance(stored, UserUttered) and stored.text == expected


async def test_store_reports_its_backend_and_schema(store: EventStore) -> None:
    await store.ping()
    assert store.dialect in ("sqlite", "postgresql")
    assert await store.schema_revision() == head_revision()


def test_plain_urls_get_async_drivers() -> None:
    assert async_url("sqlite:///state/concierge.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u:p%40ss@db/concierge").drivername == "postgresql+psycopg"
    assert async_url("postgres://u@db/concierge").drivername == "postgresql+psycopg"
    assert async_url("postgresql+psycopg://u@db/c", schema="t1").query == {"options": "-csearch_path=t1"}
    with pytest.raises(ConfigError, match="unsupported database"):
        async_url("mysql://u@db/concierge")
    with pytest.raises(ConfigError, match="PostgreSQL"):
        async_url("sqlite:///x.db", schema="t1")
    with pytest.raises(ConfigError, match="schema name"):
        async_url("postgresql://u@db/c", schema="x; DROP TABLE events")


async def test_in_memory_sqlite_serves_concurrent_callers() -> None:
    store = EventStore.from_url("sqlite://")  # one shared connection: handy for other modules' tests
    try:
        await store.migrate()
        msg = InboundMessage(channel="widget", sender_id="mem", text="hi", message_id="m1")
        results = await asyncio.gather(
            store.record_inbound(msg),
            *(store.append(f"widget:mem{i % 3}", [BotUttered(text=str(i))]) for i in range(15)),
            store.load("widget:mem0"),
        )
        assert results[0] is True
        for i in range(3):
            assert [s.seq for s in await store.load(f"widget:mem{i}")] == [1, 2, 3, 4, 5]
        assert [m.message_id for m in await store.pending_inbound()] == ["m1"]
    finally:
        await store.close()
