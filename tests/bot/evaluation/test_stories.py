"""Story evaluation as ``rasa test`` does it, on hand-built stories and on Rasa's public demo bots."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import BotConfig, ComponentConfig
from bot.domain import Domain, FormDef, IntentDef, ResponseVariation
from bot.evaluation.stories import StoryReport, _at_gold_granularity, evaluate_stories
from bot.events import IntentPrediction, ParseData
from bot.loaders import load_project
from bot.nlu.pipeline import NLUPipeline
from bot.policies.ensemble import PolicyEnsemble
from bot.training_data import (
    ActionStep,
    ActiveLoopStep,
    NLUData,
    NLUExample,
    Step,
    Story,
    StoryData,
    UserStep,
)

DOMAIN = Domain(
    intents=[IntentDef(name=n) for n in ("greet", "goodbye", "thank", "book", "help")],
    responses={
        n: [ResponseVariation(text=n)]
        for n in ("utter_greet", "utter_goodbye", "utter_welcome", "utter_help")
    },
    actions=["action_book"],
    forms={"booking_form": FormDef(name="booking_form")},
)


def u(intent: str, text: str | None = None) -> UserStep:
    return UserStep(intent=intent, text=text)


def a(name: str) -> ActionStep:
    return ActionStep(name=name)


def story(name: str, *steps: Step, rule: bool = False) -> Story:
    return Story(name=name, steps=list(steps), is_rule=rule, source="tests/stories.yml")


TRAINING = StoryData(
    stories=[
        story("greet", u("greet"), a("utter_greet")),
        story("bye", u("goodbye"), a("utter_goodbye")),
        story(
            "booking with help",
            u("book"),
            a("booking_form"),
            ActiveLoopStep(name="booking_form"),
            u("help"),
            a("utter_help"),
            a("booking_form"),
            ActiveLoopStep(name=None),
            a("action_book"),
        ),
    ],
    rules=[story("thanks", u("thank"), a("utter_welcome"), rule=True)],
)
TESTS = StoryData(
    stories=[
        story(
            "greet and thank",
            u("greet", "hello"),
            a("utter_greet"),
            u("thank", "thanks a lot"),
            a("utter_welcome"),
        ),
        story(
            "booking interrupted",
            u("book"),
            a("booking_form"),
            ActiveLoopStep(name="booking_form"),
            u("help"),
            a("utter_help"),
            a("booking_form"),
            ActiveLoopStep(name=None),
            a("action_book"),
        ),
        story("bye answered wrongly", u("goodbye", "bye bye"), a("utter_welcome")),
    ]
)


@pytest.fixture(scope="module")
def ensemble() -> PolicyEnsemble:
    config = BotConfig(
        policies=[ComponentConfig(name="MemoizationPolicy"), ComponentConfig(name="RulePolicy")]
    )
    return PolicyEnsemble.train(TRAINING, DOMAIN, config)


def test_stories_are_replayed_with_their_own_events(ensemble: PolicyEnsemble) -> None:
    report = evaluate_stories(TESTS, ensemble, DOMAIN)
    assert report.conversation_accuracy == {"accuracy": 2 / 3, "correct": 2, "total": 3}
    # every action is scored, including the listens that end bot turns (but not the first)
    assert [(r.action, r.predicted) for r in report.actions if r.story == "bye answered wrongly"] == [
        ("utter_welcome", "utter_goodbye"),
        ("action_listen", "action_default_fallback"),
    ]
    # the form was predicted where the story has utter_help: a rejection is emulated, then memoization
    # follows the story's unhappy path
    booking = [r for r in report.actions if r.story == "booking interrupted"]
    assert all(r.action == r.predicted for r in booking) and len(booking) == 6
    assert report.action_accuracy == pytest.approx(10 / 12)


def test_report_has_rasas_story_report_shape(ensemble: PolicyEnsemble) -> None:
    data = evaluate_stories(TESTS, ensemble, DOMAIN).to_json()
    assert data["conversation_accuracy"]["total"] == 3
    assert data["utter_welcome"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1-score": pytest.approx(2 / 3),
        "support": 2,
    }
    assert data["accuracy"] == pytest.approx(10 / 12)
    assert {"macro avg", "weighted avg"} <= set(data)


def test_failed_stories_are_rasa_yaml_with_predictions(ensemble: PolicyEnsemble) -> None:
    report = evaluate_stories(TESTS, ensemble, DOMAIN)
    text = report.failed_stories_yaml()
    assert "- action: utter_welcome  # predicted: utter_goodbye" in text
    parsed = yaml.safe_load(text)
    assert [s["story"] for s in parsed["stories"]] == ["bye answered wrongly (tests/stories.yml)"]
    # a wrongly predicted listen is written too (Rasa omits only the correct ones)
    assert parsed["stories"][0]["steps"] == [
        {"intent": "goodbye", "user": "bye bye"},
        {"action": "utter_welcome"},
        {"action": "action_listen"},
    ]
    assert "- action: action_listen  # predicted: action_default_fallback" in text
    all_good = StoryReport(report={}, correct=1, total=1)
    assert all_good.failed_stories_yaml().startswith("# None of the test stories failed")


def test_a_wrong_intent_fails_the_story_but_the_story_goes_on(ensemble: PolicyEnsemble) -> None:
    examples = {
        "greet": ["hello", "hi there", "good morning"],
        "goodbye": ["bye", "see you later", "goodbye"],
        "thank": ["thanks", "thank you so much", "cheers"],
    }
    nlu_data = NLUData(examples=[NLUExample(text=t, intent=i) for i, ts in examples.items() for t in ts])
    config = BotConfig(
        pipeline=[
            ComponentConfig(name="WhitespaceTokenizer"),
            ComponentConfig(name="CountVectorsFeaturizer"),
            ComponentConfig(name="LogisticRegressionClassifier", params={"embeddings": "none"}),
        ]
    )
    nlu = NLUPipeline.train(nlu_data, config)
    tests = StoryData(
        stories=[
            story(
                "thanks misread",
                u("greet", "hello"),
                a("utter_greet"),
                u("thank", "good morning"),
                a("utter_welcome"),
            ),
            TESTS.stories[0],
        ]
    )
    report = evaluate_stories(tests, ensemble, DOMAIN, nlu=nlu)
    assert report.conversation_accuracy["correct"] == 1
    [error] = report.intent_errors
    assert (error["intent"], error["predicted"], error["text"]) == ("thank", "greet", "good morning")
    # the story's intent is used afterwards, so the thanks rule still answers
    assert all(r.action == r.predicted for r in report.actions)
    assert "- intent: thank  # predicted: greet: good morning" in report.failed_stories_yaml()


# ---- Rasa's public demo bots (gold intents, as `rasa test core`) ----------------------------
@pytest.fixture(
    scope="module",
    params=[
        ("helpdesk-assistant", "tests/test_conversations.yml"),
        ("financial-demo", "tests/test_stories.yml"),
    ],
)
def public_bot(request: pytest.FixtureRequest, eval_dir: Path) -> tuple[str, StoryReport]:
    name, _ = request.param
    project = load_project(eval_dir / "rasa-bots" / name)
    ensemble = PolicyEnsemble.train(project.stories, project.domain, project.config)
    return name, evaluate_stories(project.test_stories, ensemble, project.domain)


def test_public_demo_bots_pass_their_test_stories(public_bot: tuple[str, StoryReport]) -> None:
    name, report = public_bot
    expected_total = {"helpdesk-assistant": 12, "financial-demo": 48}[name]
    assert report.total == expected_total
    assert report.conversation_accuracy["accuracy"] >= 0.95, report.failed_stories_yaml()
    assert report.action_accuracy >= 0.98


def test_retrieval_intents_are_compared_at_the_granularity_the_story_names() -> None:
    # as rasa test: a story step `faq` accepts any faq/* prediction; `faq/rasax` needs that response
    parsed = ParseData(
        text="what is rasa x",
        intent=IntentPrediction(name="faq/rasax", confidence=0.9),
        response_selector={"default": {"response": {"intent_response_key": "faq/rasax"}}},
    )
    assert _at_gold_granularity(parsed, "faq") == "faq"
    assert _at_gold_granularity(parsed, "faq/rasax") == "faq/rasax"
    base_only = ParseData(
        text="what is rasa x",
        intent=IntentPrediction(name="faq", confidence=0.9),
        response_selector={"default": {"response": {"intent_response_key": "faq/nlu"}}},
    )
    assert _at_gold_granularity(base_only, "faq/rasax") == "faq/nlu"  # a wrong response fails
    assert _at_gold_granularity(base_only, "greet") == "faq"
