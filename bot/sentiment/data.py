"""Labelled sentiment data on disk, and the report of a model measured on it.

The CSV format (``text,label,language``) is what ``data/sentiment/train.csv`` and
``data/sentiment/test.csv`` use; a malformed row is a :class:`~bot.errors.FormatError`
naming the file and line, so a typo in the training data is found before training.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from bot.errors import FormatError
from bot.sentiment.model import LABELS, SentimentExample, SentimentModel

REQUIRED_COLUMNS = ("text", "label")


def load_examples_csv(path: Path) -> list[SentimentExample]:
    """Read ``text,label[,language]`` rows; blank texts are an error, not silently dropped."""
    path = Path(path)
    examples: list[SentimentExample] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise FormatError(str(path), f"missing column(s): {', '.join(missing)}", line=1)
        for row in reader:
            line = reader.line_num
            text = (row.get("text") or "").strip()
            if not text:
                raise FormatError(str(path), "empty text", line=line)
            try:
                examples.append(
                    SentimentExample(
                        text=text,
                        label=(row.get("label") or "").strip().lower(),  # type: ignore[arg-type]
                        language=(row.get("language") or "").strip() or None,
                    )
                )
            except ValidationError:
                raise FormatError(
                    str(path),
                    f"label must be one of {', '.join(LABELS)}, got {row.get('label')!r}",
                    line=line,
                ) from None
    return examples


class SentimentScores(BaseModel):
    """Accuracy and macro-F1 over one set of examples."""

    count: int
    accuracy: float
    macro_f1: float


class SentimentReport(BaseModel):
    """A model measured on held-out examples: overall, per language, and the confusion
    matrix (rows = true label, columns = predicted, both in ``labels`` order)."""

    overall: SentimentScores
    per_language: dict[str, SentimentScores]
    labels: list[str]
    confusion: list[list[int]]


def scores(truth: Sequence[str], predicted: Sequence[str]) -> SentimentScores:
    """Accuracy and macro-F1 over the three labels (a label absent from both counts as 0)."""
    return SentimentScores(
        count=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=list(LABELS), average="macro", zero_division=0)),
    )


def evaluate(model: SentimentModel, examples: Sequence[SentimentExample]) -> SentimentReport:
    """Score ``model`` on ``examples`` (which it must never have been trained on)."""
    truth = [e.label for e in examples]
    predicted = model.predict([e.text for e in examples])
    by_language: dict[str, tuple[list[str], list[str]]] = {}
    for example, guess in zip(examples, predicted, strict=True):
        t, p = by_language.setdefault(example.language or "unknown", ([], []))
        t.append(example.label)
        p.append(guess)
    return SentimentReport(
        overall=scores(truth, predicted),
        per_language={lang: scores(t, p) for lang, (t, p) in sorted(by_language.items())},
        labels=list(LABELS),
        confusion=confusion_matrix(truth, predicted, labels=list(LABELS)).tolist(),
    )
