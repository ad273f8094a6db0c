"""Handoff transitions applied to real event logs: the store on SQLite/PostgreSQL, and the real engine."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.events import (
    ConversationPaused,
    ConversationResumed,
    Event,
    HandoffRequested,
    HandoffStatusChanged,
    UserUttered,
)
from bot.models import InboundMessage
from bot.store import EventStore, scratch_schema
from handoff.service import EngineLog, HandoffService
from handoff.state import HandoffStatus, IllegalTransition
from handoff.triggers import TriggerHit
from tests.engine_support import project_engine, write_project
from tests.handoff.claim_race import RacingLog, claim_each, claim_in_own_process

CID = "widget:ola"


async def test_a_full_handoff_is_written_to_the_log(event_store: EventStore) -> None:
    service = HandoffService(event_store, clock=iter(range(1000, 2000, 10)).__next__)  # type: ignore[arg-type]
    await service.request(CID, "rule:vip_complaint", "VIP complaining about colour")
    await service.claim(CID, "anna.kowalska")
    await service.transfer(CID, "anna.kowalska", "needs a skin specialist")
    await service.claim(CID, "olena.shevchenko", by="katarzyna.zielinska")
    await service.resolve(CID, "olena.shevchenko")
    await service.return_to_bot(CID, "olena.shevchenko")

    stored = await event_store.events(CID)
    changes = [
        (e.from_status, e.to_status, e.actor, e.reason) for e in stored if isinstance(e, HandoffStatusChanged)
    ]
    assert changes == [
        ("bot", "queued", "bot", "rule:vip_complaint"),
        ("queued", "assigned", "anna.kowalska", "claimed"),
        ("assigned", "queued", "anna.kowalska", "needs a skin specialist"),
        ("queued", "assigned", "katarzyna.zielinska", "assigned by katarzyna.zielinska"),
        ("assigned", "resolved", "olena.shevchenko", "resolved"),
        ("resolved", "bot", "olena.shevchenko", "returned to bot"),
    ]
    assert [type(e) for e in stored[:3]] == [HandoffRequested, HandoffStatusChanged, ConversationPaused]
    assert isinstance(stored[-1], ConversationResumed)
    assert await service.status(CID) == HandoffStatus.BOT
    t = await service.ticket(CID)
    assert (t.reason, t.detail, t.queued_at, t.resolved_at) == (
        "rule:vip_complaint",
        "VIP complaining about colour",
        1000.0,
        1040.0,
    )


async def test_an_illegal_move_writes_nothing(event_store: EventStore) -> None:
    service = HandoffService(event_store)
    with pytest.raises(IllegalTransition, match="from bot to assigned"):
        await service.claim(CID, "anna.kowalska")
    with pytest.raises(IllegalTransition):
        await service.resolve(CID, "anna.kowalska")
    assert await event_store.events(CID) == []
    await service.request(CID, "client_request")
    before = await event_store.events(CID)
    with pytest.raises(IllegalTransition, match="from queued to queued"):
        await service.request(CID, "client_request")
    assert await event_store.events(CID) == before


async def test_two_agents_claiming_at_once_only_one_wins(event_store: EventStore) -> None:
    service = HandoffService(event_store)
    await service.request(CID, "client_request")
    results = await asyncio.gather(
        service.claim(CID, "anna.kowalska"), service.claim(CID, "olena.shevchenko"), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["IllegalTransition", "list"]
    claims = [
        e
        for e in await event_store.events(CID)
        if isinstance(e, HandoffStatusChanged) and e.to_status == "assigned"
    ]
    assert len(claims) == 1


def assigned_moves(events: list[Event]) -> list[HandoffStatusChanged]:
    return [e for e in events if isinstance(e, HandoffStatusChanged) and e.to_status == "assigned"]


async def test_a_hundred_double_claims_that_read_the_same_state_each_have_exactly_one_winner(
    event_store: EventStore,
) -> None:
    """Two services (nothing shared but the database) read each conversation before either
    writes: the database's seq check, not a lock, decides; the loser re-reads and is told
    who holds it."""
    ids = [f"widget:race{i}" for i in range(100)]
    for cid in ids:
        await HandoffService(event_store).request(cid, "client_request")
    barrier = asyncio.Barrier(2)
    anna = HandoffService(RacingLog(event_store, barrier.wait))
    olena = HandoffService(RacingLog(event_store, barrier.wait))
    outcomes = await asyncio.gather(
        claim_each(anna, "anna.kowalska", ids), claim_each(olena, "olena.shevchenko", ids)
    )
    for cid in ids:
        results = sorted([outcomes[0][cid], outcomes[1][cid]])
        [claim] = assigned_moves(await event_store.events(cid))  # exactly one move to "assigned"
        winner = claim.actor
        assert results == ["lost:" + winner, "won"], (cid, results)
    wins = [sum(o == "won" for o in outcome.values()) for outcome in outcomes]
    assert sum(wins) == 100


async def test_two_processes_with_their_own_stores_race_a_hundred_claims_and_one_wins_each(
    postgres_url: str,
) -> None:
    """Two OS processes, each with its own EventStore on one PostgreSQL schema, claim the same
    100 queued conversations, both reading each one before either writes."""
    async with scratch_schema(postgres_url, "test_claim_race") as schema:
        store = EventStore.from_url(postgres_url, schema=schema)
        try:
            await store.migrate()
            ids = [f"widget:proc{i}" for i in range(100)]
            for cid in ids:
                await HandoffService(store).request(cid, "client_request")
            context = multiprocessing.get_context("spawn")
            barrier, results = context.Barrier(2), context.Queue()
            workers = [
                context.Process(
                    target=claim_in_own_process, args=(postgres_url, schema, agent, ids, barrier, results)
                )
                for agent in ("anna.kowalska", "olena.shevchenko")
            ]
            for worker in workers:
                worker.start()
            try:
                outcomes = dict(await asyncio.to_thread(lambda: [results.get(timeout=240) for _ in workers]))
            finally:
                for worker in workers:
                    await asyncio.to_thread(worker.join, 30)
            assert [w.exitcode for w in workers] == [0, 0], outcomes
            assert set(outcomes) == {"anna.kowalska", "olena.shevchenko"}
            for cid in ids:
                [claim] = assigned_moves(await store.events(cid))
                results_for = sorted(outcome[cid] for outcome in outcomes.values())
                assert results_for == ["lost:" + claim.actor, "won"], (cid, results_for)
        finally:
            await store.close()


async def test_a_move_retries_after_an_unrelated_write_and_still_checks_the_table(
    event_store: EventStore,
) -> None:
    """A client's message lands between the claim's read and its append: the claim reads
    again, the conversation is still queued, and the claim goes through once."""
    await HandoffService(event_store).request(CID, "client_request")

    async def client_writes_meanwhile() -> None:
        await event_store.append(CID, [UserUttered(text="hello? anyone?")])

    service = HandoffService(RacingLog(event_store, client_writes_meanwhile))
    await service.claim(CID, "anna.kowalska")
    stored = await event_store.events(CID)
    assert len(assigned_moves(stored)) == 1
    assert [type(e).__name__ for e in stored[-2:]] == ["UserUttered", "HandoffStatusChanged"]


async def test_the_loser_of_a_claim_is_told_who_holds_the_conversation(event_store: EventStore) -> None:
    service = HandoffService(event_store)
    await service.request(CID, "client_request")
    await service.claim(CID, "anna.kowalska")
    with pytest.raises(IllegalTransition, match=r"held by anna\.kowalska") as lost:
        await service.claim(CID, "olena.shevchenko")
    assert (lost.value.holder, lost.value.current) == ("anna.kowalska", HandoffStatus.ASSIGNED)


async def test_escalate_uses_the_first_hit_and_only_while_the_bot_owns_it(event_store: EventStore) -> None:
    service = HandoffService(event_store)
    assert await service.escalate(CID, []) == []
    hits = [
        TriggerHit(reason="rule:safety", explanation="an allergic reaction: swelling"),
        TriggerHit(reason="sentiment", explanation="falling"),
    ]
    written = await service.escalate(CID, hits)
    requested = written[0]
    assert isinstance(requested, HandoffRequested)
    assert (requested.reason, requested.detail) == ("rule:safety", "an allergic reaction: swelling")
    assert written[1].metadata == {"also": ["sentiment"]}
    assert await service.escalate(CID, hits) == []  # already queued: nothing more is written
    assert len(await event_store.events(CID)) == len(written)


# ---- the real engine: the bot is silent while a human owns the conversation -----------------------
DOMAIN = """
version: "3.1"
intents: [greet, ask_hours]
responses:
  utter_greet:
  - text: "Welcome to Mariia Hub!"
  utter_hours:
  - text: "We are open 9:00-21:00."
  utter_default:
  - text: "Sorry, I didn't get that."
"""
NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - good morning
    - hey there
- intent: ask_hours
  examples: |
    - when are you open
    - what are your opening hours
    - are you open on sunday
    - what time do you close
"""
RULES = """
version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: hours
  steps:
  - intent: ask_hours
  - action: utter_hours
"""
CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: DIETClassifier
policies:
- name: RulePolicy
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = {
        "domain.yml": DOMAIN,
        "config.yml": CONFIG,
        "data/nlu.yml": NLU,
        "data/rules.yml": RULES,
        "endpoints.yml": "",
    }
    return write_project(tmp_path_factory.mktemp("handoff_bot"), files)


@pytest.fixture
async def engine(project: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    async with project_engine(project, tmp_path) as built:
        yield built


def says(text: str) -> InboundMessage:
    return InboundMessage(channel="widget", sender_id="ola", text=text)


async def test_the_engine_stays_silent_while_a_human_owns_the_conversation(engine: Engine) -> None:
    service = HandoffService(EngineLog(engine))
    assert [r.text for r in await engine.handle(says("hello"))] == ["Welcome to Mariia Hub!"]

    await service.request(CID, "client_request", "asked for a person")
    assert await engine.handle(says("when are you open")) == []
    await service.claim(CID, "anna.kowalska")
    assert await engine.handle(says("hello?")) == []
    assert (await engine.tracker(CID)).handoff_status == "assigned"

    await service.return_to_bot(CID, "anna.kowalska")
    assert [r.text for r in await engine.handle(says("when are you open"))] == ["We are open 9:00-21:00."]
    texts = [e.text for e in await engine.store.events(CID) if isinstance(e, UserUttered)]
    assert texts == [
        "hello",
        "when are you open",
        "hello?",
        "when are you open",
    ]  # nothing the client said is lost
