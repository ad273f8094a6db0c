"""Turning an action's answer in Rasa's wire format into the events the bot stores."""

from __future__ import annotations

import pytest

from actions.base import action_result_events, event_from_wire, message_event, temporary_tracker
from bot.errors import BadPayload
from bot.events import ActiveLoop, BotUttered, ReminderScheduled, Restarted, SlotSet
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

DOMAIN = """
version: "3.1"
slots:
  name:
    type: text
    mappings: [{type: custom}]
responses:
  utter_hello:
  - text: "Hello {name}, your code is {code}"
    image: "https://img/{code}.png"
"""


@pytest.fixture
def domain(domain_from_yaml):
    return domain_from_yaml(DOMAIN)


@pytest.fixture
def tracker(domain) -> Tracker:
    return Tracker.for_domain("c", domain, [SlotSet(name="name", value="Ola")])


def dispatcher_message(**overrides):
    """A message exactly as rasa_sdk's ``CollectingDispatcher.utter_message`` builds it."""
    base = {
        "text": None,
        "buttons": [],
        "elements": [],
        "custom": {},
        "template": None,
        "response": None,
        "image": None,
        "attachment": None,
    }
    return {**base, **overrides}


def test_plain_message_keeps_empty_fields_as_none(domain, tracker) -> None:
    event = message_event(dispatcher_message(text="Hi"), tracker, ResponseRenderer(domain), "rest")
    assert isinstance(event, BotUttered) and event.text == "Hi"
    assert event.data == {
        "elements": None,
        "quick_replies": None,
        "buttons": None,
        "attachment": None,
        "image": None,
        "custom": None,
    }
    assert event.metadata == {}


def test_response_is_rendered_with_kwargs_and_explicit_values_win(domain, tracker) -> None:
    nlg = ResponseRenderer(domain)
    message = dispatcher_message(
        response="utter_hello", template="utter_hello", code="X1", channel_hint="vip"
    )
    event = message_event(message, tracker, nlg, "rest")
    assert event.text == "Hello Ola, your code is X1"
    assert event.data["image"] == event.data["attachment"] == "https://img/X1.png"
    assert event.metadata == {"utter_action": "utter_hello", "code": "X1", "channel_hint": "vip"}
    explicit = message_event(dispatcher_message(response="utter_hello", text="Custom"), tracker, nlg, "rest")
    assert explicit.text == "Custom"
    # rasa_sdk before 3.0 only sent ``template``.
    legacy = message_event({"template": "utter_hello", "code": "Z"}, tracker, nlg, "rest")
    assert legacy.text == "Hello Ola, your code is Z"


def test_result_puts_messages_before_events(domain, tracker) -> None:
    events = action_result_events(
        "action_x",
        [
            {"event": "slot", "timestamp": None, "name": "name", "value": "Jan"},
            {"event": "form", "name": "f"},
        ],
        [
            dispatcher_message(text="one"),
            dispatcher_message(response="utter_unknown"),
            dispatcher_message(text="two"),
        ],
        tracker,
        ResponseRenderer(domain),
        "rest",
    )
    assert [type(e) for e in events] == [BotUttered, BotUttered, SlotSet, ActiveLoop]
    assert [e.text for e in events[:2]] == ["one", "two"]
    assert events[2].value == "Jan" and events[2].timestamp > 0
    assert events[3].name == "f"  # the pre-2.0 "form" event is an ActiveLoop


def test_wire_events_that_do_not_fit(domain) -> None:
    assert event_from_wire({"event": "export", "intent": "x"}, "a") is None
    wire = {"event": "reminder", "intent": "x", "date_time": "2030-01-01T10:00:00+01:00"}
    reminder = event_from_wire(wire, "a")  # kept: the proactive scheduler sends it
    assert isinstance(reminder, ReminderScheduled) and reminder.kill_on_user_msg
    with pytest.raises(BadPayload, match="without an 'event' key"):
        event_from_wire({"name": "x"}, "action_a")
    with pytest.raises(BadPayload, match="invalid 'slot' event"):
        event_from_wire({"event": "slot", "value": 1}, "action_a")


def test_temporary_tracker_replays_since_the_last_restart(domain) -> None:
    tracker = Tracker.for_domain(
        "c", domain, [SlotSet(name="name", value="Old"), Restarted(), SlotSet(name="name", value="New")]
    )
    copy = temporary_tracker(tracker, domain, [SlotSet(name="name", value="Candidate")])
    assert [type(e) for e in copy.events] == [SlotSet, SlotSet]
    assert copy.get_slot("name") == "Candidate" and tracker.get_slot("name") == "New"


def test_temporary_tracker_without_a_restart_equals_the_replay_and_shares_nothing_mutable(domain) -> None:
    events = [
        SlotSet(name="name", value=["Ola"]),
        ActiveLoop(name="booking_form"),
        BotUttered(text="hi"),
        ActiveLoop(name=None),
    ]
    tracker = Tracker.for_domain("c", domain, events)
    extra = [SlotSet(name="name", value=["Candidate"])]
    forked = temporary_tracker(tracker, domain, extra)
    replayed = Tracker.for_domain("c", domain, [*events, *extra])
    assert forked == replayed
    assert forked.current_state() == replayed.current_state()
    forked.slots["name"].append("x")  # a slot value changed in place stays in the fork
    forked.update(SlotSet(name="name", value="Later"))
    assert tracker.get_slot("name") == ["Ola"] and len(tracker.events) == len(events)
