"""Remote actions against the real rasa-sdk action server (its own venv, started per module).

The actions file below is plain rasa_sdk code; the server runs it, and the same file
also runs in-process through ``actions.sdk`` with the same results.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from action_testkit import free_port, rasa_sdk_server, texts

from actions.registry import ActionRegistry
from actions.remote import ActionServerError, RemoteAction, domain_as_rasa_dict
from bot.domain import REQUESTED_SLOT
from bot.errors import ActionNotFound, ActionRejected
from bot.events import BotUttered, SlotSet
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

SERVED_ACTIONS = """
import asyncio

try:
    from rasa_sdk import Action, Tracker
    from rasa_sdk.events import SlotSet
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.forms import FormValidationAction
    from rasa_sdk.interfaces import ActionExecutionRejection
except ImportError:
    from actions.sdk import (
        Action, ActionExecutionRejection, CollectingDispatcher, FormValidationAction, SlotSet, Tracker,
    )


class SetAndSay(Action):
    def name(self):
        return "action_set_and_say"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        service = next(tracker.get_latest_entity_values("service"), "massage")
        dispatcher.utter_message(
            text=f"Shall I book a {service} for {tracker.sender_id}?",
            buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        )
        dispatcher.utter_message(response="utter_greet", name="Ola")
        return [SlotSet("service", service), SlotSet("studio", tracker.get_slot("studio") or "Mokotów")]


class EchoDomain(Action):
    def name(self):
        return "action_echo_domain"

    def run(self, dispatcher, tracker, domain):
        required = domain["forms"]["booking_form"]["required_slots"]
        mapping = domain["slots"]["service"]["mappings"][0]
        needs = ", ".join(required)
        dispatcher.utter_message(text=f"booking_form needs {needs}; service from {mapping['type']}")
        return []


class ValidateBookingForm(FormValidationAction):
    def name(self):
        return "validate_booking_form"

    def validate_service(self, value, dispatcher, tracker, domain):
        if value in ("massage", "yoga", "facial"):
            return {"service": value}
        dispatcher.utter_message(response="utter_no_service")
        return {"service": None}


class Refuse(Action):
    def name(self):
        return "action_refuse"

    async def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection("action_refuse", "studio closed today")


class Crash(Action):
    def name(self):
        return "action_crash"

    async def run(self, dispatcher, tracker, domain):
        raise RuntimeError("database is down")


class TakeBackTheChat(Action):
    def name(self):
        return "action_take_back_the_chat"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="I'm back!")
        return [
            {"event": "handoff_status", "from_status": "assigned", "to_status": "bot", "actor": "bot"},
            {"event": "resume", "timestamp": None},
            {"event": "csat_recorded", "score": 5, "comment": "from Ola at +48601234567"},
            SlotSet("service", "yoga"),
        ]


class Slow(Action):
    def name(self):
        return "action_slow"

    async def run(self, dispatcher, tracker, domain):
        await asyncio.sleep(5)
        return []
"""

DOMAIN = """
version: "3.1"
intents: [book, inform, affirm]
entities: [service]
slots:
  service:
    type: text
    mappings:
    - type: from_entity
      entity: service
  studio:
    type: text
    mappings: [{type: custom}]
  time:
    type: text
    mappings:
    - type: from_text
      conditions: [{active_loop: booking_form, requested_slot: time}]
forms:
  booking_form:
    required_slots: [service, time]
actions:
- action_set_and_say
- action_echo_domain
- validate_booking_form
- action_refuse
- action_take_back_the_chat
responses:
  utter_greet:
  - text: "Hi {name}!"
  utter_ask_service:
  - text: "Which service would you like?"
  utter_ask_time:
  - text: "When would you like to come?"
  utter_no_service:
  - text: "Sorry, we don't offer {service}."
"""


@pytest.fixture(scope="module")
def served_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    (folder / "served_actions.py").write_text(textwrap.dedent(SERVED_ACTIONS))
    return folder


@pytest.fixture(scope="module")
def action_server(rasa_sdk_python: Path, served_folder: Path) -> Iterator[str]:
    """The real rasa-sdk action server running ``served_actions``; yields its webhook URL."""
    log_path = served_folder / "server.log"
    with rasa_sdk_server(rasa_sdk_python, "served_actions", served_folder, log_path) as url:
        yield url


@pytest.fixture
def domain(domain_from_yaml):
    return domain_from_yaml(DOMAIN)


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def remote_registry(domain, action_server, http) -> ActionRegistry:
    return ActionRegistry(domain, ResponseRenderer(domain, seed=3), action_endpoint=action_server, http=http)


async def test_remote_action_sets_slots_and_sends_messages(remote_registry, conversation) -> None:
    chat = conversation(remote_registry, sender_id="anna")
    await chat.say("book a yoga class", "book", [{"entity": "service", "value": "yoga"}])
    events = await chat.run("action_set_and_say")
    assert texts(events) == ["Shall I book a yoga for anna?", "Hi Ola!"]
    question, greeting = (e for e in events if isinstance(e, BotUttered))
    assert question.data["buttons"] == [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ]
    assert greeting.metadata["utter_action"] == "utter_greet"
    assert [(e.name, e.value) for e in events if isinstance(e, SlotSet)] == [
        ("service", "yoga"),
        ("studio", "Mokotów"),
    ]
    assert chat.tracker.get_slot("studio") == "Mokotów"


async def test_action_server_reads_the_domain_we_send(remote_registry, conversation) -> None:
    chat = conversation(remote_registry)
    await chat.say("hi", "book")
    assert texts(await chat.run("action_echo_domain")) == [
        "booking_form needs service, time; service from from_entity"
    ]


async def test_form_validation_over_the_webhook(remote_registry, conversation) -> None:
    chat = conversation(remote_registry)
    await chat.say("I'd like a surgery", "book", [{"entity": "service", "value": "surgery"}])
    events = await chat.run("booking_form")
    # Activation validated the pre-filled service on the server, which refused it.
    assert texts(events) == ["Sorry, we don't offer surgery.", "Which service would you like?"]
    assert chat.tracker.get_slot("service") is None
    assert chat.tracker.get_slot(REQUESTED_SLOT) == "service"
    await chat.listen()
    await chat.say("a facial then", "inform", [{"entity": "service", "value": "facial"}])
    events = await chat.run("booking_form")
    assert texts(events) == ["When would you like to come?"]
    await chat.listen()
    await chat.say("tomorrow at 5", "inform")
    await chat.run("booking_form")
    assert chat.tracker.active_loop_name is None
    assert (chat.tracker.get_slot("service"), chat.tracker.get_slot("time")) == ("facial", "tomorrow at 5")


async def test_rejection_unknown_action_and_server_errors(
    remote_registry, domain, action_server, http
) -> None:
    tracker = Tracker.for_domain("c", domain)
    nlg = remote_registry.nlg
    with pytest.raises(ActionRejected) as rejected:
        await remote_registry.get("action_refuse").run(tracker, domain, nlg, "rest")
    assert rejected.value.action_name == "action_refuse" and "studio closed today" in str(rejected.value)

    with pytest.raises(ActionNotFound, match="action_nobody_wrote"):
        await remote_registry.get("action_nobody_wrote").run(tracker, domain, nlg, "rest")

    with pytest.raises(ActionServerError, match="HTTP 500: database is down"):
        await remote_registry.get("action_crash").run(tracker, domain, nlg, "rest")

    slow = RemoteAction("action_slow", action_server, http, timeout=0.5)
    with pytest.raises(ActionServerError, match=r"no answer within 0.5s"):
        await slow.run(tracker, domain, nlg, "rest")


async def test_unreachable_server_is_a_clear_error(domain, http) -> None:
    action = RemoteAction("action_set_and_say", f"http://127.0.0.1:{free_port()}/webhook", http)
    with pytest.raises(ActionServerError, match="cannot connect") as caught:
        await action.run(Tracker.for_domain("c", domain), domain, ResponseRenderer(domain), "rest")
    assert caught.value.action_name == "action_set_and_say"


async def test_the_same_file_runs_in_process_with_the_same_result(
    domain, served_folder, monkeypatch, remote_registry, conversation
) -> None:
    monkeypatch.syspath_prepend(str(served_folder))
    local = ActionRegistry(domain, ResponseRenderer(domain, seed=3), modules=["served_actions"])
    results = []
    for registry in (remote_registry, local):
        chat = conversation(registry, sender_id="anna")
        await chat.say("book a facial", "book", [{"entity": "service", "value": "facial"}])
        events = await chat.run("action_set_and_say")
        results.append((texts(events), [(e.name, e.value) for e in events if isinstance(e, SlotSet)]))
    assert results[0] == results[1]
    assert sys.modules["served_actions"].__file__ == str(served_folder / "served_actions.py")


async def test_system_events_from_an_action_server_or_in_process_are_refused_and_the_rest_kept(
    domain, served_folder, monkeypatch, remote_registry, conversation, caplog
) -> None:
    monkeypatch.syspath_prepend(str(served_folder))
    local = ActionRegistry(domain, ResponseRenderer(domain, seed=3), modules=["served_actions"])
    for registry in (remote_registry, local):
        caplog.clear()
        chat = conversation(registry, sender_id="ola")
        await chat.say("hi", "book")
        with caplog.at_level("ERROR"):
            events = await chat.run("action_take_back_the_chat")
        # the message and the slot survive; the move, the resume and the score never reach the log
        assert texts(events) == ["I'm back!"]
        assert [(e.name, e.value) for e in events if isinstance(e, SlotSet)] == [("service", "yoga")]
        assert {e.event for e in events} <= {"bot", "slot", "action"}
        refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == 3 and all("action_take_back_the_chat" in m for m in refused)
        assert not any("+48601234567" in m for m in refused)


def test_domain_dict_keeps_what_rasa_sdk_reads(domain) -> None:
    as_dict = domain_as_rasa_dict(domain)
    assert as_dict["forms"]["booking_form"]["required_slots"] == ["service", "time"]
    assert as_dict["slots"]["time"]["mappings"] == [
        {"type": "from_text", "conditions": [{"active_loop": "booking_form", "requested_slot": "time"}]}
    ]
    assert as_dict["responses"]["utter_greet"] == [{"text": "Hi {name}!"}]
    assert "validate_booking_form" in as_dict["actions"]
