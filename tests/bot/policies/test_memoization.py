"""Memoization: stories remembered turn by turn; the augmented variant finds them mid-conversation."""

from __future__ import annotations

from bot.config import BotConfig, ComponentConfig
from bot.events import SlotSet
from bot.policies.ensemble import PolicyEnsemble
from bot.training_data import StoryData

from .builders import act, conversation, data, intent, salon_domain, slot, story

DOMAIN = salon_domain()
STORIES = data(
    story("greet", intent("greet"), act("utter_greet"), act("utter_help")),
    story(
        "vip greet",
        intent("affirm"),
        act("action_check_vip"),
        slot("vip", True),
        intent("greet"),
        act("utter_vip"),
    ),
    story("ok after help", act("utter_help"), intent("affirm"), act("utter_ok")),
    story("thanks", intent("thank"), act("utter_welcome")),
)


def train(name: str, stories: StoryData = STORIES, **params: object) -> PolicyEnsemble:
    return PolicyEnsemble.train(
        stories, DOMAIN, BotConfig(policies=[ComponentConfig(name=name, params=dict(params))])
    )


def predict(ensemble: PolicyEnsemble, *events: object) -> tuple[str, float]:
    prediction = ensemble.predict(conversation(DOMAIN, *events), DOMAIN)  # type: ignore[arg-type]
    return prediction.action, prediction.confidence


def test_recalls_the_exact_story_with_full_confidence() -> None:
    memo = train("MemoizationPolicy")
    assert predict(memo, "*greet") == ("utter_greet", 1.0)
    assert predict(memo, "*greet", "utter_greet") == ("utter_help", 1.0)
    assert predict(memo, "*greet", "utter_greet", "utter_help") == ("action_listen", 1.0)
    # slots are part of the state: a vip greeting only after vip was set
    assert predict(memo, "*affirm", "action_check_vip", SlotSet(name="vip", value=True), "*greet") == (
        "utter_vip",
        1.0,
    )


def test_without_max_history_the_whole_conversation_must_match() -> None:
    memo = train("MemoizationPolicy")
    assert predict(memo, "*thank", "utter_welcome", "*greet") == ("action_listen", 0.0)
    short = train("MemoizationPolicy", max_history=1)
    assert predict(short, "*thank", "utter_welcome", "*greet") == ("utter_greet", 1.0)


def test_contradicting_stories_are_forgotten() -> None:
    stories = data(
        story("a", intent("greet"), act("utter_greet")), story("b", intent("greet"), act("utter_vip"))
    )
    memo = train("MemoizationPolicy", stories)
    assert predict(memo, "*greet") == ("action_listen", 0.0)
    assert predict(memo, "*greet", "utter_greet") == ("action_listen", 1.0)


def test_augmented_memoization_recognises_a_story_mid_conversation() -> None:
    plain = train("MemoizationPolicy")
    augmented = train("AugmentedMemoizationPolicy")
    history = ("*greet", "utter_greet", "utter_help", "*affirm")
    # "ok after help" opens with the bot's help; here help came after a greeting
    assert predict(plain, *history)[1] == 0.0
    assert predict(augmented, *history) == ("utter_ok", 1.0)
    assert predict(augmented, "*thank", "utter_welcome", "*greet") == ("utter_greet", 1.0)


def test_augmented_memoization_forgets_slots_set_before_the_cut() -> None:
    augmented = train("AugmentedMemoizationPolicy")
    # vip was set long ago; the "greet" story (no vip) matches only because cutting the
    # conversation's start also forgets the slot that start set
    events = (
        "*affirm",
        "action_check_vip",
        SlotSet(name="vip", value=True),
        "*greet",
        "utter_vip",
        "*thank",
        "utter_welcome",
        "*greet",
    )
    assert predict(augmented, *events) == ("utter_greet", 1.0)
