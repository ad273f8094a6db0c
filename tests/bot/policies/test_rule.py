"""RulePolicy: rules, conditions, default intents, forms and the core fallback."""

from __future__ import annotations

import logging

import pytest

from bot.config import BotConfig, ComponentConfig
from bot.domain import Domain
from bot.events import ActionExecutionRejected, ActiveLoop, LoopInterrupted, SlotSet
from bot.policies.ensemble import PolicyEnsemble
from bot.tracker import Tracker
from bot.training_data import StoryData

from .builders import act, conversation, data, either, intent, loop, rule, salon_domain, slot, story


def train(stories: StoryData, domain: Domain, **params: object) -> PolicyEnsemble:
    config = BotConfig(policies=[ComponentConfig(name="RulePolicy", params=dict(params))])
    return PolicyEnsemble.train(stories, domain, config)


DOMAIN = salon_domain()


def next_action(ensemble: PolicyEnsemble, tracker: Tracker) -> tuple[str, float]:
    prediction = ensemble.predict(tracker, DOMAIN)
    return prediction.action, prediction.confidence


BOOKING_RULES = data(
    rule("greet", intent("greet"), act("utter_greet")),
    rule("bot challenge", intent("bot_challenge"), act("utter_iamabot")),
    rule(
        "start booking",
        either(intent("book"), intent("inform")),
        act("booking_form"),
        loop("booking_form"),
        condition=[loop(None)],
    ),
    rule(
        "submit booking",
        act("booking_form"),
        loop(None),
        act("action_book"),
        condition=[loop("booking_form")],
    ),
    story(
        "booking interrupted by help",
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


@pytest.fixture(scope="module")
def booking() -> PolicyEnsemble:
    return train(BOOKING_RULES, DOMAIN, core_fallback_threshold=0.4)


def test_a_rule_answers_and_then_listens(booking: PolicyEnsemble) -> None:
    t = conversation(DOMAIN, "*thank", "utter_welcome", "*greet")
    assert next_action(booking, t) == ("utter_greet", 1.0)
    t = conversation(DOMAIN, "*greet", "utter_greet")
    assert next_action(booking, t) == ("action_listen", 1.0)


def test_no_rule_means_core_fallback_at_its_threshold(booking: PolicyEnsemble) -> None:
    t = conversation(DOMAIN, "*goodbye")
    prediction = booking.predict(t, DOMAIN)
    assert (prediction.action, prediction.confidence, prediction.policy) == (
        "action_default_fallback",
        0.4,
        "RulePolicy",
    )


def test_default_intents_run_default_actions(booking: PolicyEnsemble) -> None:
    assert (
        next_action(booking, conversation(DOMAIN, "*greet", "utter_greet", "*restart"))[0] == "action_restart"
    )
    assert next_action(booking, conversation(DOMAIN, "*back"))[0] == "action_back"
    assert next_action(booking, conversation(DOMAIN, "*session_start"))[0] == "action_session_start"


def test_form_activation_happy_path_and_submission(booking: PolicyEnsemble) -> None:
    t = conversation(DOMAIN, "*book")
    assert next_action(booking, t) == ("booking_form", 1.0)
    t = conversation(DOMAIN, "*book", "booking_form", ActiveLoop(name="booking_form"))
    prediction = booking.predict(t, DOMAIN)
    assert prediction.action == "action_listen"
    # the form keeps running while it is active, whatever the user says
    t = conversation(DOMAIN, "*book", "booking_form", ActiveLoop(name="booking_form"), "*goodbye")
    assert next_action(booking, t) == ("booking_form", 1.0)
    # the form is done: the submit rule takes over
    t = conversation(
        DOMAIN,
        "*book",
        "booking_form",
        ActiveLoop(name="booking_form"),
        "*inform",
        "booking_form",
        ActiveLoop(name=None),
    )
    assert next_action(booking, t) == ("action_book", 1.0)
    # the activation rule required no other form to be active
    t = conversation(
        DOMAIN,
        "*book",
        "booking_form",
        ActiveLoop(name="booking_form"),
        "*inform",
        ActionExecutionRejected(name="booking_form"),
    )
    assert next_action(booking, t)[0] == "action_default_fallback"


def test_rejected_form_gives_way_to_a_rule_then_resumes(booking: PolicyEnsemble) -> None:
    t = conversation(
        DOMAIN,
        "*book",
        "booking_form",
        ActiveLoop(name="booking_form"),
        "*bot_challenge",
        ActionExecutionRejected(name="booking_form"),
    )
    assert next_action(booking, t) == ("utter_iamabot", 1.0)
    t = conversation(
        DOMAIN,
        "*book",
        "booking_form",
        ActiveLoop(name="booking_form"),
        "*bot_challenge",
        ActionExecutionRejected(name="booking_form"),
        "utter_iamabot",
    )
    # the rule would listen now, but inside a form the turn goes back to the form
    assert next_action(booking, t) == ("booking_form", 1.0)


def test_a_loop_interrupted_by_a_rule_is_told_so() -> None:
    stories = data(
        rule("start booking", intent("book"), act("booking_form"), loop("booking_form")),
        rule(
            "help inside the booking", intent("help"), act("booking_form"), condition=[loop("booking_form")]
        ),
    )
    ensemble = train(stories, DOMAIN)
    t = conversation(
        DOMAIN,
        "*book",
        "booking_form",
        ActiveLoop(name="booking_form"),
        "*help",
        ActionExecutionRejected(name="booking_form"),
    )
    prediction = ensemble.predict(t, DOMAIN)
    # the form rejected, so it is not predicted again; but the rule says the user left the
    # form's question, so the form must not validate the next answer
    assert prediction.action != "booking_form"
    assert LoopInterrupted(is_interrupted=True).event in [e.event for e in prediction.events]
    assert any(getattr(e, "is_interrupted", False) for e in prediction.events)


def test_slot_conditions_and_conversation_start() -> None:
    stories = data(
        rule("vip greeting", intent("greet"), act("utter_vip"), condition=[slot("vip", True)]),
        rule("greeting", intent("greet"), act("utter_greet"), condition=[slot("vip", None)]),
        rule("first thanks", intent("thank"), act("utter_ok"), conversation_start=True),
        rule("later thanks", intent("thank"), act("utter_welcome")),
    )
    ensemble = train(stories, DOMAIN)
    assert next_action(ensemble, conversation(DOMAIN, "*greet"))[0] == "utter_greet"
    vip = conversation(DOMAIN, SlotSet(name="vip", value=True), "*greet")
    assert next_action(ensemble, vip)[0] == "utter_vip"
    assert next_action(ensemble, conversation(DOMAIN, "*thank"))[0] == "utter_ok"
    later = conversation(DOMAIN, "*greet", "utter_greet", "*thank")
    assert next_action(ensemble, later)[0] == "utter_welcome"


def test_wait_for_user_input_false_leaves_the_next_action_open() -> None:
    stories = data(
        rule("ask", intent("book"), act("utter_ask_service"), wait_for_user_input=False),
        rule("help", intent("help"), act("utter_help")),
    )
    ensemble = train(stories, DOMAIN, enable_fallback_prediction=False)
    t = conversation(DOMAIN, "*book", "utter_ask_service")
    prediction = ensemble.predict(t, DOMAIN)
    assert (prediction.action, prediction.confidence) == ("action_listen", 0.0)  # nothing predicted it
    t = conversation(DOMAIN, "*help", "utter_help")
    assert next_action(ensemble, t) == ("action_listen", 1.0)


def test_contradictions_and_long_rules_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    stories = data(
        rule("greet", intent("greet"), act("utter_greet")),
        rule("long", intent("greet"), act("utter_greet"), intent("thank"), act("utter_welcome")),
        story("greet differently", intent("greet"), act("utter_vip")),
    )
    with caplog.at_level(logging.WARNING, logger="bot.policies.rule"):
        train(stories, DOMAIN)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "rule 'long'" in messages and "2 user messages" in messages
    assert "'utter_vip' in story 'greet differently'" in messages and "'greet'" in messages


def test_fallback_action_must_exist() -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="action_my_fallback"):
        train(BOOKING_RULES, DOMAIN, core_fallback_action_name="action_my_fallback")


def test_rules_indexed_by_previous_action_match_exactly_what_checking_every_rule_matches() -> None:
    import random

    from bot.policies.featurize import states_json
    from bot.policies.rule import RulePolicy, _applicable

    rng = random.Random(3)

    def state(start: bool = False) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        if not start:
            prev = rng.choice(
                [
                    {"action_name": rng.choice(["action_listen", "utter_hi", "booking_form"])},
                    {"action_text": "hello"},
                    {"action_name": "should_not_be_set"},
                ]
            )
            out["prev_action"] = prev
        if rng.random() < 0.6:
            out["user"] = {"intent": rng.choice(["greet", "book", "bye"])}
        if rng.random() < 0.3:
            out["active_loop"] = {"name": rng.choice(["booking_form", "should_not_be_set"])}
        return out

    def states(n: int) -> list[dict[str, dict[str, object]]]:
        return [state(start=i == 0 and rng.random() < 0.5) for i in range(n)]

    policy = RulePolicy()
    policy.rules = {states_json(states(rng.randint(0, 3))): "utter_x" for _ in range(200)}
    for _ in range(500):
        current = states(rng.randint(0, 4))
        rev = current[::-1]
        every = [
            key
            for key in policy.rules
            if all(
                _applicable(r, rev[i])
                for i, r in enumerate(policy._reversed(key)[: min(len(policy._reversed(key)), len(rev))])
            )
        ]
        assert policy._matching(policy.rules, current) == every
