"""Never silent: while the bot owns a conversation every client message gets a reply or a
handoff; while a person owns it the bot sends nothing.

A small real project (NLU, rules, the core fallback, CSAT, handoff triggers, two agents,
a studio open all week) runs on the real engine and store. First the conversation of
issue 11 as a regression test: a trigger hands off, an agent claims and returns it, the
client types "5" at the CSAT question, the fallback's rewind used to bring the handoff's
pause back, and the bot said nothing ever again. Then a hypothesis state machine drives
random sequences of client messages, fallbacks, rewinds (``/back``), restarts, handoff
triggers, claims, transfers, resolutions and returns, checking the invariant at every
client message, and that no reply answers another message than the one just sent (the
rewind used to reach back past the handoff, and the bot answered the refund request again).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from actions.csat import THANKS, csat_payload, csat_question
from bot.engine import Engine
from bot.events import BotUttered, Event, HandoffStatus, UserUttered
from bot.models import InboundMessage
from handoff.runtime import HandoffRuntime
from tests.engine_support import database_url, project_engine, write_project

T = TypeVar("T")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Europe/Warsaw")).timestamp()

DOMAIN = """
version: "3.1"
intents: [greet, ask_hours, thank, refund, rate, csat, restart, back]
entities: [score]
responses:
  utter_greet:
  - text: "Welcome to Mariia Hub!"
  utter_hours:
  - text: "We are open every day."
  utter_welcome:
  - text: "You're welcome!"
  utter_refund:
  - text: "Refunds go back to your card within 5 days."
  utter_default:
  - text: "Sorry, I didn't get that."
  utter_restart:
  - text: "Let's start again."
  utter_back:
  - text: "Going back."
actions: [action_record_csat]
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
    - hello mariia hub
- intent: ask_hours
  examples: |
    - when are you open
    - what are your opening hours
    - are you open on sunday
    - what time do you close
    - opening times please
- intent: thank
  examples: |
    - thanks
    - thank you so much
    - cheers
    - great thanks
    - many thanks
- intent: refund
  examples: |
    - I want a refund for my massage
    - can I get my money back
    - refund please
    - I want my money back for the facial
    - how do refunds work
# no rule answers a bare rating: the core fallback does (utter_default, then a rewind)
- intent: rate
  examples: |
    - 5
    - 4
    - 3
    - five
    - I'd give it a 4
    - 5 out of 5
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
- rule: thank
  steps:
  - intent: thank
  - action: utter_welcome
- rule: refund
  steps:
  - intent: refund
  - action: utter_refund
- rule: csat
  steps:
  - intent: csat
  - action: action_record_csat
- rule: not understood
  steps:
  - intent: nlu_fallback
  - action: action_default_fallback
"""
CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: DIETClassifier
  epochs: 60
- name: FallbackClassifier
  threshold: 0.6
policies:
- name: RulePolicy
"""
HANDOFF = (
    "locations:\n  studio:\n    name: Studio\n    hours:\n"
    + "".join(f'      {day}: ["00:00-23:59"]\n' for day in WEEKDAYS)
    + "default_location: studio\nagents_file: agents.yml\n"
)
AGENTS = """
agents:
  - {id: anna.kowalska, name: Anna Kowalska, languages: [en], max_chats: 50, locations: [studio]}
  - {id: olena.shevchenko, name: Olena Shevchenko, languages: [en], max_chats: 50, locations: [studio]}
"""
AGENT_IDS = ("anna.kowalska", "olena.shevchenko")
ORDINARY = ("hello", "what are your opening hours", "thanks", "are you open on sunday")
NOT_UNDERSTOOD = ("5", "blorp zzq", "qwx vvk plm")  # "5" typed at the CSAT question
REFUND = "I want a refund for my massage"  # an immediate trigger (rule:refund)
#: what a client may send: questions, things the bot does not understand (its fallback
#: rewinds), going back (two rewinds), a restart, and CSAT taps (asked for or not)
CLIENT_TEXTS = (*ORDINARY, *NOT_UNDERSTOOD, "/back", "/restart", *(csat_payload(s) for s in (1, 3, 5)))
GREETING = "Welcome to Mariia Hub!"
HOURS = "We are open every day."
FALLBACK = "Sorry, I didn't get that."
GOING_BACK = "Going back."
#: the bot's own lines that answer each client text (handoff notices aside): any other line
#: in the turn answers another message, e.g. an old one a rewind brought back
ANSWERS: dict[str, frozenset[str]] = {
    "hello": frozenset({GREETING}),
    "what are your opening hours": frozenset({HOURS}),
    "are you open on sunday": frozenset({HOURS}),
    "thanks": frozenset({"You're welcome!"}),
    **{text: frozenset({FALLBACK}) for text in NOT_UNDERSTOOD},
    "/back": frozenset({GOING_BACK}),
    "/restart": frozenset({"Let's start again."}),
    **{csat_payload(score): frozenset({THANKS["en"]}) for score in (1, 3, 5)},
    REFUND: frozenset(),  # only the handoff's notice
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = {
        "domain.yml": DOMAIN,
        "config.yml": CONFIG,
        "data/nlu.yml": NLU,
        "data/rules.yml": RULES,
        "endpoints.yml": "",
        "handoff.yml": HANDOFF,
        "agents.yml": AGENTS,
    }
    return write_project(tmp_path_factory.mktemp("never_silent"), files)


class Clock:
    """The engine's clock: noon on a Tuesday, a second later at every reading."""

    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    """Which database the engine's log is on (PostgreSQL: a throwaway schema)."""
    return str(request.param)


@asynccontextmanager
async def handoff_engine(
    project: Path, state: Path, database: str, postgres_url: str
) -> AsyncIterator[Engine]:
    """The project's real engine (with its handoff runtime) on SQLite (in ``state``) or in a
    scratch PostgreSQL schema."""
    async with (
        database_url(database, postgres_url, "test_never_silent") as url,
        project_engine(project, state, url=url, clock=Clock()) as built,
    ):
        assert isinstance(built.hooks, HandoffRuntime)
        yield built


@pytest.fixture
async def engine(project: Path, tmp_path: Path, database: str, postgres_url: str) -> AsyncIterator[Engine]:
    async with handoff_engine(project, tmp_path, database, postgres_url) as built:
        yield built


def runtime(engine: Engine) -> HandoffRuntime:
    """The engine's turn hooks: the handoff runtime the composition root gave it."""
    assert isinstance(engine.hooks, HandoffRuntime)
    return engine.hooks


async def say(engine: Engine, sender: str, text: str) -> list[str]:
    """What the client reads after sending ``text``."""
    replies = await engine.handle(InboundMessage(channel="widget", sender_id=sender, text=text))
    return [r.text or "" for r in replies]


async def return_with_csat(engine: Engine, conversation_id: str, agent_id: str, *, resolve: bool) -> None:
    """What the console does: (resolve and) hand back to the bot, then ask for CSAT."""
    service = runtime(engine).service
    if resolve:
        await service.resolve(conversation_id, agent_id)
    await service.return_to_bot(conversation_id, agent_id)
    tracker = await engine.tracker(conversation_id)
    question = csat_question(tracker, engine.domain, engine.nlg, "widget", agent_id=agent_id)
    await engine.append(conversation_id, question)


async def test_a_fallback_after_a_return_to_the_bot_does_not_mute_the_conversation(engine: Engine) -> None:
    sender = uuid.uuid4().hex[:12]
    cid = f"widget:{sender}"
    assert await say(engine, sender, "hello") == [GREETING]
    handed_off = await say(engine, sender, REFUND)
    assert len(handed_off) == 1 and await runtime(engine).service.status(cid) == HandoffStatus.QUEUED
    assert await say(engine, sender, "hello?") == []  # queued: stored, not answered
    await runtime(engine).service.claim(cid, "anna.kowalska")
    await return_with_csat(engine, cid, "anna.kowalska", resolve=False)

    # the core fallback (no rule answers a bare rating): it says so, and the rewind that follows
    # must neither bring back the pause of the handoff the agent ended nor reach back past the
    # handoff to the refund request (the bot used to answer it again: a stale second reply)
    assert await say(engine, sender, "5") == [FALLBACK]
    assert await runtime(engine).service.status(cid) == HandoffStatus.BOT
    assert await say(engine, sender, "what are your opening hours") == [HOURS]
    assert await say(engine, sender, csat_payload(4)) == [THANKS["en"]]
    assert not (await engine.tracker(cid)).paused


@pytest.mark.parametrize(
    ("typed", "reply"),
    [("5", FALLBACK), ("blorp zzq", FALLBACK), ("/back", GOING_BACK)],
    ids=["rating", "gibberish", "back"],
)
@pytest.mark.parametrize("waited", [False, True], ids=["straight-back", "wrote-while-queued"])
@pytest.mark.parametrize("ask_csat", [False, True], ids=["no-csat", "csat"])
async def test_a_rewind_after_a_return_never_reaches_back_past_the_handoff(
    engine: Engine, typed: str, reply: str, waited: bool, ask_csat: bool
) -> None:
    """The first message after the return is rewound (a fallback, or the client going back):
    the client reads that one line, never a second answer to the refund request or to what
    it wrote while a person owned the conversation; the next question gets its own answer."""
    sender = uuid.uuid4().hex[:12]
    cid = f"widget:{sender}"
    assert await say(engine, sender, "hello") == [GREETING]
    assert len(await say(engine, sender, REFUND)) == 1
    if waited:
        assert await say(engine, sender, "what are your opening hours") == []
    await runtime(engine).service.claim(cid, "olena.shevchenko")
    if ask_csat:
        await return_with_csat(engine, cid, "olena.shevchenko", resolve=True)
    else:
        await runtime(engine).service.return_to_bot(cid, "olena.shevchenko")

    assert await say(engine, sender, typed) == [reply]
    assert await say(engine, sender, "thanks") == ["You're welcome!"]
    assert await runtime(engine).service.status(cid) == HandoffStatus.BOT


async def test_a_rewind_at_the_start_of_a_session_is_answered_once(engine: Engine) -> None:
    """A fallback on a conversation's first message, or just after a restart, rewinds to the
    session's start: one "didn't get that", then the bot listens (it used to fall back again
    and again, ten times, until the turn's prediction limit)."""
    first = uuid.uuid4().hex[:12]
    assert await say(engine, first, "blorp zzq") == [FALLBACK]
    assert await say(engine, first, "hello") == [GREETING]
    restarted = uuid.uuid4().hex[:12]
    assert await say(engine, restarted, "hello") == [GREETING]
    assert await say(engine, restarted, "/restart") == ["Let's start again."]
    assert await say(engine, restarted, "5") == [FALLBACK]
    assert await say(engine, restarted, "/back") == [GOING_BACK]
    assert await say(engine, restarted, "are you open on sunday") == [HOURS]


# ---- the property ------------------------------------------------------------------------------
class NeverSilent(RuleBasedStateMachine):
    """One conversation per example on the shared engine; ``loop`` runs the engine's coroutines."""

    engine: Engine
    loop: asyncio.AbstractEventLoop

    def __init__(self) -> None:
        super().__init__()
        self.sender = uuid.uuid4().hex[:12]
        self.cid = f"widget:{self.sender}"
        self.status = HandoffStatus.BOT
        self.holder: str | None = None

    def run(self, coroutine: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coroutine)  # type: ignore[arg-type]

    async def _log(self) -> list[Event]:
        return await self.engine.store.events(self.cid)

    def refresh(self) -> None:
        ticket = self.run(runtime(self.engine).service.ticket(self.cid))
        self.status, self.holder = ticket.status, ticket.assigned_to

    def client(self, text: str) -> None:
        """The client sends ``text``; the invariant is checked against the log's own status."""
        before, stored = self.status, len(self.run(self._log()))
        replies = self.run(say(self.engine, self.sender, text))
        self.refresh()
        new = self.run(self._log())[stored:]
        assert any(isinstance(e, UserUttered) and e.text == text for e in new), "the message was stored"
        if before == HandoffStatus.BOT:
            assert replies or self.status != HandoffStatus.BOT, (
                f"the bot owned it and said nothing to {text!r}"
            )
            self.answers_only(text, new, replies)
        else:
            assert replies == [], f"a person owns it ({before}) and the bot answered {text!r}: {replies}"
            assert not any(isinstance(e, BotUttered) for e in new)
            assert self.status == before

    @staticmethod
    def answers_only(text: str, new: list[Event], replies: list[str]) -> None:
        """Every line of the turn follows the client's message and answers it (or is the
        handoff's notice), each at most once: never an answer to an earlier message."""
        user = max(i for i, e in enumerate(new) if isinstance(e, UserUttered) and e.text == text)
        lines = [(i, e) for i, e in enumerate(new) if isinstance(e, BotUttered)]
        assert [e.text for _, e in lines] == replies, "the client reads the turn's lines"
        assert all(i > user for i, _ in lines), f"a line of the turn came before {text!r}"
        own = [e.text or "" for _, e in lines if "handoff" not in e.metadata]
        stale = [line for line in own if line not in ANSWERS[text]]
        assert not stale, f"{text!r} got {stale}: an answer to another message"
        assert len(own) == len(set(own)), f"{text!r} was answered twice: {own}"

    @initialize()
    def greet(self) -> None:
        self.client("hello")

    @rule(text=st.sampled_from(CLIENT_TEXTS))
    def client_sends(self, text: str) -> None:
        self.client(text)

    @rule()
    def client_asks_for_a_refund(self) -> None:
        self.client(REFUND)  # hands off at once while the bot owns it

    @precondition(lambda self: self.status == HandoffStatus.QUEUED)
    @rule(agent=st.sampled_from(AGENT_IDS))
    def agent_claims(self, agent: str) -> None:
        self.run(runtime(self.engine).service.claim(self.cid, agent))
        self.refresh()
        assert (self.status, self.holder) == (HandoffStatus.ASSIGNED, agent)

    @precondition(lambda self: self.status == HandoffStatus.ASSIGNED)
    @rule()
    def agent_transfers(self) -> None:
        assert self.holder is not None
        self.run(runtime(self.engine).service.transfer(self.cid, self.holder))
        self.refresh()
        assert self.status == HandoffStatus.QUEUED

    @precondition(lambda self: self.status == HandoffStatus.ASSIGNED)
    @rule()
    def agent_resolves(self) -> None:
        assert self.holder is not None
        self.run(return_with_csat(self.engine, self.cid, self.holder, resolve=True))
        self.refresh()
        assert self.status == HandoffStatus.BOT

    @precondition(lambda self: self.status in (HandoffStatus.QUEUED, HandoffStatus.ASSIGNED))
    @rule(ask_csat=st.booleans())
    def agent_returns_it_to_the_bot(self, ask_csat: bool) -> None:
        if self.status == HandoffStatus.ASSIGNED and ask_csat:
            assert self.holder is not None
            self.run(return_with_csat(self.engine, self.cid, self.holder, resolve=False))
        else:
            self.run(runtime(self.engine).service.return_to_bot(self.cid, "kasia"))
        self.refresh()
        assert self.status == HandoffStatus.BOT


@pytest.fixture
def machine_loop(
    project: Path, tmp_path: Path, database: str, postgres_url: str
) -> Iterator[tuple[Engine, asyncio.AbstractEventLoop]]:
    """The engine on an event loop of its own, which the (synchronous) state machine drives."""
    loop = asyncio.new_event_loop()
    opened = handoff_engine(project, tmp_path, database, postgres_url)
    engine = loop.run_until_complete(opened.__aenter__())
    try:
        yield engine, loop
    finally:
        loop.run_until_complete(opened.__aexit__(None, None, None))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def test_while_the_bot_owns_it_every_message_is_answered_and_while_a_person_does_nothing_is(
    machine_loop: tuple[Engine, asyncio.AbstractEventLoop],
) -> None:
    NeverSilent.engine, NeverSilent.loop = machine_loop
    run_state_machine_as_test(
        NeverSilent,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,  # no example database in the tree; failures print their steps
            # every step is a real turn: shrinking a failure would outlast the test's timeout,
            # so a failure is reported as found (its steps are printed)
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
