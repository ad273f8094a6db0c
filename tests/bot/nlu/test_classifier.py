"""The calibrated linear classifier: right answers, honest confidences."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from bot.nlu.classifier import CalibratedLinearClassifier, Vocabulary, words
from bot.nlu.featurizers import Featurizer, VectorizerOptions

TRAIN = {
    "greet": ["hi", "hello", "hey there", "good morning", "hello friend", "hi hi", "good evening", "hey"],
    "book": [
        "book a manicure",
        "I want an appointment",
        "schedule a massage",
        "book me in",
        "reserve a slot",
        "make a booking",
        "appointment for a haircut",
        "book a pedicure",
    ],
    "price": [
        "how much is it",
        "what does it cost",
        "price of a manicure",
        "how much for a massage",
        "prices please",
        "is it expensive",
        "cost of a haircut",
        "price list",
    ],
}


@pytest.fixture(scope="module")
def fitted() -> tuple[Featurizer, CalibratedLinearClassifier]:
    texts = [t for examples in TRAIN.values() for t in examples]
    labels = [intent for intent, examples in TRAIN.items() for _ in examples]
    featurizer = Featurizer([VectorizerOptions(), VectorizerOptions(analyzer="char_wb", max_ngram=4)], [])
    featurizer.fit(texts)
    model = CalibratedLinearClassifier("svm", 1.0).fit(featurizer.transform(texts), labels, texts)
    return featurizer, model


@pytest.mark.parametrize("model", ["svm", "logreg"])
def test_both_linear_models_classify(model: str) -> None:
    texts = [t for examples in TRAIN.values() for t in examples]
    labels = [intent for intent, examples in TRAIN.items() for _ in examples]
    featurizer = Featurizer([VectorizerOptions(analyzer="char_wb", max_ngram=4)], [])
    featurizer.fit(texts)
    clf = CalibratedLinearClassifier(model, 1.0 if model == "svm" else 10.0).fit(
        featurizer.transform(texts), labels, texts
    )
    probe = ["hello there", "how much is a pedicure"]
    assert [r[0][0] for r in clf.rank(featurizer.transform(probe), probe)] == ["greet", "price"]


def test_probabilities_rank_and_sum_to_one(fitted: tuple[Featurizer, CalibratedLinearClassifier]) -> None:
    featurizer, model = fitted
    probe = ["can I book a facial", "hello!", "how much does a facial cost"]
    proba = model.predict_proba(featurizer.transform(probe), probe)
    assert proba.shape == (3, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert [row[0][0] for row in model.rank(featurizer.transform(probe), probe)] == ["book", "greet", "price"]
    assert model.temperature > 0 and 0.0 <= model.alpha <= 3.0


def test_unknown_words_are_unsure(fitted: tuple[Featurizer, CalibratedLinearClassifier]) -> None:
    featurizer, model = fitted
    probe = ["book a manicure please", "zorblax quimble"]
    ranked = model.rank(featurizer.transform(probe), probe)
    assert ranked[0][0][1] > 0.6
    assert ranked[1][0][1] < ranked[0][0][1]
    assert ranked[1][0][1] < 0.6


def test_rank_limit(fitted: tuple[Featurizer, CalibratedLinearClassifier]) -> None:
    featurizer, model = fitted
    assert len(model.rank(featurizer.transform(["hi"]), ["hi"], limit=2)[0]) == 2


def test_single_class_is_certain() -> None:
    featurizer = Featurizer([VectorizerOptions()], [])
    featurizer.fit(["a b", "c d"])
    model = CalibratedLinearClassifier().fit(featurizer.transform(["a b", "c d"]), ["x", "x"], ["a b", "c d"])
    assert model.rank(featurizer.transform(["zzz"]), ["zzz"]) == [[("x", 1.0)]]


def test_two_classes_with_one_example_each() -> None:
    texts = ["hello there", "book a manicure"]
    featurizer = Featurizer([VectorizerOptions()], [])
    featurizer.fit(texts)
    model = CalibratedLinearClassifier().fit(featurizer.transform(texts), ["greet", "book"], texts)
    assert model.rank(featurizer.transform(["book it"]), ["book it"])[0][0][0] == "book"


def test_vocabulary_forgives_one_typo() -> None:
    vocabulary = Vocabulary({"hello", "manicure", "hi"})
    assert vocabulary.knows("helo") and vocabulary.knows("helllo") and vocabulary.knows("manicur")
    assert not vocabulary.knows("qwerty")
    assert vocabulary.knows("2026")
    assert vocabulary.coverage(words("helo qwerty")) == 0.5
    assert vocabulary.coverage(set()) == 1.0


def test_a_word_far_longer_than_any_seen_is_unknown_and_checked_in_linear_time() -> None:
    vocabulary = Vocabulary({"hello", "manicure", "hi"})
    assert not vocabulary.knows("a" * 150_000)  # returns at once: no 150k deletions of 150k letters
    assert vocabulary.knows("manicures")  # still one letter more than the longest seen word
    assert vocabulary.coverage(words("hello " + "x" * 150_000)) == 0.5


def test_a_vocabulary_pickled_before_the_length_bound_existed_still_forgives_typos() -> None:
    old = Vocabulary({"hello", "manicure"})
    del old.__dict__["longest"]
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.longest == len("manicure")
    assert loaded.knows("helo") and not loaded.knows("b" * 50)


def test_a_model_pickled_before_typicality_existed_still_predicts(
    fitted: tuple[Featurizer, CalibratedLinearClassifier],
) -> None:
    featurizer, model = fitted
    old = copy.copy(model)
    del old.__dict__["typicality"], old.__dict__["similarity_weight"]
    loaded = pickle.loads(pickle.dumps(old))
    probe = ["book a manicure please"]
    X = featurizer.transform(probe)
    assert loaded.typicality is None
    assert np.allclose(loaded.predict_proba(X, probe), model.predict_proba(X, probe))


def test_a_message_without_one_known_word_gets_no_likely_label_but_names_are_not_unknown() -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    from bot.nlu.classifier import CalibratedLinearClassifier

    texts = [f"{w} {d}" for w in ("hello", "hi", "hey", "good morning") for d in ("there", "you", "all")]
    texts += [
        f"{w} {d}"
        for w in ("book", "reserve", "schedule", "appointment")
        for d in ("massage", "facial", "nails")
    ]
    labels = ["greet"] * 12 + ["book"] * 12
    vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=(1, 3)).fit(texts)
    model = CalibratedLinearClassifier().fit(vectorizer.transform(texts), labels, texts)
    gibberish, named = ["asdkjh qwe"], ["Zofia Wiśniewska"]
    assert model.predict_proba(vectorizer.transform(gibberish), gibberish).tolist() == [[0.5, 0.5]]
    # a capitalised name is not an unknown word: not forced to the uniform row
    assert model.predict_proba(vectorizer.transform(named), named).tolist() != [[0.5, 0.5]]
    assert model.predict_proba(vectorizer.transform(["hello you"]), ["hello you"]).max() > 0.5
