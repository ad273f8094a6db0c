"""NLU evaluation as ``rasa test nlu`` reports it: intents, entities, response selection.

The intent report is scikit-learn's ``classification_report(output_dict=True)`` (per
intent precision / recall / f1-score / support, plus accuracy, macro and weighted
averages), which is also the shape of Rasa's ``intent_report.json``. A prediction of
``nlu_fallback`` counts as a wrong answer, as in Rasa: the client did not get the intent.
Entities are scored on exact matches of (entity, start, end, value) per entity type; an
annotated value is first mapped through the pipeline's synonym table (``[balance](amount)``
with the synonym ``balance -> current balance`` expects "current balance", as Rasa's
EntitySynonymMapper would produce).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field
from sklearn.metrics import classification_report

from bot.events import ParseData
from bot.training_data import NLUExample


class Parser(Protocol):
    """Anything that parses texts in a batch (an ``NLUPipeline``)."""

    def parse_batch(self, texts: list[str]) -> list[ParseData]:
        """One parse per text."""
        ...


class IntentError(BaseModel):
    """One misclassified example."""

    text: str
    intent: str
    predicted: str | None
    confidence: float


class NLUReport(BaseModel):
    """The result of :func:`evaluate_nlu`."""

    intent_report: dict[str, Any]
    errors: list[IntentError] = Field(default_factory=list)
    entity_report: dict[str, Any] | None = None
    response_selection_report: dict[str, Any] | None = None

    @property
    def accuracy(self) -> float:
        """Share of examples whose intent was predicted right."""
        return float(self.intent_report.get("accuracy", 0.0))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: ``intent_report``, ``errors`` and, when there was anything to score,
        ``entity_report`` and ``response_selection_report``."""
        out: dict[str, Any] = {
            "intent_report": self.intent_report,
            "errors": [e.model_dump() for e in self.errors],
        }
        if self.entity_report is not None:
            out["entity_report"] = self.entity_report
        if self.response_selection_report is not None:
            out["response_selection_report"] = self.response_selection_report
        return out


def evaluate_nlu(pipeline: Parser, examples: list[NLUExample]) -> NLUReport:
    """Parse every example and compare with its labels."""
    if not examples:
        return NLUReport(intent_report={})
    parses = pipeline.parse_batch([e.text for e in examples])
    truth = [e.intent for e in examples]
    predicted = [p.intent.name or "None" for p in parses]
    errors = [
        IntentError(text=e.text, intent=e.intent, predicted=p.intent.name, confidence=p.intent.confidence)
        for e, p in zip(examples, parses, strict=True)
        if p.intent.name != e.intent
    ]
    retrieval = [(e, p) for e, p in zip(examples, parses, strict=True) if e.response_key]
    return NLUReport(
        intent_report=_report(truth, predicted),
        errors=errors,
        entity_report=_entity_report(examples, parses, getattr(pipeline, "canonical_value", None)),
        response_selection_report=_selection_report(retrieval) if retrieval else None,
    )


def _report(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = classification_report(truth, predicted, output_dict=True, zero_division=0)
    return report


def _selection_report(pairs: list[tuple[NLUExample, ParseData]]) -> dict[str, Any]:
    truth = [e.full_intent for e, _ in pairs]
    predicted = []
    for example, parse in pairs:
        selector = parse.response_selector or {}
        entry = selector.get(example.intent) or selector.get("default") or {}
        predicted.append(entry.get("response", {}).get("intent_response_key") or "None")
    return _report(truth, predicted)


def _entity_report(
    examples: list[NLUExample], parses: list[ParseData], canonical: Callable[[Any], Any] | None
) -> dict[str, Any] | None:
    canonical = canonical or (lambda value: value)
    gold_types = {span.entity for e in examples for span in e.entities}
    if not gold_types:
        return None
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # true pos, predicted, gold
    for example, parse in zip(examples, parses, strict=True):
        gold: set[tuple[str, int | None, int | None, str]] = {
            (s.entity, s.start, s.end, str(canonical(s.value))) for s in example.entities
        }
        found = {(e.entity, e.start, e.end, str(e.value)) for e in parse.entities if e.entity in gold_types}
        for key in gold:
            counts[key[0]][2] += 1
        for key in found:
            counts[key[0]][1] += 1
            if key in gold:
                counts[key[0]][0] += 1
    report: dict[str, Any] = {name: _prf(*counts[name]) for name in sorted(counts)}
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    report["micro avg"] = _prf(*totals)
    per_type = [report[name] for name in sorted(counts)]
    report["macro avg"] = {
        key: sum(r[key] for r in per_type) / len(per_type) for key in ("precision", "recall", "f1-score")
    } | {"support": totals[2]}
    return report


def _prf(true_positive: int, predicted: int, gold: int) -> dict[str, float | int]:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1-score": f1, "support": gold}


def split_examples(
    examples: list[NLUExample], test_fraction: float = 0.2, seed: int = 42
) -> tuple[list[NLUExample], list[NLUExample]]:
    """A stratified (train, test) split: about ``test_fraction`` of every intent is held out.

    Strata are full intents (``faq/ask_hours``), so every response key keeps training
    examples; an intent with a single example stays in training. Order is preserved.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test_fraction must be in [0, 1)")
    rng = random.Random(seed)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        groups[example.full_intent].append(i)
    held_out: set[int] = set()
    for name in sorted(groups):
        members = groups[name]
        rng.shuffle(members)
        n_test = min(round(len(members) * test_fraction), len(members) - 1)
        held_out.update(members[:n_test])
    train = [e for i, e in enumerate(examples) if i not in held_out]
    test = [e for i, e in enumerate(examples) if i in held_out]
    return train, test
