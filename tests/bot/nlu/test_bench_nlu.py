"""``bench/nlu.py``: the bot's own NLU pipeline on CSV data, OOS threshold from validation only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bench import nlu as bench_nlu

INTENTS = {
    "book": [
        "book a massage for {d}",
        "i want an appointment {d}",
        "reserve a facial {d}",
        "can i book yoga {d}",
        "schedule a manicure {d}",
        "make a booking {d}",
    ],
    "cancel": [
        "cancel my booking {d}",
        "i need to cancel {d}",
        "please cancel the appointment {d}",
        "call off my visit {d}",
        "drop my reservation {d}",
        "cancel the massage {d}",
    ],
    "hours": [
        "when are you open {d}",
        "opening hours {d}",
        "what time do you close {d}",
        "are you open {d}",
        "what are your hours {d}",
        "until when are you open {d}",
    ],
}
OOS = [
    "what is the capital of peru",
    "how tall is everest",
    "tell me about black holes",
    "who won the football match",
    "how do i fix my car engine",
    "recipe for lasagna",
]
DAYS = ["today", "tomorrow", "on monday", "on friday", "this week", "next week"]


def write(path: Path, rows: list[tuple[str, str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return str(path)


def split(days: list[str], oos: list[str]) -> list[tuple[str, str]]:
    rows = [(t.format(d=d), intent) for intent, texts in INTENTS.items() for t in texts for d in days]
    return rows + [(t, "oos") for t in oos]


def figures(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_csv_benchmark_detects_out_of_scope_with_a_threshold_from_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write(tmp_path / "train.csv", split(DAYS[:4], []))
    val = write(tmp_path / "val.csv", split(DAYS[4:5], OOS[:3]))
    test = write(tmp_path / "test.csv", split(DAYS[5:], OOS[3:]))
    bench_nlu.main(
        [
            "--train",
            train,
            "--val",
            val,
            "--test",
            test,
            "--oos-label",
            "oos",
            "--embeddings",
            "none",
            "--latency-messages",
            "20",
        ]
    )
    result = figures(capsys)
    for key in (
        "dataset",
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
        "macro_f1",
        "train_seconds",
        "latency_ms_p50",
        "latency_ms_p99",
    ):
        assert key in result
    # Never-seen questions fall back; nearly every in-scope request keeps its intent.
    assert result["oos_recall"] == 1.0
    assert result["in_scope_accuracy"] >= 0.9  # type: ignore[operator]
    assert 0 < result["fallback_threshold"] < 1  # type: ignore[operator]
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p99"]  # type: ignore[operator]
    # the MiniLM + logistic regression baseline ran on the same rows, scored the same way
    baseline = result["baseline"]
    assert isinstance(baseline, dict) and baseline["model"] == "MiniLM + LogisticRegression"
    assert baseline["oos_recall"] is not None and baseline["in_scope_accuracy"] >= 0.8
    assert 0 < baseline["fallback_threshold"] < 1
    assert set(result["default_minus_baseline"]) == {"in_scope_accuracy", "oos_recall", "macro_f1"}  # type: ignore[arg-type]


def test_without_an_oos_label_the_oos_figures_are_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write(tmp_path / "train.csv", split(DAYS[:4], []))
    test = write(tmp_path / "test.csv", split(DAYS[5:], []))
    bench_nlu.main(
        [
            "--train",
            train,
            "--test",
            test,
            "--embeddings",
            "none",
            "--latency-messages",
            "10",
            "--no-baseline",
        ]
    )
    result = figures(capsys)
    assert result["oos_recall"] is None and result["oos_precision"] is None
    assert result["in_scope_accuracy"] == result["macro_f1"] == 1.0


def test_threshold_method_refuses_to_run_without_validation(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", split(DAYS[:4], OOS[:2]))
    test = write(tmp_path / "test.csv", split(DAYS[5:], OOS[3:]))
    with pytest.raises(SystemExit, match="validation"):
        bench_nlu.main(["--train", train, "--test", test, "--oos-label", "oos", "--embeddings", "none"])


def test_threshold_objectives_trade_recall_for_in_scope_accuracy() -> None:
    # Validation: 30 in-scope rows (29 right, one at 0.5) and one OOS row at 0.6.
    confidences = [0.9] * 29 + [0.5] + [0.6]
    is_oos = [False] * 30 + [True]
    correct = [True] * 30 + [False]
    assert bench_nlu.tune_threshold(confidences, is_oos, correct, "balanced") == 0.9
    assert bench_nlu.tune_threshold(confidences, is_oos, correct, "accuracy") == 0.0


def test_scores_count_a_fallback_as_the_oos_label() -> None:
    result = bench_nlu.scores(["book", "oos", "oos"], ["book", "nlu_fallback", "book"], "oos")
    assert result["in_scope_accuracy"] == 1.0
    assert result["oos_recall"] == 0.5 and result["oos_precision"] == 1.0


def test_oos_as_a_class_needs_no_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train = write(tmp_path / "train.csv", split(DAYS[:4], OOS[:4]))
    test = write(tmp_path / "test.csv", split(DAYS[5:], OOS[4:]))
    bench_nlu.main(
        [
            "--train",
            train,
            "--test",
            test,
            "--oos-label",
            "oos",
            "--oos-method",
            "class",
            "--embeddings",
            "none",
            "--latency-messages",
            "10",
            "--no-baseline",
        ]
    )
    result = figures(capsys)
    assert result["fallback_threshold"] is None and result["oos_method"] == "class"
    assert result["train_examples"] == 3 * 6 * 4 + 4
    assert result["in_scope_accuracy"] == 1.0
    assert result["oos_recall"] is not None


def test_pipeline_weights_are_settable_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write(tmp_path / "train.csv", split(DAYS[:4], []))
    val = write(tmp_path / "val.csv", split(DAYS[4:5], OOS[:3]))
    test = write(tmp_path / "test.csv", split(DAYS[5:], OOS[3:]))
    common = [
        "--train",
        train,
        "--val",
        val,
        "--test",
        test,
        "--oos-label",
        "oos",
        "--latency-messages",
        "10",
        "--no-baseline",
    ]
    bench_nlu.main([*common, "--embeddings", "static", "--similarity-weight", "10"])
    result = figures(capsys)
    assert (result["embedding_weight"], result["similarity_weight"]) == (1.0, 10.0)
    assert result["in_scope_accuracy"] >= 0.9  # type: ignore[operator]
    assert result["oos_recall"] is not None
