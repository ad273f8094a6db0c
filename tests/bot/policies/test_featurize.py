"""The dialogue state: what the policies see of a conversation, exactly as Rasa builds it."""

from __future__ import annotations

from bot.domain import SlotDef
from bot.events import ActionExecuted, ActiveLoop, SlotSet
from bot.policies.featurize import (
    SHOULD_NOT_BE_SET,
    StateFeaturizer,
    past_states,
    slot_features,
    states_from_json,
    states_json,
)

from .builders import action, conversation, salon_domain, user


def test_slots_are_featurised_by_type() -> None:
    assert slot_features(SlotDef(name="s", type="text"), "x") == (1.0,)
    assert slot_features(SlotDef(name="s", type="text"), None) == (0.0,)
    assert slot_features(SlotDef(name="s", type="bool"), "false") == (1.0, 0.0)
    assert slot_features(SlotDef(name="s", type="bool"), True) == (1.0, 1.0)
    assert slot_features(SlotDef(name="s", type="list"), []) == (0.0,)
    assert slot_features(SlotDef(name="s", type="list"), ["a"]) == (1.0,)
    tier = SlotDef(name="tier", type="categorical", values=["Gold", "silver"])
    assert slot_features(tier, "gold") == (1.0, 0.0, 0.0)
    assert slot_features(tier, "bronze") == (0.0, 0.0, 1.0)  # unknown values go to __other__
    assert slot_features(tier, None) == (0.0, 0.0, 0.0)
    spend = SlotDef(name="spend", type="float", min_value=0, max_value=200)
    assert slot_features(spend, 50) == (1.0, 0.25)
    assert slot_features(spend, 1000) == (1.0, 1.0)
    # ``any`` slots and slots that do not influence the conversation are never featurised
    assert slot_features(SlotDef(name="s", type="any"), "x") == ()
    assert slot_features(SlotDef(name="s", type="text", influence_conversation=False), "x") == ()


def test_one_state_before_every_action_plus_the_current_one() -> None:
    domain = salon_domain()
    tracker = conversation(domain, "*greet", "utter_greet", "utter_help")
    states = past_states(tracker.applied_events(), StateFeaturizer(domain))
    assert states == [
        {},
        {"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}},
        {"user": {"intent": "greet"}, "prev_action": {"action_name": "utter_greet"}},
        {"user": {"intent": "greet"}, "prev_action": {"action_name": "utter_help"}},
    ]


def test_entities_filtered_by_intent_and_influence() -> None:
    domain = salon_domain()
    feat = StateFeaturizer(domain)
    events = [action("action_listen"), user("inform", service="massage", mood="happy", city="Kyiv")]
    state = past_states(events, feat)[-1]
    # ``mood`` does not influence the conversation; ``city`` also fills the featurised city slot
    assert state["user"] == {"intent": "inform", "entities": ("city", "service")}
    events = [action("action_listen"), user("book", service="massage")]
    assert past_states(events, feat)[-1]["user"] == {"intent": "book"}  # book: use_entities []


def test_slots_loop_and_collapsed_form_runs() -> None:
    domain = salon_domain()
    tracker = conversation(
        domain,
        "*book",
        "booking_form",
        ActiveLoop(name="booking_form"),
        SlotSet(name="vip", value=True),
        "*inform",
        "booking_form",
        "*inform",
        "booking_form",
    )
    states = past_states(tracker.applied_events(), StateFeaturizer(domain))
    # the form's repeated happy-path runs collapse: the conversation looks like the story
    assert states[-1] == {
        "user": {"intent": "book"},
        "prev_action": {"action_name": "booking_form"},
        "active_loop": {"name": "booking_form"},
        "slots": {"vip": (1.0, 1.0)},
    }
    assert len(states) == 3  # before the listen, before the form, now


def test_rule_states_keep_should_not_be_set_and_can_omit_unset_slots() -> None:
    domain = salon_domain(
        tier=SlotDef(name="tier", type="categorical", values=["gold"], initial_value="gold")
    )
    feat = StateFeaturizer(domain)
    events = [SlotSet(name="vip", value=SHOULD_NOT_BE_SET), ActionExecuted(name="...")]
    full = past_states(events, feat)[-1]
    assert full["slots"] == {"vip": SHOULD_NOT_BE_SET, "tier": (1.0, 0.0)}
    # rules don't require slots that merely have their initial value
    assert past_states(events, feat, omit_unset_slots=True)[-1]["slots"] == {"vip": SHOULD_NOT_BE_SET}


def test_turns_of_rules_no_story_uses_are_hidden_from_story_policies() -> None:
    domain = salon_domain()
    hidden = {"hide_rule_turn": True}  # what the engine records for such a rule's actions
    tracker = conversation(
        domain,
        "*greet",
        "utter_greet",
        "*bot_challenge",
        ActionExecuted(name="utter_iamabot", metadata=hidden),
        ActionExecuted(name="action_listen", metadata=hidden),
        "*thank",
    )
    feat = StateFeaturizer(domain)
    full = past_states(tracker.applied_events(), feat)
    ml = past_states(tracker.applied_events(), feat, ignore_rule_only_turns=True)
    assert len(full) == len(ml) + 2  # the bot-challenge turn (its two states) is gone
    assert ml[-2] == {"user": {"intent": "greet"}, "prev_action": {"action_name": "utter_greet"}}
    assert ml[-1]["user"] == {"intent": "thank"}


def test_state_json_round_trip() -> None:
    states = [{"user": {"intent": "inform", "entities": ("city",)}, "slots": {"vip": (1.0, 0.0)}}]
    assert states_from_json(states_json(states)) == states
