"""Rasa's default actions: the events each adds and what the conversation looks like after."""

from __future__ import annotations

import pytest
from action_testkit import texts, user_message

from bot.domain import REQUESTED_SLOT, Domain
from bot.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)

DOMAIN = """
version: "3.1"
intents: [greet, book, affirm, deny, faq]
entities: [service]
slots:
  service:
    type: text
    mappings: [{type: from_entity, entity: service}]
  vip:
    type: bool
    initial_value: false
    mappings: [{type: custom}]
forms:
  booking_form:
    required_slots: [service]
responses:
  utter_restart:
  - text: "Starting over."
  utter_default:
  - text: "Sorry, I didn't get that."
  utter_back:
  - text: "Going back."
  utter_ask_rephrase:
  - text: "Could you say that differently?"
  utter_greet:
  - text: "Hi!"
  utter_ask_service:
  - text: "Which service?"
  utter_faq/ask_hours:
  - text: "We are open 7:00-22:00."
  utter_faq/ask_parking:
  - text: "Free parking at every studio."
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
"""

BARE = """
version: "3.1"
intents: [greet]
responses:
  utter_greet:
  - text: "Hi!"
session_config:
  carry_over_slots_to_new_session: false
"""


@pytest.fixture
def domain(domain_from_yaml) -> Domain:
    return domain_from_yaml(DOMAIN)


@pytest.fixture
def chat(domain, registry_for, conversation):
    return conversation(registry_for(domain))


async def test_action_listen_and_unlikely_intent_add_nothing(chat) -> None:
    for name in ("action_listen", "action_unlikely_intent"):
        action = chat.registry.get(name)
        assert action.name == name
        assert await action.run(chat.tracker, chat.domain, chat.nlg, "rest") == []


async def test_restart_utters_resets_and_starts_a_new_session(chat) -> None:
    chat.apply([user_message("massage please", "book", [{"entity": "service", "value": "massage"}])])
    chat.apply([SlotSet(name="service", value="massage"), ActiveLoop(name="booking_form")])
    events = await chat.run("action_restart")
    assert texts(events) == ["Starting over."]
    assert isinstance(events[-1], Restarted)
    assert chat.tracker.get_slot("service") is None
    assert chat.tracker.active_loop_name is None
    # The tracker asks for action_session_start next, as Rasa does after a restart.
    assert chat.tracker.followup_action == "action_session_start"


async def test_restart_without_utter_restart_only_restarts(
    domain_from_yaml, registry_for, conversation
) -> None:
    chat = conversation(registry_for(domain_from_yaml(BARE)))
    events = await chat.run("action_restart")
    assert [type(e) for e in events] == [ActionExecuted, Restarted]


async def test_session_start_carries_over_slots_with_their_metadata(chat) -> None:
    chat.apply(
        [
            SlotSet(name="service", value="yoga", metadata={"source": "crm"}),
            SlotSet(name="vip", value=True),
            SlotSet(name="service", value="massage", metadata={"source": "client"}),
        ]
    )
    events = await chat.run("action_session_start")
    kinds = [type(e) for e in events]
    assert kinds == [ActionExecuted, SessionStarted, SlotSet, SlotSet, ActionExecuted]
    carried = {e.name: (e.value, e.metadata) for e in events if isinstance(e, SlotSet)}
    assert carried == {"vip": (True, {}), "service": ("massage", {"source": "client"})}
    assert events[-1].name == "action_listen"
    assert chat.tracker.get_slot("service") == "massage" and chat.tracker.get_slot("vip") is True


async def test_session_start_without_carry_over_starts_clean(
    domain_from_yaml, registry_for, conversation
) -> None:
    domain = domain_from_yaml(
        BARE.replace(
            "intents: [greet]",
            "intents: [greet]\nslots:\n  x:\n    type: any\n    mappings: [{type: custom}]",
        )
    )
    chat = conversation(registry_for(domain))
    chat.apply([SlotSet(name="x", value=1)])
    events = await chat.run("action_session_start")
    assert [type(e) for e in events] == [ActionExecuted, SessionStarted, ActionExecuted]
    assert chat.tracker.get_slot("x") is None


async def test_session_start_does_not_carry_slots_reset_before_it(chat) -> None:
    from bot.events import AllSlotsReset

    chat.apply([SlotSet(name="service", value="yoga"), AllSlotsReset(), SlotSet(name="vip", value=True)])
    events = await chat.run("action_session_start")
    assert {e.name: e.value for e in events if isinstance(e, SlotSet)} == {"vip": True}


async def test_default_fallback_apologises_and_forgets_the_message(chat) -> None:
    await chat.say("asdf qwer", "greet", confidence=0.1)
    events = await chat.run("action_default_fallback")
    assert texts(events) == ["Sorry, I didn't get that."]
    assert isinstance(events[-1], UserUtteranceReverted)
    assert not any(isinstance(e, UserUttered) for e in chat.tracker.applied_events())


async def test_deactivate_loop_ends_the_form(chat) -> None:
    chat.apply([ActiveLoop(name="booking_form"), SlotSet(name=REQUESTED_SLOT, value="service")])
    events = await chat.run("action_deactivate_loop")
    assert [(type(e), getattr(e, "name", None), getattr(e, "value", None)) for e in events[1:]] == [
        (ActiveLoop, None, None),
        (SlotSet, REQUESTED_SLOT, None),
    ]
    assert chat.tracker.active_loop_name is None and chat.tracker.get_slot(REQUESTED_SLOT) is None


async def test_back_undoes_two_user_messages(chat) -> None:
    await chat.say("hi", "greet")
    await chat.run("utter_greet")
    await chat.listen()
    await chat.say("massage", "book", [{"entity": "service", "value": "massage"}])
    await chat.listen()
    await chat.say("back", "back")
    events = await chat.run("action_back")
    assert texts(events) == ["Going back."]
    assert [type(e) for e in events[-2:]] == [UserUtteranceReverted, UserUtteranceReverted]
    remaining = [e.text for e in chat.tracker.applied_events() if isinstance(e, UserUttered)]
    assert remaining == ["hi"]


async def test_ask_affirmation_offers_the_top_intent_or_the_runner_up_after_nlu_fallback(chat) -> None:
    await chat.say("maybe book?", "book", confidence=0.4)
    [message] = [e for e in await chat.run("action_default_ask_affirmation") if isinstance(e, BotUttered)]
    assert message.text == "Did you mean 'book'?"
    assert message.data["buttons"] == [
        {"title": "Yes", "payload": "/book"},
        {"title": "No", "payload": "/out_of_scope"},
    ]
    assert message.metadata == {"utter_action": "action_default_ask_affirmation"}
    await chat.listen()
    await chat.say("hmm", "nlu_fallback", confidence=0.3, ranking=[("nlu_fallback", 0.3), ("greet", 0.25)])
    assert texts(await chat.run("action_default_ask_affirmation")) == ["Did you mean 'greet'?"]


async def test_ask_rephrase_utters_utter_ask_rephrase(chat) -> None:
    assert texts(await chat.run("action_default_ask_rephrase")) == ["Could you say that differently?"]


async def test_two_stage_fallback_clarified_by_affirmation(chat) -> None:
    await chat.say(
        "bok masag", "nlu_fallback", confidence=0.2, ranking=[("nlu_fallback", 0.2), ("book", 0.18)]
    )
    first = await chat.run("action_two_stage_fallback")
    assert isinstance(first[1], ActiveLoop) and first[1].name == "action_two_stage_fallback"
    assert texts(first) == ["Did you mean 'book'?"]
    await chat.listen()
    await chat.say("/book", "book")  # the client pressed "Yes"
    done = await chat.run("action_two_stage_fallback")
    assert [type(e) for e in done] == [
        ActionExecuted,
        ActiveLoop,
        UserUtteranceReverted,
        ActionExecuted,
        UserUttered,
    ]
    clarified = done[-1]
    assert clarified.text == "/book" and clarified.intent_name == "book"
    assert clarified.parse_data.intent.confidence == 1.0
    assert chat.tracker.active_loop_name is None
    # The conversation now reads as if the client had said it clearly the first time.
    users = [e for e in chat.tracker.applied_events() if isinstance(e, UserUttered)]
    assert [(u.text, u.intent_name) for u in users] == [("/book", "book")]


async def test_two_stage_fallback_rephrase_then_give_up_on_second_denial(chat) -> None:
    await chat.say("xx", "nlu_fallback", ranking=[("nlu_fallback", 0.2), ("greet", 0.1)])
    assert texts(await chat.run("action_two_stage_fallback")) == ["Did you mean 'greet'?"]
    await chat.listen()
    await chat.say("/out_of_scope", "out_of_scope")  # "No"
    assert texts(await chat.run("action_two_stage_fallback")) == ["Could you say that differently?"]
    await chat.listen()
    await chat.say("yy", "nlu_fallback", ranking=[("nlu_fallback", 0.2), ("book", 0.1)])
    assert texts(await chat.run("action_two_stage_fallback")) == ["Did you mean 'book'?"]
    await chat.listen()
    await chat.say("/out_of_scope", "out_of_scope")  # "No" again
    last = await chat.run("action_two_stage_fallback")
    assert texts(last) == ["Sorry, I didn't get that."]
    assert [type(e) for e in last] == [ActionExecuted, ActiveLoop, BotUttered, UserUtteranceReverted]
    assert chat.tracker.active_loop_name is None


async def test_two_stage_fallback_gives_up_after_two_fallbacks_in_a_row(chat) -> None:
    await chat.say("xx", "nlu_fallback", ranking=[("nlu_fallback", 0.2), ("greet", 0.1)])
    await chat.run("action_two_stage_fallback")
    await chat.listen()
    await chat.say("zz", "nlu_fallback", ranking=[("nlu_fallback", 0.2), ("greet", 0.1)])
    last = await chat.run("action_two_stage_fallback")
    assert texts(last) == ["Sorry, I didn't get that."]
    assert chat.tracker.active_loop_name is None


async def test_revert_fallback_events_after_an_affirmation(chat) -> None:
    await chat.say("bok", "nlu_fallback", ranking=[("nlu_fallback", 0.2), ("book", 0.1)])
    await chat.run("action_default_ask_affirmation")
    await chat.listen()
    await chat.say("/book", "book", confidence=0.6)
    events = await chat.run("action_revert_fallback_events")
    assert [type(e) for e in events] == [
        ActionExecuted,
        UserUtteranceReverted,
        UserUtteranceReverted,
        ActionExecuted,
        UserUttered,
    ]
    assert events[-1].parse_data.intent.confidence == 1.0
    users = [e.intent_name for e in chat.tracker.applied_events() if isinstance(e, UserUttered)]
    assert users == ["book"]


async def test_revert_fallback_events_after_a_rephrase(chat) -> None:
    await chat.say("bok", "nlu_fallback")
    await chat.run("action_default_ask_affirmation")
    await chat.listen()
    await chat.say("/out_of_scope", "out_of_scope")
    await chat.run("action_default_ask_rephrase")
    await chat.listen()
    await chat.say("I want to book a massage", "book")
    events = await chat.run("action_revert_fallback_events")
    assert [type(e) for e in events[1:]] == [
        UserUtteranceReverted,
        UserUtteranceReverted,
        UserUtteranceReverted,
        ActionExecuted,
        UserUttered,
    ]
    users = [e.text for e in chat.tracker.applied_events() if isinstance(e, UserUttered)]
    assert users == ["I want to book a massage"]


async def test_revert_fallback_events_does_nothing_outside_a_fallback(chat) -> None:
    await chat.say("hi", "greet")
    assert [type(e) for e in await chat.run("action_revert_fallback_events")] == [ActionExecuted]


async def test_retrieval_action_utters_the_selected_response(chat) -> None:
    selector = {
        "all_retrieval_intents": ["faq"],
        "faq": {
            "response": {
                "intent_response_key": "faq/ask_parking",
                "utter_action": "utter_faq/ask_parking",
                "confidence": 0.93,
            },
            "ranking": [],
        },
    }
    await chat.say("can I park?", "faq", response_selector=selector)
    assert chat.registry.has("utter_faq")
    events = await chat.run("utter_faq")
    assert texts(events) == ["Free parking at every studio."]
    assert events[-1].metadata["utter_action"] == "utter_faq/ask_parking"


async def test_retrieval_action_without_a_selection_says_nothing(chat) -> None:
    await chat.say("hours?", "faq")
    assert texts(await chat.run("utter_faq")) == []
