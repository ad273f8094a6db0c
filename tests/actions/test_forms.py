"""Forms end to end on the helpdesk bot's ``open_incident_form``: activation, questions,
answers, a validation action that refuses a value, the unhappy path, and completion."""

from __future__ import annotations

import pytest
from action_testkit import texts

from bot.domain import REQUESTED_SLOT
from bot.events import ActionExecuted, ActionExecutionRejected, ActiveLoop, BotUttered, SlotSet

VALIDATION = """
try:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.forms import FormValidationAction
except ImportError:
    from actions.sdk import CollectingDispatcher, FormValidationAction, Tracker

KNOWN_EMAILS = {"ola@mariia.example", "jan@mariia.example"}


class ValidateOpenIncidentForm(FormValidationAction):
    def name(self):
        return "validate_open_incident_form"

    def validate_priority(self, value, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        if str(value).lower() in ("low", "medium", "high"):
            return {"priority": str(value).lower()}
        dispatcher.utter_message(response="utter_no_priority")
        return {"priority": None}

    async def validate_email(self, value, dispatcher, tracker, domain):
        if value in KNOWN_EMAILS:
            return {"email": value}
        dispatcher.utter_message(response="utter_no_email")
        return {"email": None}
"""


def slot_values(events) -> dict:
    return {e.name: e.value for e in events if isinstance(e, SlotSet)}


@pytest.fixture
def helpdesk(helpdesk_domain, registry_for, conversation, actions_module):
    return conversation(registry_for(helpdesk_domain, modules=[actions_module(VALIDATION)]))


async def test_happy_path_with_a_refused_value(helpdesk) -> None:
    # Activation: the form starts and asks for the first required slot.
    await helpdesk.say("I want to open an incident", "open_incident")
    events = await helpdesk.run("open_incident_form")
    assert isinstance(events[0], ActionExecuted) and events[0].name == "open_incident_form"
    assert isinstance(events[1], ActiveLoop) and events[1].name == "open_incident_form"
    assert slot_values(events) == {REQUESTED_SLOT: "email"}
    assert texts(events) == ["What is your email address?"]
    await helpdesk.listen()

    # An unknown address is refused by the validation action and asked for again.
    await helpdesk.say("it's x@y.z", "inform", [{"entity": "email", "value": "x@y.z"}])
    events = await helpdesk.run("open_incident_form")
    assert texts(events) == [
        'Sorry, "x@y.z" isn\'t in our incident management system. Please try again.',
        "What is your email address?",
    ]
    assert helpdesk.tracker.get_slot("email") is None
    assert helpdesk.tracker.get_slot(REQUESTED_SLOT) == "email"
    await helpdesk.listen()

    await helpdesk.say("ola@mariia.example", "inform", [{"entity": "email", "value": "ola@mariia.example"}])
    events = await helpdesk.run("open_incident_form")
    assert slot_values(events) == {"email": "ola@mariia.example", REQUESTED_SLOT: "priority"}
    [question] = [e for e in events if isinstance(e, BotUttered)]
    assert question.text == "What is the priority of this issue?"
    assert [b["title"] for b in question.data["buttons"]] == ["low", "medium", "high"]
    await helpdesk.listen()

    # "urgent" is not a priority: refused, explained, asked again.
    await helpdesk.say("urgent!", "inform", [{"entity": "priority", "value": "urgent"}])
    events = await helpdesk.run("open_incident_form")
    assert texts(events) == [
        'Sorry "urgent" is not a valid priority. Please try again.',
        "What is the priority of this issue?",
    ]
    assert helpdesk.tracker.get_slot("priority") is None
    await helpdesk.listen()

    # A message that fills nothing makes the form refuse to run (the unhappy path).
    await helpdesk.say("what can you do?", "help")
    events = await helpdesk.run("open_incident_form")
    assert [type(e) for e in events] == [ActionExecutionRejected]
    assert helpdesk.tracker.active_loop.rejected
    # The policies answer the digression, then come back to the form, which asks again
    # without validating the off-topic message.
    await helpdesk.run("utter_help")
    events = await helpdesk.run("open_incident_form")
    assert texts(events) == ["What is the priority of this issue?"]
    await helpdesk.listen()

    await helpdesk.say("High", "inform", [{"entity": "priority", "value": "High"}])
    events = await helpdesk.run("open_incident_form")
    assert slot_values(events) == {"priority": "high", REQUESTED_SLOT: "problem_description"}
    assert texts(events) == ["What is the problem description for the issue?"]
    await helpdesk.listen()

    await helpdesk.say("The printer on floor 2 jams", "inform")
    events = await helpdesk.run("open_incident_form")
    assert texts(events) == ["What should we use for the title of this incident?"]
    await helpdesk.listen()

    await helpdesk.say("Printer jam", "inform")
    events = await helpdesk.run("open_incident_form")
    [confirm] = [e for e in events if isinstance(e, BotUttered)]
    assert confirm.text.startswith("Should I open an incident with the following details?")
    assert "email: ola@mariia.example" in confirm.text and "title: Printer jam" in confirm.text
    assert "priority: high" in confirm.text
    await helpdesk.listen()

    # The last answer completes the form: requested_slot cleared, loop deactivated.
    await helpdesk.say("yes", "affirm")
    events = await helpdesk.run("open_incident_form")
    assert texts(events) == []
    assert [type(e) for e in events[-2:]] == [SlotSet, ActiveLoop]
    assert events[-2].name == REQUESTED_SLOT and events[-2].value is None
    assert events[-1].name is None
    assert helpdesk.tracker.active_loop_name is None
    assert {
        k: helpdesk.tracker.get_slot(k)
        for k in ("email", "priority", "problem_description", "incident_title", "confirm")
    } == {
        "email": "ola@mariia.example",
        "priority": "high",
        "problem_description": "The printer on floor 2 jams",
        "incident_title": "Printer jam",
        "confirm": True,
    }


async def test_activation_validates_prefilled_slots_and_uses_the_trigger_intent(helpdesk) -> None:
    await helpdesk.say(
        "can't reset my password, I'm jan@mariia.example, priority low",
        "password_reset",
        [{"entity": "email", "value": "jan@mariia.example"}, {"entity": "priority", "value": "LOW"}],
    )
    assert slot_values(helpdesk.tracker.events) == {"email": "jan@mariia.example", "priority": "LOW"}
    events = await helpdesk.run("open_incident_form")
    values = slot_values(events)
    assert values["incident_title"] == "Problem resetting password"
    assert values["priority"] == "low"  # normalised by validate_priority
    assert values[REQUESTED_SLOT] == "problem_description"
    assert texts(events) == ["What is the problem description for the issue?"]


async def test_form_without_a_validation_action_takes_values_as_extracted(
    helpdesk_domain, registry_for, conversation
) -> None:
    chat = conversation(registry_for(helpdesk_domain))
    await chat.say("ticket status please", "incident_status")
    events = await chat.run("incident_status_form")
    assert texts(events) == ["What is your email address?"]
    await chat.listen()
    await chat.say("anything@else.example", "inform", [{"entity": "email", "value": "anything@else.example"}])
    events = await chat.run("incident_status_form")
    assert [(type(e), getattr(e, "name", None)) for e in events[1:]] == [
        (SlotSet, REQUESTED_SLOT),
        (ActiveLoop, None),
    ]
    assert chat.tracker.get_slot("email") == "anything@else.example"


DYNAMIC_DOMAIN = """
version: "3.1"
intents: [book, inform]
entities: [service, reason]
slots:
  service:
    type: text
    mappings: [{type: from_entity, entity: service}]
  reason:
    type: text
    mappings:
    - type: from_text
      conditions: [{active_loop: booking_form, requested_slot: reason}]
forms:
  booking_form:
    required_slots: [service]
actions: [validate_booking_form]
responses:
  utter_ask_service:
  - text: "Which service?"
  utter_ask_booking_form_reason:
  - text: "Why a {service}?"
"""

DYNAMIC_ACTIONS = """
from actions.sdk import FormValidationAction


class ValidateBookingForm(FormValidationAction):
    def name(self):
        return "validate_booking_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        if tracker.slots.get("service") == "surgery":
            return domain_slots + ["reason"]
        return domain_slots
"""


async def test_validation_action_can_add_required_slots(
    domain_from_yaml, registry_for, conversation, actions_module
) -> None:
    chat = conversation(
        registry_for(domain_from_yaml(DYNAMIC_DOMAIN), modules=[actions_module(DYNAMIC_ACTIONS)])
    )
    await chat.say("book surgery", "book", [{"entity": "service", "value": "surgery"}])
    events = await chat.run("booking_form")
    # The form-specific question wins over a generic one and sees the filled slot.
    assert texts(events) == ["Why a surgery?"]
    assert chat.tracker.get_slot(REQUESTED_SLOT) == "reason"
    await chat.listen()
    await chat.say("my knee hurts", "inform")
    events = await chat.run("booking_form")
    assert chat.tracker.get_slot("reason") == "my knee hurts"
    assert chat.tracker.active_loop_name is None
    assert isinstance(events[-1], ActiveLoop) and events[-1].name is None


async def test_form_done_immediately_when_everything_is_known(
    domain_from_yaml, registry_for, conversation, actions_module
) -> None:
    chat = conversation(
        registry_for(domain_from_yaml(DYNAMIC_DOMAIN), modules=[actions_module(DYNAMIC_ACTIONS)])
    )
    await chat.say("book a massage", "book", [{"entity": "service", "value": "massage"}])
    events = await chat.run("booking_form")
    assert [type(e) for e in events] == [ActionExecuted, ActiveLoop, SlotSet, SlotSet, ActiveLoop]
    assert texts(events) == []
    assert chat.tracker.active_loop_name is None
