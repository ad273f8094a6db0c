"""NLU evaluation: Rasa/scikit-learn shaped reports on held-out data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sklearn.metrics import classification_report

from bot.config import BotConfig
from bot.evaluation.nlu import NLUReport, evaluate_nlu, split_examples
from bot.loaders import load_config, load_nlu
from bot.nlu.pipeline import NLUPipeline
from bot.training_data import NLUExample

SMALL_BOT = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey there
    - good morning
- intent: book
  examples: |
    - book a [manicure](service)
    - I want an appointment for a [pedicure](service)
    - can I get a [massage](service) tomorrow
    - book me [gel nails](service) please
- intent: faq/ask_hours
  examples: |
    - what are your opening hours?
    - when are you open?
    - what time do you close today?
- intent: faq/ask_parking
  examples: |
    - is there parking nearby?
    - can I park my car at the studio?
    - where can I leave my car
- synonym: manicure
  examples: |
    - gel nails
"""


@pytest.fixture(scope="module")
def small_bot(tmp_path_factory: pytest.TempPathFactory) -> NLUPipeline:
    path = tmp_path_factory.mktemp("bot") / "nlu.yml"
    path.write_text(SMALL_BOT, encoding="utf-8")
    return NLUPipeline.train(load_nlu([path]), BotConfig())


def _config(path: Path) -> BotConfig:
    return load_config(path)[0]


@pytest.fixture(scope="module")
def helpdesk(eval_dir: Path) -> tuple[NLUPipeline, list[NLUExample], NLUReport]:
    root = eval_dir / "rasa-bots/helpdesk-assistant"
    data = load_nlu([root / "data/nlu.yml"])
    train, test = split_examples(data.examples, 0.2, 42)
    pipeline = NLUPipeline.train(data.model_copy(update={"examples": train}), _config(root / "config.yml"))
    return pipeline, test, evaluate_nlu(pipeline, test)


def test_split_is_stratified_disjoint_and_seeded() -> None:
    examples = [
        NLUExample(text=f"{intent} {i}", intent=intent)
        for intent, n in [("a", 10), ("b", 20), ("c", 1), ("d", 2)]
        for i in range(n)
    ]
    train, test = split_examples(examples, 0.2, seed=7)
    assert Counter(e.intent for e in test) == {"a": 2, "b": 4}
    assert {e.text for e in train} | {e.text for e in test} == {e.text for e in examples}
    assert not {e.text for e in train} & {e.text for e in test}
    assert [e.text for e in test] == [e.text for e in split_examples(examples, 0.2, seed=7)[1]]
    assert [e.text for e in test] != [e.text for e in split_examples(examples, 0.2, seed=8)[1]]
    with pytest.raises(ValueError):
        split_examples(examples, 1.0)


def test_intent_report_is_sklearns(helpdesk: tuple[NLUPipeline, list[NLUExample], NLUReport]) -> None:
    pipeline, test, report = helpdesk
    predicted = [p.intent.name for p in pipeline.parse_batch([e.text for e in test])]
    expected = classification_report([e.intent for e in test], predicted, output_dict=True, zero_division=0)
    assert report.intent_report == expected
    assert {"accuracy", "macro avg", "weighted avg", "greet", "open_incident"} <= set(report.intent_report)
    assert set(report.intent_report["greet"]) == {"precision", "recall", "f1-score", "support"}
    # Held-out accuracy on the helpdesk bot, with its FallbackClassifier at 0.7 counting as wrong.
    assert report.accuracy >= 0.75


def test_errors_list_every_miss(helpdesk: tuple[NLUPipeline, list[NLUExample], NLUReport]) -> None:
    _, test, report = helpdesk
    wrong = round((1 - report.accuracy) * len(test))
    assert len(report.errors) == wrong > 0
    for error in report.errors:
        assert error.predicted != error.intent
        assert 0.0 <= error.confidence <= 1.0
        assert any(e.text == error.text and e.intent == error.intent for e in test)


def test_entity_report(helpdesk: tuple[NLUPipeline, list[NLUExample], NLUReport]) -> None:
    _, _, report = helpdesk
    assert report.entity_report is not None
    assert set(report.entity_report) == {"priority", "micro avg", "macro avg"}
    priority = report.entity_report["priority"]
    assert priority["support"] >= 1
    assert 0.0 <= priority["f1-score"] <= 1.0


def test_to_json_is_plain_json(helpdesk: tuple[NLUPipeline, list[NLUExample], NLUReport]) -> None:
    _, _, report = helpdesk
    out = json.loads(json.dumps(report.to_json()))
    assert set(out) == {"intent_report", "errors", "entity_report"}
    assert set(out["errors"][0]) == {"text", "intent", "predicted", "confidence"}


def test_synonym_values_count_as_right(small_bot: NLUPipeline) -> None:
    example = NLUExample(
        text="book me gel nails please",
        intent="book",
        entities=[{"start": 8, "end": 17, "entity": "service", "value": "gel nails"}],
    )  # the surface text
    assert [(e.entity, e.value) for e in small_bot.parse(example.text).entities] == [("service", "manicure")]
    report = evaluate_nlu(small_bot, [example])
    assert report.entity_report is not None
    assert report.entity_report["service"]["f1-score"] == 1.0


def test_response_selection_report(small_bot: NLUPipeline) -> None:
    test = [
        NLUExample(text="what time do you open on monday?", intent="faq", response_key="ask_hours"),
        NLUExample(text="where can I park?", intent="faq", response_key="ask_parking"),
        NLUExample(text="hi!", intent="greet"),
    ]
    report = evaluate_nlu(small_bot, test)
    assert report.response_selection_report is not None
    assert report.response_selection_report["accuracy"] == 1.0
    assert "response_selection_report" in report.to_json()


def test_nothing_to_evaluate(small_bot: NLUPipeline) -> None:
    report = evaluate_nlu(small_bot, [])
    assert report.intent_report == {} and report.entity_report is None
