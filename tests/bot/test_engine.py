"""The engine end to end on a small real project: real NLU, policies, actions, store and locks."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import SAFE_REPLY, Engine
from bot.events import ConversationPaused, SessionStarted, UserUttered
from bot.models import InboundMessage
from tests.engine_support import database_url, project_engine, write_project

DOMAIN = """
version: "3.1"
intents: [greet, ask_hours, book, inform, thank, explode]
entities: [service]
slots:
  service:
    type: text
    mappings:
    - type: from_entity
      entity: service
responses:
  utter_greet:
  - text: "Welcome to Mariia Hub! How can I help?"
    buttons:
    - title: Opening hours
      payload: /ask_hours
  utter_hours:
  - text: "We are open 8:00-21:00 every day."
  utter_ask_service:
  - text: "Which treatment would you like?"
  utter_booked:
  - text: "Booked: {service}."
  utter_welcome:
  - text: "You're welcome!"
  utter_default:
  - text: "Sorry, I didn't get that."
forms:
  booking_form:
    required_slots: [service]
actions: [action_explode]
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
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
- intent: book
  examples: |
    - I want to book an appointment
    - can I book a treatment
    - book me in please
    - I'd like to make a booking
    - book a [massage](service)
- intent: inform
  examples: |
    - [massage](service)
    - a [manicure](service) please
    - [facial](service)
    - I'd like a [pedicure](service)
    - [haircut](service)
- intent: thank
  examples: |
    - thanks
    - thank you so much
    - cheers
    - great thanks
    - many thanks
- intent: explode
  examples: |
    - trigger the broken action
    - run the failing thing
    - break it
    - explode now
    - crash the bot
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
- rule: explode
  steps:
  - intent: explode
  - action: action_explode
- rule: start booking
  steps:
  - intent: book
  - action: booking_form
  - active_loop: booking_form
- rule: submit booking
  condition:
  - active_loop: booking_form
  steps:
  - action: booking_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_booked
- rule: fallback
  steps:
  - intent: nlu_fallback
  - action: utter_default
"""
CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: DIETClassifier
- name: FallbackClassifier
  threshold: 0.3
policies:
- name: RulePolicy
- name: MemoizationPolicy
"""
ACTIONS = """
from actions.sdk import Action


class ActionExplode(Action):
    def name(self):
        return "action_explode"

    async def run(self, dispatcher, tracker, domain):
        raise RuntimeError("database password is hunter2")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = {
        "domain.yml": DOMAIN,
        "config.yml": CONFIG,
        "data/nlu.yml": NLU,
        "data/rules.yml": RULES,
        "engine_test_actions.py": textwrap.dedent(ACTIONS),
        "endpoints.yml": "action_endpoint:\n  actions_module: engine_test_actions\n",
    }
    return write_project(tmp_path_factory.mktemp("bot"), files)


@pytest.fixture
async def engine(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Engine]:
    monkeypatch.syspath_prepend(str(project))
    async with project_engine(project, tmp_path) as built:
        yield built


def msg(text: str, sender: str = "ana", message_id: str | None = None) -> InboundMessage:
    extra = {"message_id": message_id} if message_id else {}
    return InboundMessage(channel="test", sender_id=sender, text=text, **extra)


async def test_a_project_without_handoff_data_or_sentiment_examples_runs_without_them(engine: Engine) -> None:
    assert engine.hooks is None and engine.agent.sentiment is None
    replies = await engine.handle(msg("hello", sender="plain"))
    assert [r.text for r in replies] == ["Welcome to Mariia Hub! How can I help?"]
    user = next(e for e in await engine.store.events("test:plain") if isinstance(e, UserUttered))
    assert user.parse_data.sentiment is None
    assert "handoff" not in await engine.health()


async def test_answers_and_stores_the_whole_turn(engine: Engine) -> None:
    replies = await engine.handle(msg("hello"))
    assert [r.text for r in replies] == ["Welcome to Mariia Hub! How can I help?"]
    assert replies[0].buttons[0].payload == "/ask_hours"
    events = await engine.store.events("test:ana")
    kinds = [e.event for e in events]
    assert kinds[:3] == ["action", "session_started", "action"]  # action_session_start, then listen
    user = next(e for e in events if isinstance(e, UserUttered))
    assert user.intent_name == "greet" and user.text == "hello"
    assert kinds[-1] == "action" and events[-1].name == "action_listen"


async def test_form_asks_and_completes(engine: Engine) -> None:
    asked = await engine.handle(msg("I want to book an appointment", sender="bo"))
    assert [r.text for r in asked] == ["Which treatment would you like?"]
    done = await engine.handle(msg("a manicure please", sender="bo"))
    assert [r.text for r in done] == ["Booked: manicure."]


async def test_same_message_id_is_processed_once(engine: Engine) -> None:
    first = await engine.handle(msg("when are you open", message_id="wamid.1"))
    again = await engine.handle(msg("when are you open", message_id="wamid.1"))
    assert first and again == []
    users = [e for e in await engine.store.events("test:ana") if isinstance(e, UserUttered)]
    assert len(users) == 1


async def test_concurrent_messages_of_one_conversation_keep_their_order(engine: Engine) -> None:
    texts = ["hello", "when are you open", "thanks", "hello", "thanks"]
    await asyncio.gather(
        *(engine.handle(msg(t, sender="cy", message_id=f"m{i}")) for i, t in enumerate(texts))
    )
    users = [e.text for e in await engine.store.events("test:cy") if isinstance(e, UserUttered)]
    assert users == texts
    history = await engine.history("test:cy")
    senders = [h.sender for h in history]
    assert senders == ["client", "bot"] * 5


async def test_failing_action_gives_a_safe_reply_without_internals(engine: Engine) -> None:
    replies = await engine.handle(msg("crash the bot", sender="dee"))
    assert [r.text for r in replies] == [SAFE_REPLY]
    assert "hunter2" not in SAFE_REPLY
    # the message itself is kept, and marked failed for the operators
    users = [e for e in await engine.store.events("test:dee") if isinstance(e, UserUttered)]
    assert users[0].text == "crash the bot"


async def test_paused_conversation_is_stored_but_not_answered(engine: Engine) -> None:
    await engine.handle(msg("hello", sender="eve"))
    await engine.append("test:eve", [ConversationPaused()])
    replies = await engine.handle(msg("are you there?", sender="eve"))
    assert replies == []
    users = [e.text for e in await engine.store.events("test:eve") if isinstance(e, UserUttered)]
    assert users == ["hello", "are you there?"]


async def test_expired_session_starts_a_new_one(engine: Engine) -> None:
    await engine.handle(msg("hello", sender="fay"))
    engine.clock = lambda: __import__("time").time() + 2 * 3600
    await engine.handle(msg("hello", sender="fay"))
    starts = [e for e in await engine.store.events("test:fay") if isinstance(e, SessionStarted)]
    assert len(starts) == 2


async def test_live_subscribers_get_new_lines(engine: Engine) -> None:
    stream = engine.subscribe("test:gil")
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    await engine.handle(msg("hello", sender="gil"))
    first = (await asyncio.wait_for(pending, 5))[0]
    assert first.sender == "client" and first.text == "hello"
    await stream.aclose()


async def test_recover_processes_messages_stored_before_a_crash(engine: Engine) -> None:
    stored = msg("when are you open", sender="hal", message_id="lost-1")
    assert await engine.receive(stored)
    assert await engine.recover() == 1
    history = await engine.history("test:hal")
    assert [h.text for h in history] == ["when are you open", "We are open 8:00-21:00 every day."]
    assert await engine.recover() == 0


async def test_postgres_and_redis_backends(
    project: Path, tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(project))
    sender = f"pg-{uuid.uuid4().hex[:8]}"
    async with (
        database_url("postgresql", postgres_url, "engine") as url,
        project_engine(project, tmp_path, url=url, redis_url=redis_url) as engine,
    ):
        texts = ["hello", "when are you open", "thanks"]
        await asyncio.gather(
            *(engine.handle(msg(t, sender=sender, message_id=f"{sender}-{i}")) for i, t in enumerate(texts))
        )
        users = [e.text for e in await engine.store.events(f"test:{sender}") if isinstance(e, UserUttered)]
        assert users == texts
        assert engine.store.dialect == "postgresql"


async def test_an_action_returning_system_events_is_refused_and_the_turn_goes_on(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """An in-process action (not granted any) returns a handoff move and a pause with its
    reply: the reply is sent, the move and the pause are never written, the error is logged."""
    from actions.registry import ActionRegistry
    from bot.events import BotUttered, ConversationPaused, HandoffStatusChanged

    class TakesOver:
        name = "action_explode"

        async def run(self, tracker: object, domain: object, nlg: object, channel: str) -> list[object]:
            return [
                BotUttered(text="All done."),
                HandoffStatusChanged(from_status="bot", to_status="assigned", actor="action_explode"),
                ConversationPaused(),
            ]

    registry = ActionRegistry(engine.domain, engine.nlg, native={"action_explode": TakesOver()})  # type: ignore[dict-item]
    sneaky = Engine(engine.agent, engine.store, engine.locks, registry, engine.nlg)
    with caplog.at_level("ERROR", logger="bot.events"):
        replies = await sneaky.handle(msg("crash the bot", sender="mallory"))
    assert [r.text for r in replies] == ["All done."]
    stored = await engine.store.events("test:mallory")
    assert not any(isinstance(e, (HandoffStatusChanged, ConversationPaused)) for e in stored)
    refused = [r.getMessage() for r in caplog.records]
    assert len(refused) == 2 and all("action_explode" in m and "refused" in m for m in refused)
    assert [r.text for r in await sneaky.handle(msg("hello", sender="mallory"))] == [
        "Welcome to Mariia Hub! How can I help?"
    ]
