"""Two engines on one store whose turns overlap (a conversation lock lost, e.g. Redis restarted
without persistence mid-turn): the turn's append carries the seq its tracker was read at, so
the second turn to commit is decided again on the new log and never interleaves.

Each engine has its own in-process lock store, so nothing keeps their turns apart but the
store; an action holds the first two turns of a round until both have read the log. Real
SQLite file and PostgreSQL; the replies are outbox rows of a push channel, written in the
append's transaction, so a turn that conflicted sent nothing.
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import APIRouter

from bot.channels.base import ChannelSection, MessageHandler, PushChannel
from bot.channels.outbox import Outbox, RateLimit
from bot.channels.outbox_projection import OutboxProjector, outbox_key
from bot.engine import Engine
from bot.errors import ConcurrencyConflict
from bot.events import AgentNoteAdded, BotUttered, UserUttered
from bot.models import InboundMessage, OutboundMessage
from tests.engine_support import database_url, project_engine, write_project

DOMAIN = """
version: "3.1"
intents: [chat]
actions: [action_count]
"""
NLU = """
version: "3.1"
nlu:
- intent: chat
  examples: |
    - hello
    - one more thing
    - and another
    - tell me
    - what else
"""
RULES = """
version: "3.1"
rules:
- rule: every message is counted
  steps:
  - intent: chat
  - action: action_count
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
ACTIONS = '''
import asyncio

from actions.sdk import Action


class Rendezvous:
    """Holds the first ``parties`` turns to arrive until all have; later ones pass at once."""

    def __init__(self, parties: int = 0) -> None:
        self.parties = parties
        self.arrived = 0
        self.all_in = asyncio.Event()

    async def arrive(self) -> None:
        if self.arrived >= self.parties:
            return
        self.arrived += 1
        if self.arrived == self.parties:
            self.all_in.set()
        await self.all_in.wait()


GATE = Rendezvous()
RUNS = []
INTERFERE = None  # set by a test: another writer's append while a turn decides


class ActionCount(Action):
    """Says which message this is, counted in the log the turn was decided on."""

    def name(self):
        return "action_count"

    async def run(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text")
        RUNS.append(text)
        await GATE.arrive()
        if INTERFERE is not None:
            await INTERFERE()
        count = sum(1 for e in tracker.events if e.get("event") == "user")
        dispatcher.utter_message(text=f"{text} is message {count}")
        return []
'''
CHANNEL = "pushy"


class PushyChannel(PushChannel):
    """A push channel whose replies go out through the outbox (nothing is delivered here)."""

    name = CHANNEL

    def __init__(self) -> None:
        super().__init__(ChannelSection(rate_limit=RateLimit(per_second=1000, burst=1000)))

    def router(self, handler: MessageHandler) -> APIRouter:
        return APIRouter()

    async def deliver(self, message: OutboundMessage) -> str | None:
        return None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = {
        "domain.yml": DOMAIN,
        "config.yml": CONFIG,
        "data/nlu.yml": NLU,
        "data/rules.yml": RULES,
        "race_test_actions.py": textwrap.dedent(ACTIONS),
        "endpoints.yml": "action_endpoint:\n  actions_module: race_test_actions\n",
    }
    return write_project(tmp_path_factory.mktemp("race"), files)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engines(
    request: pytest.FixtureRequest,
    project: Path,
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Engine, Engine]]:
    """Two engines, each with its own store, locks and snapshots, on one database (a SQLite
    file or a scratch PostgreSQL schema), both writing the push channel's outbox rows."""
    monkeypatch.syspath_prepend(str(project))
    async with (
        database_url(str(request.param), postgres_url, "test_engine_race") as url,
        project_engine(project, tmp_path, url=url) as one,
        project_engine(project, tmp_path, url=url) as two,
    ):
        for engine in (one, two):
            OutboxProjector.install(engine.store, {CHANNEL: PushyChannel()})
        yield one, two


def actions_module():  # type: ignore[no-untyped-def]
    import race_test_actions  # the project's actions module (on sys.path in these tests)

    return race_test_actions


def says(sender: str, text: str) -> InboundMessage:
    return InboundMessage(channel=CHANNEL, sender_id=sender, text=text, message_id=uuid.uuid4().hex)


async def race(*turns: object) -> list[object]:
    """Run the turns at once, the first two held until both have read the log."""
    actions_module().GATE = actions_module().Rendezvous(2)
    return await asyncio.wait_for(asyncio.gather(*turns), 120)  # type: ignore[arg-type]


async def check_coherent(engine: Engine, conversation_id: str, texts: list[str]) -> None:
    """The log holds each message once, each followed by its one reply, which counts it
    where it stands in the log (decided on the log it follows); the outbox has one row per
    reply, keyed by the reply's seq."""
    stored = await engine.store.load(conversation_id)
    said = [s.event.text for s in stored if isinstance(s.event, UserUttered)]
    assert sorted(said) == sorted(texts) and len(said) == len(texts)
    lines = [s for s in stored if isinstance(s.event, BotUttered)]
    assert [s.event.text for s in lines] == [f"{text} is message {n}" for n, text in enumerate(said, 1)]
    kinds = [s.event.event for s in stored if s.event.event in ("user", "bot")]
    assert kinds == ["user", "bot"] * len(texts), "turns interleaved"
    rows = await Outbox(engine.store.engine).rows()
    mine = sorted(r.idempotency_key for r in rows if r.idempotency_key.startswith(f"{conversation_id}:"))
    assert mine == sorted(outbox_key(conversation_id, s.seq) for s in lines)


async def test_two_engines_answering_one_conversation_at_once_never_interleave(
    engines: tuple[Engine, Engine],
) -> None:
    one, two = engines
    sender = f"ana-{uuid.uuid4().hex[:8]}"
    cid = f"{CHANNEL}:{sender}"
    texts: list[str] = []
    assert [r.text for r in await one.handle(says(sender, "hello"))] == ["hello is message 1"]
    texts.append("hello")
    for round_ in range(4):
        first, second = f"tell me {round_}a", f"tell me {round_}b"
        actions_module().RUNS.clear()
        replies = await race(one.handle(says(sender, first)), two.handle(says(sender, second)))
        texts += [first, second]
        answered = [[r.text for r in batch] for batch in replies]  # type: ignore[attr-defined]
        assert all(len(batch) == 1 for batch in answered), answered  # one reply each
        # both turns ran, held together: one committed, the other was decided again
        assert len(actions_module().RUNS) == 3
        await check_coherent(one, cid, texts)
    await check_coherent(two, cid, texts)


async def test_one_message_run_by_two_engines_at_once_is_answered_once(
    engines: tuple[Engine, Engine],
) -> None:
    """A stored message picked by two processes at once (a recovery sweep and its own turn
    on a lost lock): the second to commit finds it answered and sends nothing."""
    one, two = engines
    sender = f"bo-{uuid.uuid4().hex[:8]}"
    cid = f"{CHANNEL}:{sender}"
    message = says(sender, "hello")
    assert await one.receive(message)
    replies = await race(one.process(message), two.process(message))
    answered = sorted(([r.text for r in batch] for batch in replies), key=len)  # type: ignore[attr-defined]
    assert answered == [[], ["hello is message 1"]]
    await check_coherent(two, cid, ["hello"])
    assert await one.store.pending_inbound() == []


async def test_a_turn_that_keeps_conflicting_gives_up_after_three_attempts_and_sends_nothing(
    engines: tuple[Engine, Engine],
) -> None:
    """Another writer appends while every attempt decides: the turn is decided three times,
    then the conflict is raised; nothing of it is stored or queued, and the message is still
    unanswered, so the recovery sweep's run (here: process) answers it once."""
    one, two = engines
    sender = f"cy-{uuid.uuid4().hex[:8]}"
    cid = f"{CHANNEL}:{sender}"
    module = actions_module()
    module.GATE, module.RUNS[:] = module.Rendezvous(), []

    async def interfere() -> None:
        await two.store.append(cid, [AgentNoteAdded(text="on it", author="anna.kowalska")])

    message = says(sender, "hello")
    module.INTERFERE = interfere
    try:
        with pytest.raises(ConcurrencyConflict):
            await one.handle(message)
    finally:
        module.INTERFERE = None
    assert module.RUNS == ["hello"] * 3
    assert [e.event for e in await one.store.events(cid)] == ["agent_note"] * 3
    assert [m.message_id for m in await one.store.pending_inbound()] == [message.message_id]
    rows = await Outbox(one.store.engine).rows()
    assert not [r for r in rows if r.idempotency_key.startswith(f"{cid}:")]
    assert [r.text for r in await one.process(message)] == ["hello is message 1"]
    assert [r.text for r in await two.process(message)] == []
