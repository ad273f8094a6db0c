"""The shipped sentiment model, trained on our support-domain data and measured on the held-apart set."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from bot.errors import ConfigError
from bot.nlu.embeddings import StaticEncoder
from bot.sentiment import (
    Sentiment,
    SentimentExample,
    SentimentModel,
    evaluate,
    load_examples_csv,
)
from bot.sentiment.model import LABELS

# Measured when the data was written: 0.88 macro-F1 overall (en 0.85, pl 0.97, uk 0.82).
# The floors sit a little under that so a real regression fails and noise does not.
OVERALL_FLOOR = 0.82
LANGUAGE_FLOOR = 0.75


@pytest.fixture(scope="module")
def train_examples(repo_dir: Path) -> list[SentimentExample]:
    return load_examples_csv(repo_dir / "data" / "sentiment" / "train.csv")


@pytest.fixture(scope="module")
def test_examples(repo_dir: Path) -> list[SentimentExample]:
    return load_examples_csv(repo_dir / "data" / "sentiment" / "test.csv")


@pytest.fixture(scope="module")
def model(train_examples: list[SentimentExample]) -> SentimentModel:
    return SentimentModel.train(train_examples)


def test_the_data_covers_four_languages_and_labels_and_the_test_set_is_held_apart(
    train_examples: list[SentimentExample], test_examples: list[SentimentExample]
) -> None:
    assert len(train_examples) >= 300 and len(test_examples) >= 100
    for examples in (train_examples, test_examples):
        assert {e.language for e in examples} == {"en", "pl", "uk", "ru"}
        assert {e.label for e in examples} == {"negative", "neutral", "positive"}
    normalised = {e.text.casefold().strip() for e in train_examples}
    assert not [e.text for e in test_examples if e.text.casefold().strip() in normalised]


def test_held_apart_accuracy_and_macro_f1_clear_the_measured_floor(
    model: SentimentModel, test_examples: list[SentimentExample]
) -> None:
    report = evaluate(model, test_examples)
    assert report.overall.count == len(test_examples)
    assert report.overall.macro_f1 >= OVERALL_FLOOR, report
    assert report.overall.accuracy >= OVERALL_FLOOR, report
    for language in ("en", "pl", "uk", "ru"):
        assert report.per_language[language].macro_f1 >= LANGUAGE_FLOOR, (language, report.per_language)
    assert sum(map(sum, report.confusion)) == len(test_examples)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Thank you so much, the massage was wonderful!", "positive"),
        ("This is a disgrace, nobody has called me back for a week.", "negative"),
        ("Dziękuję, wszystko super!", "positive"),
        ("Jestem wściekła, znowu odwołaliście moją wizytę.", "negative"),
        ("Дякую, все чудово!", "positive"),
        ("Це неприпустимо, ніхто не відповідає вже тиждень.", "negative"),
        ("What time do you open on Sunday?", "neutral"),
        # everyday turns the demo misread: a request is not a grievance, support anger is anger
        ("book a gel manicure for next Tuesday at 5pm please", "neutral"),
        ("Zarezerwujcie mi pedicure na sobotę.", "neutral"),
        ("Запишіть мене на стрижку в четвер.", "neutral"),
        ("Запишите меня на массаж в среду.", "neutral"),
        ("you lot are ripping your clients off", "negative"),
        ("worst salon in town, I am livid", "negative"),
        ("To jest zdzierstwo, jestem wściekły.", "negative"),
        ("Найгірший салон, я в люті.", "negative"),
        ("Худший салон, я в бешенстве.", "negative"),
    ],
)
def test_clear_messages_get_the_obvious_label(model: SentimentModel, text: str, label: str) -> None:
    result = model.score(text)
    assert result.label == label
    if label == "positive":
        assert result.score > 0.2
    elif label == "negative":
        assert result.score < -0.2


def test_scores_are_bounded_and_confidence_is_the_winning_probability(model: SentimentModel) -> None:
    texts = ["", "ok", "!!!", "AAAAAA WHY", "😡😡😡", "Спасибо" * 50]
    for result in model.score_many(texts):
        assert isinstance(result, Sentiment)
        assert -1.0 <= result.score <= 1.0
        assert 1 / 3 - 1e-9 <= result.confidence <= 1.0
    probs = model.probabilities(["I love it"])[0]
    assert probs.sum() == pytest.approx(1.0)
    assert model.score("I love it").confidence == pytest.approx(probs.max())
    assert model.score_many([]) == []


def test_save_and_load_give_identical_scores(model: SentimentModel, tmp_path: Path) -> None:
    model.save(tmp_path / "sentiment")
    loaded = SentimentModel.load(tmp_path / "sentiment")
    texts = ["Terrible service.", "Dziękuję!", "Де мій запис?"]
    assert [s.model_dump() for s in loaded.score_many(texts)] == [
        s.model_dump() for s in model.score_many(texts)
    ]


def test_loading_from_an_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no sentiment model"):
        SentimentModel.load(tmp_path)


def test_training_needs_two_labels() -> None:
    with pytest.raises(ConfigError, match="two or more labels"):
        SentimentModel.train([SentimentExample(text="great", label="positive")])
    with pytest.raises(ConfigError, match="at least one example"):
        SentimentModel.train([])


@pytest.fixture(scope="module")
def static_encoder() -> StaticEncoder:
    return StaticEncoder.distilled()


def test_an_injected_encoder_adds_features_and_must_match_on_load(
    train_examples: list[SentimentExample],
    test_examples: list[SentimentExample],
    static_encoder: StaticEncoder,
    tmp_path: Path,
) -> None:
    with_embeddings = SentimentModel.train(train_examples, encoder=static_encoder)
    plain_width = with_embeddings.vectorizer.transform(["x"]).shape[1]
    assert with_embeddings.classifier.coef_.shape[1] == plain_width + static_encoder.dim
    report = evaluate(with_embeddings, test_examples)
    assert report.overall.macro_f1 >= OVERALL_FLOOR - 0.05, report.overall

    with_embeddings.save(tmp_path / "m")
    with pytest.raises(ConfigError, match="needs encoder"):
        SentimentModel.load(tmp_path / "m")
    loaded = SentimentModel.load(tmp_path / "m", encoder=static_encoder)
    assert loaded.score("Dziękuję!").model_dump() == with_embeddings.score("Dziękuję!").model_dump()


def test_one_message_is_scored_with_exactly_scikit_learns_numbers(
    model: SentimentModel, train_examples: list[SentimentExample], test_examples: list[SentimentExample]
) -> None:
    # a turn scores one message: that path skips scikit-learn's per-call machinery, so it must
    # give the very same probabilities (bit for bit) as the batch path over the same model
    texts = [e.text for e in [*train_examples, *test_examples]] + ["", "?!", "ok", "🙂🙂", "MH-12345"]
    batch = model.classifier.predict_proba(model.vectorizer.transform(texts))
    assert model._one_text() is not None
    for text, expected in zip(texts, batch, strict=True):
        got = model.probabilities([text])[0]
        assert got.tolist() == [expected[list(model.classifier.classes_).index(label)] for label in LABELS]


def test_a_model_the_one_message_path_cannot_reproduce_is_scored_by_scikit_learn(
    model: SentimentModel,
) -> None:
    vectorizer = copy.deepcopy(model.vectorizer).set_params(transformer_weights={"char": 2.0})
    weighted = SentimentModel(vectorizer, model.classifier, model.options)
    assert weighted._one_text() is None
    expected = model.classifier.predict_proba(vectorizer.transform(["what a rip-off"]))[0]
    got = weighted.probabilities(["what a rip-off"])[0]
    assert got.tolist() == [expected[list(model.classifier.classes_).index(label)] for label in LABELS]
    assert not np.array_equal(got, model.probabilities(["what a rip-off"])[0])
