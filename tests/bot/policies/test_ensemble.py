"""The ensemble: Rasa's way of choosing among the policies, config handling, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig, ComponentConfig
from bot.errors import ConfigError
from bot.events import ActionExecutionRejected, ActiveLoop
from bot.policies.ensemble import PolicyEnsemble
from bot.tracker import Tracker

from .builders import act, conversation, data, intent, loop, rule, salon_domain, story

DOMAIN = salon_domain()
STORIES = data(
    rule("greet", intent("greet"), act("utter_greet")),
    rule("bot challenge", intent("bot_challenge"), act("utter_iamabot")),
    rule("start booking", intent("book"), act("booking_form"), loop("booking_form")),
    rule(
        "submit booking",
        act("booking_form"),
        loop(None),
        act("action_book"),
        condition=[loop("booking_form")],
    ),
    story("greet", intent("greet"), act("utter_greet")),
    story("thanks", intent("thank"), act("utter_welcome")),
    story(
        "help inside the booking",
        intent("book"),
        act("booking_form"),
        loop("booking_form"),
        intent("help"),
        act("utter_help"),
        act("booking_form"),
        loop(None),
        act("action_book"),
    ),
)


def config(*names: str, **params: dict[str, object]) -> BotConfig:
    return BotConfig(policies=[ComponentConfig(name=n, params=params.get(n, {})) for n in names])


@pytest.fixture(scope="module")
def full() -> PolicyEnsemble:
    return PolicyEnsemble.train(
        STORIES,
        DOMAIN,
        config(
            "AugmentedMemoizationPolicy",
            "TEDPolicy",
            "RulePolicy",
            RulePolicy={"core_fallback_threshold": 0.4},
        ),
    )


def predict(ensemble: PolicyEnsemble, tracker: Tracker) -> tuple[str, str]:
    prediction = ensemble.predict(tracker, DOMAIN)
    return prediction.action, prediction.policy


def test_equal_confidence_goes_to_the_higher_priority(full: PolicyEnsemble) -> None:
    # rule and story both say utter_greet with confidence 1: the rule policy ranks higher
    assert predict(full, conversation(DOMAIN, "*greet")) == ("utter_greet", "RulePolicy")
    memo_first = PolicyEnsemble.train(
        STORIES, DOMAIN, config("MemoizationPolicy", "RulePolicy", MemoizationPolicy={"priority": 9})
    )
    assert predict(memo_first, conversation(DOMAIN, "*greet")) == ("utter_greet", "MemoizationPolicy")


def test_a_confident_ml_prediction_beats_the_core_fallback() -> None:
    ensemble = PolicyEnsemble.train(
        STORIES,
        DOMAIN,
        config("MemoizationPolicy", "TEDPolicy", "RulePolicy", RulePolicy={"core_fallback_threshold": 0.4}),
    )
    t = conversation(DOMAIN, "*greet", "utter_greet", "*thank")  # no rule, no story from the start
    prediction = ensemble.predict(t, DOMAIN)
    assert (prediction.action, prediction.policy) == ("utter_welcome", "MLPolicy")
    assert prediction.confidence > 0.4
    strict = PolicyEnsemble.train(
        STORIES, DOMAIN, config("TEDPolicy", "RulePolicy", RulePolicy={"core_fallback_threshold": 0.999})
    )
    assert predict(strict, t) == ("action_default_fallback", "RulePolicy")


def test_the_form_overrules_stories_until_it_rejects(full: PolicyEnsemble) -> None:
    t = conversation(DOMAIN, "*book", "booking_form", ActiveLoop(name="booking_form"), "*help")
    # the story knows utter_help follows, but an active form's happy path comes first
    assert predict(full, t) == ("booking_form", "RulePolicy")
    t.update(ActionExecutionRejected(name="booking_form"))
    assert predict(full, t) == ("utter_help", "AugmentedMemoizationPolicy")
    t = conversation(
        DOMAIN,
        "*book",
        "booking_form",
        ActiveLoop(name="booking_form"),
        "*help",
        ActionExecutionRejected(name="booking_form"),
        "utter_help",
    )
    assert predict(full, t)[0] == "booking_form"


def test_a_rejected_action_is_never_predicted_again_right_away(full: PolicyEnsemble) -> None:
    t = conversation(DOMAIN, "*greet", ActionExecutionRejected(name="utter_greet"))
    action, _ = predict(full, t)
    assert action != "utter_greet"


def test_turns_of_rules_no_story_uses_are_marked_to_be_hidden(full: PolicyEnsemble) -> None:
    challenge = full.predict(conversation(DOMAIN, "*greet", "utter_greet", "*bot_challenge"), DOMAIN)
    assert (challenge.action, challenge.hide_rule_turn) == ("utter_iamabot", True)
    # the greeting rule is also what a story does: its turn stays visible
    assert full.predict(conversation(DOMAIN, "*greet"), DOMAIN).hide_rule_turn is False


def test_no_policies_configured_means_rasa_defaults() -> None:
    stages: list[tuple[str, float]] = []
    ensemble = PolicyEnsemble.train(STORIES, DOMAIN, BotConfig(), progress=lambda s, f: stages.append((s, f)))
    assert ensemble.policy_names == ["MemoizationPolicy", "RulePolicy", "TEDPolicy"]
    assert stages[0] == ("training MemoizationPolicy", 0.0) and stages[-1] == ("policies trained", 1.0)
    assert predict(ensemble, conversation(DOMAIN, "*greet"))[0] == "utter_greet"


def test_unsupported_policies_are_skipped_but_one_must_remain() -> None:
    ensemble = PolicyEnsemble.train(STORIES, DOMAIN, config("UnexpecTEDIntentPolicy", "RulePolicy"))
    assert ensemble.policy_names == ["RulePolicy"]
    with pytest.raises(ConfigError, match="none of the configured policies"):
        PolicyEnsemble.train(STORIES, DOMAIN, config("my.custom.Policy"))


def test_an_action_missing_from_the_domain_falls_back() -> None:
    stories = data(story("old", intent("greet"), act("utter_old_greeting")))
    ensemble = PolicyEnsemble.train(stories, DOMAIN, config("MemoizationPolicy", "RulePolicy"))
    prediction = ensemble.predict(conversation(DOMAIN, "*greet"), DOMAIN)
    assert prediction.action == "action_default_fallback"
    assert prediction.policy == "MemoizationPolicy:unknown_action"


def test_save_and_load_give_the_same_predictions(full: PolicyEnsemble, tmp_path: Path) -> None:
    full.save(tmp_path / "policies")
    files = sorted(p.name for p in (tmp_path / "policies").rglob("*") if p.is_file())
    assert all(f.endswith((".json", ".npy")) for f in files)  # no pickles
    loaded = PolicyEnsemble.load(tmp_path / "policies")
    assert loaded.policy_names == full.policy_names
    conversations = [
        conversation(DOMAIN, "*greet"),
        conversation(DOMAIN, "*greet", "utter_greet"),
        conversation(DOMAIN, "*greet", "utter_greet", "*thank"),
        conversation(
            DOMAIN,
            "*book",
            "booking_form",
            ActiveLoop(name="booking_form"),
            "*help",
            ActionExecutionRejected(name="booking_form"),
        ),
        conversation(
            DOMAIN,
            "*book",
            "booking_form",
            ActiveLoop(name="booking_form"),
            "*help",
            "booking_form",
            ActiveLoop(name=None),
        ),
        conversation(DOMAIN, "*goodbye"),
    ]
    for t in conversations:
        before, after = full.predict(t, DOMAIN), loaded.predict(t, DOMAIN)
        assert (after.action, after.policy, after.confidence) == (
            before.action,
            before.policy,
            before.confidence,
        )
