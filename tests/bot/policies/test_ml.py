"""The ML policy (TEDPolicy's stand-in) generalises beyond the stories it was trained on."""

from __future__ import annotations

import numpy as np
import pytest

from bot.config import BotConfig, ComponentConfig
from bot.policies.base import PredictionContext
from bot.policies.ensemble import PolicyEnsemble
from bot.policies.ml import MLPolicy

from .builders import act, conversation, data, intent, salon_domain, story

DOMAIN = salon_domain()
STORIES = data(
    story("greet", intent("greet"), act("utter_greet")),
    story("thanks", intent("thank"), act("utter_welcome")),
    story("bye", intent("goodbye"), act("utter_goodbye")),
    story("help", intent("help"), act("utter_help")),
    story(
        "greet then help",
        intent("greet"),
        act("utter_greet"),
        intent("help"),
        act("utter_help"),
        intent("thank"),
        act("utter_welcome"),
    ),
)


def train(seed: int = 42) -> PolicyEnsemble:
    config = BotConfig(
        policies=[ComponentConfig(name="TEDPolicy", params={"max_history": 3, "random_seed": seed})]
    )
    return PolicyEnsemble.train(STORIES, DOMAIN, config)


@pytest.fixture(scope="module")
def ml() -> PolicyEnsemble:
    return train()


def test_answers_intents_in_an_order_no_story_has(ml: PolicyEnsemble) -> None:
    script = [
        "*thank",
        "utter_welcome",
        "action_listen",
        "*goodbye",
        "utter_goodbye",
        "action_listen",
        "*help",
        "utter_help",
        "action_listen",
        "*greet",
        "utter_greet",
        "action_listen",
    ]
    events: list[str] = []
    for step in script:
        if step.startswith("*"):
            events.append(step)
            continue
        prediction = ml.predict(conversation(DOMAIN, *events), DOMAIN)
        assert (prediction.action, prediction.policy) == (step, "MLPolicy"), events
        assert prediction.confidence > 0.5
        if step != "action_listen":
            events.append(step)


def test_probabilities_are_a_distribution_over_story_actions(ml: PolicyEnsemble) -> None:
    [policy] = ml.policies
    assert isinstance(policy, MLPolicy)
    ctx = PredictionContext(conversation(DOMAIN, "*greet"), ml.featurizer, {})
    probs = policy.probabilities(ctx.states(ignore_rule_only_turns=True))
    assert set(probs) == {"action_listen", "utter_greet", "utter_welcome", "utter_goodbye", "utter_help"}
    assert sum(probs.values()) == pytest.approx(1.0)
    assert max(probs, key=probs.__getitem__) == "utter_greet"


def test_training_is_deterministic_for_a_seed() -> None:
    a, b = train(7), train(7)
    t = conversation(DOMAIN, "*help", "utter_help", "*greet")
    pa, pb = a.predict_all(t)[0].scores, b.predict_all(t)[0].scores
    assert pa == pb
    weights_a = a.policies[0].coef  # type: ignore[attr-defined]
    assert np.array_equal(weights_a, b.policies[0].coef)  # type: ignore[attr-defined]
