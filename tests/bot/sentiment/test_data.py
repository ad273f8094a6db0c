"""Reading labelled sentiment CSVs and reporting scores per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from bot.sentiment import SentimentExample, SentimentModel, evaluate, load_examples_csv
from bot.sentiment.data import scores


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_become_examples_with_language(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv", 'text,label,language\n"Great, thanks",positive,en\nGdzie jest salon?,Neutral,pl\n'
    )
    examples = load_examples_csv(path)
    assert examples == [
        SentimentExample(text="Great, thanks", label="positive", language="en"),
        SentimentExample(text="Gdzie jest salon?", label="neutral", language="pl"),
    ]


def test_a_bad_label_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "text,label,language\nfine,positive,en\nmeh,angry,en\n")
    with pytest.raises(FormatError) as caught:
        load_examples_csv(path)
    assert caught.value.line == 3
    assert "angry" in str(caught.value)


def test_an_empty_text_or_missing_column_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="empty text"):
        load_examples_csv(write(tmp_path / "a.csv", "text,label\n  ,positive\n"))
    with pytest.raises(FormatError, match="missing column"):
        load_examples_csv(write(tmp_path / "b.csv", "message,label\nhi,neutral\n"))


def test_scores_use_all_three_labels_for_macro_f1() -> None:
    perfect = scores(["negative", "positive"], ["negative", "positive"])
    assert perfect.accuracy == 1.0
    # neutral never occurs: it counts as 0 in the macro average, as in the XLM-T benchmark
    assert perfect.macro_f1 == pytest.approx(2 / 3)


def test_evaluate_reports_per_language_and_confusion() -> None:
    train = [
        SentimentExample(text=t, label=lab, language="en")  # type: ignore[arg-type]
        for t, lab in [
            ("love it", "positive"),
            ("great thanks", "positive"),
            ("awful", "negative"),
            ("terrible mess", "negative"),
            ("what time", "neutral"),
            ("where is it", "neutral"),
        ]
    ]
    model = SentimentModel.train(train)
    held = [
        SentimentExample(text="love it, great", label="positive", language="en"),
        SentimentExample(text="awful mess", label="negative", language="pl"),
    ]
    report = evaluate(model, held)
    assert set(report.per_language) == {"en", "pl"}
    assert report.per_language["en"].count == 1
    assert report.labels == ["negative", "neutral", "positive"]
    assert report.confusion[2][2] + report.confusion[2][0] + report.confusion[2][1] == 1
