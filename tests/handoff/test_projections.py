"""The handoff read models equal what folding the log gives: after random appends, after a
rebuild, and after a rebuild of tampered rows; on a real SQLite file and real PostgreSQL."""

from __future__ import annotations

import random

from sqlalchemy import select, update

from bot.events import (
    ActionExecuted,
    BotUttered,
    Event,
    HandoffRequested,
    HandoffStatusChanged,
    IntentPrediction,
    ParseData,
    SentimentScore,
    SlotSet,
    UserUttered,
)
from bot.store import EventStore
from handoff.ledger import HandoffLedger
from handoff.projections import (
    ConversationFacts,
    TicketRow,
    conversation_facts,
    conversation_facts_of,
    handoff_projectors,
    handoff_tickets,
    register_handoff_projections,
    ticket_from_row,
    ticket_row_of,
)
from handoff.state import HandoffStatus

STATUSES = [s.value for s in HandoffStatus]


def random_batch(rng: random.Random, clock: list[float]) -> list[Event]:
    """One to four events of the kinds the read models follow, and some they ignore."""
    batch: list[Event] = []
    for _ in range(rng.randint(1, 4)):
        clock[0] += rng.uniform(0.5, 30)
        at = clock[0]
        kind = rng.choice(["user", "user", "bot", "agent", "slot", "other", "request", "move"])
        if kind == "user":
            sentiment = SentimentScore.of(rng.uniform(-1, 1)) if rng.random() < 0.7 else None
            text = rng.choice(["", "hello", "I need help " * rng.randint(1, 20)])
            metadata = {"title": "Subject line"} if rng.random() < 0.1 else {}
            parse = ParseData(
                text=text,
                intent=IntentPrediction(name="greet", confidence=0.9),
                language=rng.choice([None, "en", "pl", "uk"]),
                sentiment=sentiment,
            )
            batch.append(UserUttered(text=text, parse_data=parse, metadata=metadata, timestamp=at))
        elif kind == "bot":
            batch.append(BotUttered(text="bot line", metadata={"sender": "bot"}, timestamp=at))
        elif kind == "agent":
            batch.append(BotUttered(text="agent line", metadata={"sender": "agent"}, timestamp=at))
        elif kind == "slot":
            name = rng.choice(["client_id", "tier", "language", "cuisine"])
            value = rng.choice([None, "", "c-1", "vip", "pl", "c-2"])
            batch.append(SlotSet(name=name, value=value, timestamp=at))
        elif kind == "other":
            batch.append(ActionExecuted(name="action_listen", timestamp=at))
        elif kind == "request":
            batch.append(HandoffRequested(reason=rng.choice(["sentiment", "client_request"]), timestamp=at))
        else:
            frm, to = rng.choice(STATUSES), rng.choice(STATUSES)
            metadata = {}
            if rng.random() < 0.5:
                metadata["agent_id"] = rng.choice(["anna", "olena"])
            if rng.random() < 0.5:
                metadata["routing"] = "anna speaks Polish"
            batch.append(
                HandoffStatusChanged(
                    from_status=frm, to_status=to, actor="bot", reason="r", metadata=metadata, timestamp=at
                )
            )
    return batch


async def stored_tickets(store: EventStore) -> dict[str, TicketRow]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(handoff_tickets))).all()
    return {row.conversation_id: ticket_from_row(row) for row in rows}


async def stored_facts(store: EventStore) -> dict[str, ConversationFacts]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(conversation_facts))).mappings().all()
    return {row["conversation_id"]: ConversationFacts.model_validate(dict(row)) for row in rows}


async def folded(
    store: EventStore, ids: list[str]
) -> tuple[dict[str, TicketRow], dict[str, ConversationFacts]]:
    """Both read models as folding each conversation's whole log gives them."""
    tickets: dict[str, TicketRow] = {}
    facts: dict[str, ConversationFacts] = {}
    for cid in ids:
        log = await store.load(cid)
        ticket = ticket_row_of(cid, log)
        if ticket is not None:
            tickets[cid] = ticket
        fact = conversation_facts_of(cid, log)
        if fact is not None:
            facts[cid] = fact
    return tickets, facts


async def test_read_models_equal_the_fold_after_random_appends_and_after_a_rebuild(
    event_store: EventStore,
) -> None:
    for projector in handoff_projectors():
        event_store.add_projector(projector)
    ids = [f"widget:c{i}" for i in range(12)] + ["email:x@example.com"]
    for seed in range(3):
        rng = random.Random(seed)
        clock = [1_700_000_000.0 + seed * 100_000]
        for _ in range(60):
            await event_store.append(rng.choice(ids), random_batch(rng, clock))
        tickets, facts = await folded(event_store, ids)
        assert tickets, "the random log must contain handoffs"
        assert await stored_tickets(event_store) == tickets
        assert await stored_facts(event_store) == facts

        # tamper with the rows, then rebuild from the log: the same read models come back
        async with event_store.engine.begin() as conn:
            await conn.execute(update(handoff_tickets).values(status="queued", assigned_to="mallory"))
            await conn.execute(update(conversation_facts).values(outcome="resolved", sentiment_scores=[]))
        assert await event_store.rebuild_projections() == len(ids)
        assert await stored_tickets(event_store) == tickets
        assert await stored_facts(event_store) == facts


async def test_the_ledger_answers_from_the_tickets_as_the_log_says(event_store: EventStore) -> None:
    for projector in handoff_projectors():
        event_store.add_projector(projector)
    rng = random.Random(7)
    clock = [1_700_000_000.0]
    ids = [f"widget:l{i}" for i in range(15)]
    for _ in range(80):
        await event_store.append(rng.choice(ids), random_batch(rng, clock))
    latest_by_log: dict[str, HandoffStatusChanged] = {}
    for cid in ids:
        changes = [e for e in await event_store.events(cid) if isinstance(e, HandoffStatusChanged)]
        if changes:
            latest_by_log[cid] = changes[-1]
    ledger = HandoffLedger(event_store.engine)
    assert await ledger.latest() == latest_by_log
    queued = sorted((e.timestamp, cid) for cid, e in latest_by_log.items() if e.to_status == "queued")
    assert await ledger.in_status(HandoffStatus.QUEUED) == [cid for _, cid in queued]
    tickets, _ = await folded(event_store, ids)
    held = {cid: t.ticket.assigned_to for cid, t in tickets.items() if t.ticket.status == "assigned"}
    assert await ledger.assigned() == held
    loads: dict[str, int] = {}
    for agent in held.values():
        loads[str(agent)] = loads.get(str(agent), 0) + 1
    assert dict(await ledger.loads()) == loads


async def test_facts_of_a_handed_off_conversation(event_store: EventStore) -> None:
    for projector in handoff_projectors():
        event_store.add_projector(projector)
    cid = "whatsapp:+48600100200"
    parse = ParseData(text="hi", language="pl", sentiment=SentimentScore.of(0.6))
    angry = ParseData(text="still broken", language="pl", sentiment=SentimentScore.of(-0.8))
    await event_store.append(
        cid,
        [
            SlotSet(name="client_id", value="c-42", timestamp=10.0),
            SlotSet(name="tier", value="vip", timestamp=10.0),
            UserUttered(text="hi", parse_data=parse, timestamp=10.0),
            BotUttered(text="Hello!", metadata={"sender": "bot"}, timestamp=11.5),
        ],
    )
    await event_store.append(
        cid,
        [
            UserUttered(text="still broken", parse_data=angry, timestamp=20.0),
            HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", timestamp=21.0),
            HandoffStatusChanged(
                from_status="queued",
                to_status="assigned",
                actor="anna",
                metadata={"agent_id": "anna"},
                timestamp=30.0,
            ),
            BotUttered(text="Anna here", metadata={"sender": "agent"}, timestamp=40.0),
            HandoffStatusChanged(from_status="assigned", to_status="resolved", actor="anna", timestamp=50.0),
        ],
    )
    facts = (await stored_facts(event_store))[cid]
    assert (facts.channel, facts.client_id, facts.tier, facts.language) == ("whatsapp", "c-42", "vip", "pl")
    assert (facts.first_user_at, facts.last_user_at, facts.first_response_at) == (10.0, 20.0, 11.5)
    assert (facts.outcome, facts.handoffs) == ("resolved", 1)
    assert (facts.sentiment_start, facts.sentiment_end, facts.sentiment_label) == (0.6, -0.8, "negative")
    assert facts.last_client_text == "still broken"
    ticket = (await stored_tickets(event_store))[cid].ticket
    assert (ticket.status, ticket.queued_at, ticket.first_response_at, ticket.resolved_at) == (
        "resolved",
        21.0,
        40.0,
        50.0,
    )
    assert ticket.first_response_seconds == 19.0


async def test_a_database_with_history_is_backfilled_when_the_read_models_are_registered(
    event_store: EventStore,
) -> None:
    cid = "widget:old"
    await event_store.append(
        cid,
        [
            UserUttered(text="help", timestamp=1.0),
            HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", timestamp=2.0),
        ],
    )  # written before anyone kept the read models
    assert await stored_tickets(event_store) == {}
    await register_handoff_projections(event_store)
    await register_handoff_projections(event_store)  # a second wiring registers nothing twice
    assert [p.name for p in event_store.projectors] == [
        "handoff_tickets",
        "conversation_facts",
        "agent_replies",
        "quality_scores",
    ]
    assert await HandoffLedger(event_store.engine).in_status(HandoffStatus.QUEUED) == [cid]
    assert (await stored_facts(event_store))[cid].first_user_at == 1.0


async def test_deleting_a_conversation_deletes_its_read_model_rows(event_store: EventStore) -> None:
    from bot.store.tables import conversations

    for projector in handoff_projectors():
        event_store.add_projector(projector)
    await event_store.append(
        "widget:gone",
        [
            UserUttered(text="erase me", timestamp=1.0),
            HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", timestamp=2.0),
        ],
    )
    async with event_store.engine.begin() as conn:
        await conn.execute(conversations.delete().where(conversations.c.id == "widget:gone"))
    assert await stored_tickets(event_store) == {}
    assert await stored_facts(event_store) == {}
