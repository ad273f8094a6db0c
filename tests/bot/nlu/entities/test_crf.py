"""The CRF entity extractor: BILOU tagging, roles and groups, and the financial-demo annotations."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from bot.evaluation.nlu import split_examples
from bot.loaders import load_nlu
from bot.nlu.entities.crf import CRFEntityExtractor, bilou_tags
from bot.nlu.patterns import PatternSet
from bot.nlu.tokenizer import Tokenizer
from bot.training_data import EntitySpan, NLUExample

TOKENIZER = Tokenizer("en")


def _train(examples: list[NLUExample], patterns: PatternSet | None = None) -> CRFEntityExtractor:
    patterns = patterns or PatternSet([], {})
    crf = CRFEntityExtractor("DIETClassifier")
    crf.train([(e.text, TOKENIZER.tokenize(e.text), patterns.find(e.text), e.entities) for e in examples])
    return crf


def _extract(crf: CRFEntityExtractor, text: str, patterns: PatternSet | None = None) -> list[tuple]:
    patterns = patterns or PatternSet([], {})
    found = crf.extract(text, TOKENIZER.tokenize(text), patterns.find(text))
    return [(e.entity, e.value, e.role, e.group) for e in found]


def test_bilou_tags_from_character_spans() -> None:
    text = "fly from New York City to Paris"
    tokens = TOKENIZER.tokenize(text)
    spans = [
        EntitySpan(start=9, end=22, entity="city", value="New York City", role="from"),
        EntitySpan(start=26, end=31, entity="city", value="Paris", role="to"),
    ]
    tags = bilou_tags(tokens, spans)
    assert [t.split("\x1f")[0] for t in tags] == ["O", "O", "B-city", "I-city", "L-city", "O", "U-city"]
    assert tags[2].split("\x1f")[1] == "from" and tags[6].split("\x1f")[1] == "to"


def test_roles_and_groups_are_learnt() -> None:
    cities = ["Berlin", "Paris", "London", "Warsaw", "Kyiv", "Madrid", "Rome", "Vienna"]
    examples = []
    for i, a in enumerate(cities):
        b = cities[(i + 3) % len(cities)]
        text = f"I want to fly from {a} to {b}"
        start_a = text.index(a)
        start_b = text.rindex(b)
        examples.append(
            NLUExample(
                text=text,
                intent="fly",
                entities=[
                    EntitySpan(
                        start=start_a,
                        end=start_a + len(a),
                        entity="city",
                        value=a,
                        role="departure",
                        group="1",
                    ),
                    EntitySpan(
                        start=start_b,
                        end=start_b + len(b),
                        entity="city",
                        value=b,
                        role="destination",
                        group="1",
                    ),
                ],
            )
        )
    examples += [NLUExample(text=t, intent="greet") for t in ["hello", "hi there", "good morning to you"]]
    crf = _train(examples)
    assert _extract(crf, "I want to fly from Rome to Berlin") == [
        ("city", "Rome", "departure", "1"),
        ("city", "Berlin", "destination", "1"),
    ]
    assert _extract(crf, "hello there") == []


def test_pattern_hits_are_features() -> None:
    patterns = PatternSet([], {"service": ["manicure", "pedicure", "facial", "massage", "reflexology"]})
    examples = [
        NLUExample(
            text=f"book a {s} please",
            intent="book",
            entities=[EntitySpan(start=7, end=7 + len(s), entity="service", value=s)],
        )
        for s in ["manicure", "pedicure", "facial", "massage"]
    ]
    examples += [NLUExample(text="book a table please", intent="book")]
    crf = _train(examples, patterns)
    # "reflexology" was never annotated, but the lookup says it is a service.
    assert _extract(crf, "book a reflexology please", patterns) == [("service", "reflexology", None, None)]


def test_untrained_extractor_extracts_nothing() -> None:
    crf = _train([NLUExample(text="hello", intent="greet")])
    assert not crf.trained
    assert _extract(crf, "hello") == []


@pytest.fixture(scope="module")
def financial(eval_dir: Path) -> tuple[CRFEntityExtractor, list[NLUExample]]:
    data = load_nlu([eval_dir / "rasa-bots/financial-demo/data/nlu/nlu.yml"])
    train, test = split_examples(data.examples, 0.2, 42)
    return _train(train), [e for e in test if e.entities]


def test_financial_demo_entities(financial: tuple[CRFEntityExtractor, list[NLUExample]]) -> None:
    crf, test = financial
    assert _extract(crf, "I want to pay my emblem credit card") == [
        ("credit_card", "emblem", None, None),
        ("account_type", "credit card", None, None),
    ]
    assert ("PERSON", "Bob", None, None) in _extract(crf, "I want to transfer $100 to Bob")
    gold = {(i, s.entity, s.start, s.end) for i, e in enumerate(test) for s in e.entities}
    found = {
        (i, x.entity, x.start, x.end)
        for i, e in enumerate(test)
        for x in crf.extract(e.text, TOKENIZER.tokenize(e.text), [])
    }
    precision = len(gold & found) / len(found)
    recall = len(gold & found) / len(gold)
    assert precision > 0.85 and recall > 0.75, (precision, recall)


def test_confidence_and_pickling(financial: tuple[CRFEntityExtractor, list[NLUExample]]) -> None:
    crf, _ = financial
    text = "pay my emblem card"
    before = crf.extract(text, TOKENIZER.tokenize(text), [])
    assert before and all(0.5 < (e.confidence_entity or 0) <= 1.0 for e in before)
    assert all(e.extractor == "DIETClassifier" for e in before)
    restored = pickle.loads(pickle.dumps(crf))
    assert restored.extract(text, TOKENIZER.tokenize(text), []) == before
