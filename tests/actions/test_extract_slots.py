"""``action_extract_slots`` on the helpdesk bot's real slot mappings, plus roles, groups,
custom mappings and ``action_validate_slot_mappings``."""

from __future__ import annotations

import pytest
from action_testkit import texts

from bot.domain import REQUESTED_SLOT
from bot.events import ActionExecutionRejected, ActiveLoop, BotUttered, SlotSet


def slot_values(events) -> dict:
    return {e.name: e.value for e in events if isinstance(e, SlotSet)}


@pytest.fixture
def helpdesk(helpdesk_domain, registry_for, conversation):
    return conversation(registry_for(helpdesk_domain))


def in_form(chat, form: str, requested: str | None) -> None:
    chat.apply([ActiveLoop(name=form), SlotSet(name=REQUESTED_SLOT, value=requested)])


async def test_entities_fill_unconditioned_slots_outside_forms(helpdesk) -> None:
    events = await helpdesk.say(
        "mail a@b.co, high priority, hand me to support",
        "inform",
        [
            {"entity": "email", "value": "a@b.co"},
            {"entity": "priority", "value": "high"},
            {"entity": "handoff_to", "value": "support"},
        ],
    )
    assert slot_values(events) == {"email": "a@b.co", "priority": "high", "handoff_to": "support"}
    assert helpdesk.tracker.get_slot("email") == "a@b.co"


async def test_text_and_intent_mappings_need_their_form_and_requested_slot(helpdesk) -> None:
    # Outside the form, free text fills nothing and "yes" confirms nothing.
    assert await helpdesk.say("my laptop is broken", "inform") == []
    assert await helpdesk.say("yes", "affirm") == []


async def test_requested_email_takes_yes_and_no_as_answers(helpdesk) -> None:
    in_form(helpdesk, "open_incident_form", "email")
    assert slot_values(await helpdesk.say("yes", "affirm")) == {"email": True}
    assert slot_values(await helpdesk.say("no", "deny")) == {"email": False}


async def test_requested_text_slot_takes_the_message_unless_its_intent_is_excluded(helpdesk) -> None:
    in_form(helpdesk, "open_incident_form", "problem_description")
    events = await helpdesk.say("Outlook crashes on start", "inform")
    assert slot_values(events) == {"problem_description": "Outlook crashes on start"}
    in_form(helpdesk, "open_incident_form", "incident_title")
    assert await helpdesk.say("what can you do?", "help") == []  # help is a not_intent
    assert slot_values(await helpdesk.say("Outlook crash", "inform")) == {"incident_title": "Outlook crash"}
    # problem_description's mapping needs it to be the requested slot.
    assert helpdesk.tracker.get_slot("problem_description") == "Outlook crashes on start"


async def test_confirm_only_when_requested(helpdesk) -> None:
    in_form(helpdesk, "open_incident_form", "priority")
    assert "confirm" not in slot_values(await helpdesk.say("yes", "affirm"))
    in_form(helpdesk, "open_incident_form", "confirm")
    assert slot_values(await helpdesk.say("yes", "affirm")) == {"confirm": True}


async def test_condition_with_only_active_loop_fills_whatever_is_requested(helpdesk) -> None:
    in_form(helpdesk, "open_incident_form", "email")
    events = await helpdesk.say("low", "inform", [{"entity": "priority", "value": "low"}])
    assert slot_values(events) == {"priority": "low"}


async def test_only_changed_values_are_set(helpdesk) -> None:
    await helpdesk.say("a@b.co", "inform", [{"entity": "email", "value": "a@b.co"}])
    assert await helpdesk.say("a@b.co again", "inform", [{"entity": "email", "value": "a@b.co"}]) == []
    events = await helpdesk.say("c@d.co", "inform", [{"entity": "email", "value": "c@d.co"}])
    assert slot_values(events) == {"email": "c@d.co"}


async def test_the_last_entity_of_a_type_wins(helpdesk) -> None:
    events = await helpdesk.say(
        "a@b.co or rather c@d.co",
        "inform",
        [{"entity": "email", "value": "a@b.co"}, {"entity": "email", "value": "c@d.co"}],
    )
    assert slot_values(events) == {"email": "c@d.co"}


async def test_a_form_that_rejected_its_slot_is_not_filled_behind_its_back(helpdesk) -> None:
    in_form(helpdesk, "open_incident_form", "problem_description")
    helpdesk.apply([ActionExecutionRejected(name="open_incident_form")])
    assert await helpdesk.say("it is broken", "inform") == []


async def test_trigger_intent_fills_only_while_its_form_is_active(helpdesk) -> None:
    assert await helpdesk.say("I can't reset my password", "password_reset") == []
    in_form(helpdesk, "incident_status_form", "email")
    assert await helpdesk.say("I can't reset my password", "password_reset") == []
    in_form(helpdesk, "open_incident_form", "email")
    events = await helpdesk.say("I can't reset my password", "password_reset")
    # Trigger mappings ignore requested_slot; they fire for their form.
    assert slot_values(events) == {"incident_title": "Problem resetting password"}


async def test_trigger_intent_fills_when_the_message_activates_the_form(helpdesk) -> None:
    await helpdesk.say("my email is not working", "problem_email")
    events = await helpdesk.run("open_incident_form")
    assert slot_values(events) == {"incident_title": "Problem with email", REQUESTED_SLOT: "email"}
    assert texts(events) == ["What is your email address?"]


ROLES = """
version: "3.1"
intents: [book, inform, chitchat, stop]
entities:
- city:
    roles: [from, to]
- seat:
    groups: [window]
slots:
  departure:
    type: text
    mappings: [{type: from_entity, entity: city, role: from}]
  arrival:
    type: text
    mappings: [{type: from_entity, entity: city, role: to}]
  window_seat:
    type: text
    mappings: [{type: from_entity, entity: seat, group: window}]
  any_city:
    type: list
    mappings: [{type: from_entity, entity: city, intent: book}]
  mood:
    type: text
    mappings:
    - type: from_intent
      intent: [chitchat]
      value: chatty
    - type: from_intent
      not_intent: [chitchat, stop]
      value: focused
  note:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: trip_form
        requested_slot: note
"""


async def test_roles_and_groups_must_match_exactly(domain_from_yaml, registry_for, conversation) -> None:
    chat = conversation(registry_for(domain_from_yaml(ROLES)))
    events = await chat.say(
        "from Kraków to Gdańsk, window seat 3",
        "inform",
        [
            {"entity": "city", "value": "Kraków", "role": "from"},
            {"entity": "city", "value": "Gdańsk", "role": "to"},
            {"entity": "seat", "value": "3", "group": "window"},
        ],
    )
    assert slot_values(events) == {
        "departure": "Kraków",
        "arrival": "Gdańsk",
        "window_seat": "3",
        "mood": "focused",
    }


async def test_list_slots_take_every_value_and_intent_lists_filter(
    domain_from_yaml, registry_for, conversation
):
    chat = conversation(registry_for(domain_from_yaml(ROLES)))
    cities = [{"entity": "city", "value": "Kraków"}, {"entity": "city", "value": "Gdańsk"}]
    assert slot_values(await chat.say("Kraków or Gdańsk", "book", cities))["any_city"] == ["Kraków", "Gdańsk"]
    assert slot_values(await chat.say("how are you", "chitchat")) == {"mood": "chatty"}
    # Neither mapping applies to "stop", so mood keeps its value.
    assert await chat.say("stop", "stop") == []


FORM_IGNORES = """
version: "3.1"
intents: [inform, chitchat]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  home:
    type: text
    mappings: [{type: from_entity, entity: city}]
forms:
  trip_form:
    ignored_intents: [chitchat]
    required_slots: [city, home]
"""


async def test_form_ignored_intents_and_shared_entities(domain_from_yaml, registry_for, conversation) -> None:
    chat = conversation(registry_for(domain_from_yaml(FORM_IGNORES)))
    in_form(chat, "trip_form", "home")
    # city and home share the same entity mapping: only the requested slot takes it.
    assert slot_values(await chat.say("Poznań", "inform", [{"entity": "city", "value": "Poznań"}])) == {
        "home": "Poznań"
    }
    # The form ignores chitchat: its slots are not filled from it.
    assert await chat.say("Gdynia is nice", "chitchat", [{"entity": "city", "value": "Gdynia"}]) == []


CUSTOM = """
version: "3.1"
intents: [inform]
entities: [code]
slots:
  code:
    type: text
    mappings: [{type: from_entity, entity: code}]
  discount:
    type: float
    mappings: [{type: custom, action: action_lookup_discount}]
  member_level:
    type: text
    mappings: [{type: custom}]
actions: [action_lookup_discount, action_validate_slot_mappings]
responses:
  utter_bad_code:
  - text: "Code {code} is not valid."
"""

CUSTOM_ACTIONS = """
try:
    from rasa_sdk import Action
    from rasa_sdk.events import SlotSet, FollowupAction
    from rasa_sdk.forms import ValidationAction
except ImportError:
    from actions.sdk import Action, SlotSet, FollowupAction, ValidationAction


class LookupDiscount(Action):
    def name(self):
        return "action_lookup_discount"

    def run(self, dispatcher, tracker, domain):
        code = next(tracker.get_latest_entity_values("code"), None)
        # Only slot and message events count during extraction; the follow-up is dropped.
        return [SlotSet("discount", 0.2 if code == "SPA20" else None), FollowupAction("action_x")]


class ValidateSlots(ValidationAction):
    def validate_code(self, value, dispatcher, tracker, domain):
        if value.startswith("SPA"):
            return {"code": value.upper()}
        dispatcher.utter_message(response="utter_bad_code")
        return {"code": None}

    async def extract_member_level(self, dispatcher, tracker, domain):
        return {"member_level": "gold" if "gold" in tracker.latest_message.get("text", "") else None}
"""


async def test_custom_mappings_run_their_action_and_validation_runs_last(
    domain_from_yaml, registry_for, conversation, actions_module
) -> None:
    module = actions_module(CUSTOM_ACTIONS)
    chat = conversation(registry_for(domain_from_yaml(CUSTOM), modules=[module]))
    events = await chat.say("code spa20, I'm gold", "inform", [{"entity": "code", "value": "SPA20"}])
    assert slot_values(events) == {"discount": 0.2, "code": "SPA20", "member_level": "gold"}
    assert chat.tracker.get_slot("member_level") == "gold"

    events = await chat.say("code XYZ", "inform", [{"entity": "code", "value": "XYZ"}])
    # The validation action rejects the code (set back to None) and says why.
    assert texts(events) == ["Code XYZ is not valid."]
    assert slot_values(events) == {"discount": None, "code": None, "member_level": None}
    assert not [e for e in events if not isinstance(e, (SlotSet, BotUttered))]
