"""Which action runs for a name, and in-process rasa_sdk-style actions run through the adapter."""

from __future__ import annotations

import httpx
import pytest
from action_testkit import texts, user_message

from actions.base import UtterAction
from actions.defaults import ActionListen, RetrievalAction, TwoStageFallbackAction
from actions.extract_slots import ExtractSlotsAction
from actions.forms import FormAction
from actions.registry import ActionRegistry, SdkActionAdapter, discover_actions
from actions.remote import RemoteAction
from bot.errors import ActionNotFound, ActionRejected, BadPayload, ConfigError
from bot.events import ActionExecuted, ActiveLoop, BotUttered, FollowupAction, SlotSet
from bot.nlg import ResponseRenderer

DOMAIN = """
version: "3.1"
intents: [greet, book, faq, inform]
entities: [service]
slots:
  service:
    type: text
    mappings: [{type: from_entity, entity: service}]
  seen:
    type: any
    mappings: [{type: custom}]
forms:
  booking_form:
    required_slots: [service]
  override_form:
    required_slots: [service]
actions:
- action_greet_back
- action_default_ask_affirmation
- override_form
responses:
  utter_greet:
  - text: "Hi {name}!"
    buttons:
    - title: "Book"
      payload: "/book"
  utter_faq/ask_hours:
  - text: "7-22"
  utter_ask_service:
  - text: "Which service?"
"""

ACTIONS = """
import asyncio
import threading

try:
    from rasa_sdk import Action, Tracker
    from rasa_sdk.events import SlotSet, FollowupAction
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.interfaces import ActionExecutionRejection
except ImportError:
    from actions.sdk import Action, ActionExecutionRejection, CollectingDispatcher, FollowupAction
    from actions.sdk import SlotSet, Tracker
from actions.sdk import FormValidationAction  # imported, not defined here: not registered


class GreetBack(Action):
    def name(self):
        return "action_greet_back"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        # A plain ``def run`` runs in a worker thread, off the event loop.
        off_loop = threading.current_thread() is not threading.main_thread()
        seen = {
            "sender": tracker.sender_id,
            "intent": tracker.latest_message["intent"]["name"],
            "service": tracker.get_slot("service"),
            "loop": tracker.active_loop_name,
            "forms": sorted(domain["forms"]),
            "off_loop": off_loop,
        }
        tracker.slots["service"] = "tampered"  # must not leak into the bot's tracker
        dispatcher.utter_message(response="utter_greet", name="Ola")
        call = [{"title": "Call", "payload": "/call"}]
        dispatcher.utter_message(response="utter_greet", name="Ola", buttons=call)
        dispatcher.utter_message(text="Card", image="https://i/x.png", json_message={"kind": "card"},
                                 elements=[{"title": "e"}])
        dispatcher.utter_message(response="utter_missing")
        return [SlotSet("seen", seen), FollowupAction("utter_greet")]


class Base(Action):
    '''An intermediate base without a name: not an action.'''


class AskAffirmation(Base):
    def name(self):
        return "action_default_ask_affirmation"

    async def run(self, dispatcher, tracker, domain):
        await asyncio.sleep(0)
        dispatcher.utter_message(text="Did you mean to book a massage?")
        return []


class OverrideForm(Action):
    def name(self):
        return "override_form"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="custom form")
        return []


class Refuse(Action):
    def name(self):
        return "action_refuse"

    async def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection("action_refuse", "not today")


class Odd(Action):
    def name(self):
        return "action_odd"

    async def run(self, dispatcher, tracker, domain):
        return [{"no": "event key"}, "text", {"event": "export"}, SlotSet("seen", 1), None]


class Broken(Action):
    def name(self):
        return "action_broken"

    async def run(self, dispatcher, tracker, domain):
        return [{"event": "slot", "value": 1}]
"""


@pytest.fixture
def domain(domain_from_yaml):
    return domain_from_yaml(DOMAIN)


@pytest.fixture
def registry(domain, registry_for, actions_module):
    return registry_for(domain, modules=[actions_module(ACTIONS)])


def test_resolution_order(registry) -> None:
    assert isinstance(registry.get("action_listen"), ActionListen)
    assert isinstance(registry.get("action_extract_slots"), ExtractSlotsAction)
    assert isinstance(registry.get("action_two_stage_fallback"), TwoStageFallbackAction)
    assert isinstance(registry.get("booking_form"), FormAction)
    assert isinstance(registry.get("utter_greet"), UtterAction)
    assert isinstance(registry.get("utter_faq"), RetrievalAction)
    assert isinstance(registry.get("action_greet_back"), SdkActionAdapter)
    # A bot's own version of a default action or of a form replaces it.
    assert isinstance(registry.get("action_default_ask_affirmation"), SdkActionAdapter)
    assert isinstance(registry.get("override_form"), SdkActionAdapter)
    assert registry.get("utter_greet") is registry.get("utter_greet")
    with pytest.raises(ActionNotFound):
        registry.get("action_nobody_wrote")
    with pytest.raises(ActionNotFound):
        registry.get("utter_not_a_response")


def test_has_reports_what_get_resolves(registry) -> None:
    for name in (
        "action_listen",
        "booking_form",
        "utter_greet",
        "utter_faq",
        "action_greet_back",
        "action_refuse",
    ):
        assert registry.has(name), name
    for name in ("action_nobody_wrote", "utter_not_a_response", "utter_ask_hours"):
        assert not registry.has(name), name
    assert registry.custom_action_names == [
        "action_broken",
        "action_default_ask_affirmation",
        "action_greet_back",
        "action_odd",
        "action_refuse",
        "override_form",
    ]


async def test_with_an_action_server_unknown_names_go_to_it(domain) -> None:
    async with httpx.AsyncClient() as http:
        registry = ActionRegistry(
            domain, ResponseRenderer(domain), action_endpoint="http://127.0.0.1:9/webhook", http=http
        )
        action = registry.get("action_elsewhere")
        assert isinstance(action, RemoteAction) and action.endpoint_url == "http://127.0.0.1:9/webhook"
        # Declared custom actions count as available; others are only tried.
        assert registry.has("action_greet_back") and not registry.has("action_elsewhere")


async def test_native_actions_built_by_the_app_are_resolved_first(domain) -> None:
    class AnswerFromKnowledge:
        name = "action_answer_from_knowledge"

        async def run(self, tracker, domain, nlg, channel):
            return [BotUttered(text="From our knowledge base.")]

    native = AnswerFromKnowledge()
    registry = ActionRegistry(domain, ResponseRenderer(domain), native={native.name: native})
    assert registry.has("action_answer_from_knowledge")
    assert registry.get("action_answer_from_knowledge") is native
    assert not registry.has("action_not_anywhere")


async def test_registry_closes_only_the_client_it_made(domain) -> None:
    own = ActionRegistry(domain, ResponseRenderer(domain), action_endpoint="http://127.0.0.1:9/webhook")
    await own.aclose()
    assert own._http is not None and own._http.is_closed
    async with httpx.AsyncClient() as http:
        shared = ActionRegistry(
            domain, ResponseRenderer(domain), action_endpoint="http://x/webhook", http=http
        )
        await shared.aclose()
        assert not http.is_closed


async def test_sdk_action_sees_the_conversation_and_its_messages_are_rendered(registry, conversation) -> None:
    chat = conversation(registry)
    await chat.say("book a massage", "greet", [{"entity": "service", "value": "massage"}])
    events = await chat.run("action_greet_back")
    assert texts(events) == ["Hi Ola!", "Hi Ola!", "Card"]
    first, second, card = (e for e in events if isinstance(e, BotUttered))
    assert first.data["buttons"] == [{"title": "Book", "payload": "/book"}]
    assert first.metadata["utter_action"] == "utter_greet"
    # Explicit buttons are added to the response's own.
    assert second.data["buttons"] == [
        {"title": "Book", "payload": "/book"},
        {"title": "Call", "payload": "/call"},
    ]
    assert card.data["image"] == "https://i/x.png" and card.data["custom"] == {"kind": "card"}
    assert card.data["elements"] == [{"title": "e"}]
    # Messages come first, then the action's events, as Rasa applies them.
    assert isinstance(events[-2], SlotSet) and isinstance(events[-1], FollowupAction)
    assert chat.tracker.get_slot("seen") == {
        "sender": "client-1",
        "intent": "greet",
        "service": "massage",
        "loop": None,
        "forms": ["booking_form", "override_form"],
        "off_loop": True,
    }
    assert chat.tracker.get_slot("service") == "massage"
    assert chat.tracker.followup_action == "utter_greet"


async def test_overridden_default_action_is_used_by_the_two_stage_fallback(registry, conversation) -> None:
    chat = conversation(registry)
    await chat.say("msg", "nlu_fallback", ranking=[("nlu_fallback", 0.3), ("book", 0.2)])
    events = await chat.run("action_two_stage_fallback")
    assert isinstance(events[1], ActiveLoop)
    assert texts(events) == ["Did you mean to book a massage?"]


async def test_rejection_becomes_action_rejected(registry, domain) -> None:
    from bot.tracker import Tracker

    tracker = Tracker.for_domain(
        "c", domain, [ActionExecuted(name="action_listen"), user_message("x", "greet")]
    )
    with pytest.raises(ActionRejected) as caught:
        await registry.get("action_refuse").run(tracker, domain, registry.nlg, "rest")
    assert caught.value.action_name == "action_refuse" and "not today" in str(caught.value)


async def test_non_events_and_unsupported_events_are_dropped_malformed_ones_fail(registry, domain) -> None:
    from bot.tracker import Tracker

    tracker = Tracker.for_domain("c", domain)
    events = await registry.get("action_odd").run(tracker, domain, registry.nlg, "rest")
    assert [(type(e), e.name, e.value) for e in events] == [(SlotSet, "seen", 1)]
    with pytest.raises(BadPayload, match="action_broken"):
        await registry.get("action_broken").run(tracker, domain, registry.nlg, "rest")


def test_discovery_of_packages_and_missing_modules(tmp_path, monkeypatch) -> None:
    package = tmp_path / "concierge_test_pkg_actions"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "deep.py").write_text(
        "from actions.sdk import Action\n\n"
        "class Deep(Action):\n"
        "    def name(self):\n"
        "        return 'action_deep'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert list(discover_actions(["concierge_test_pkg_actions"])) == ["action_deep"]
    with pytest.raises(ConfigError, match="no_such_actions_module"):
        discover_actions(["no_such_actions_module"])
