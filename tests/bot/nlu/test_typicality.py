"""Typicality: a message unlike its predicted intent's examples loses confidence; a typical one keeps it."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.classifier import CalibratedLinearClassifier
from bot.nlu.embeddings import StaticEncoder
from bot.nlu.featurizers import Featurizer, VectorizerOptions
from bot.nlu.typicality import CentroidTypicality, centroids, similarity

TRAIN = {
    "book": [
        "book a manicure",
        "I want an appointment for a massage",
        "schedule a facial for friday",
        "reserve a slot for a pedicure",
        "make a booking for a haircut",
        "can I book yoga tomorrow",
        "I would like to book a massage",
        "appointment for nails please",
    ],
    "price": [
        "how much is a manicure",
        "what does a massage cost",
        "price of a facial",
        "how much for a pedicure",
        "what are your prices",
        "is a haircut expensive",
        "cost of yoga classes",
        "price list for nails",
    ],
    "hours": [
        "when are you open",
        "what are your opening hours",
        "are you open on sunday",
        "what time do you close",
        "until when are you open today",
        "opening times please",
        "do you open early on monday",
        "hours on saturday",
    ],
}


def test_centroids_are_normalised_means_and_zero_for_an_unseen_label() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    centres = centroids(vectors, np.array([0, 0, 1]), 3)
    assert np.allclose(centres[0], [2**-0.5, 2**-0.5])
    assert np.allclose(centres[1], [1.0, 0.0])
    assert np.allclose(centres[2], [0.0, 0.0])
    assert np.allclose(similarity(vectors, centres, np.array([1, 1, 0])), [1.0, 0.0, 2**-0.5])


def test_factor_keeps_typical_messages_and_shrinks_atypical_ones_exponentially() -> None:
    centres = np.array([[1.0, 0.0]], dtype=np.float32)
    typicality = CentroidTypicality(centres, floor=0.8, weight=10.0)
    angles = np.arccos([1.0, 0.8, 0.7, 0.5])
    messages = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    factor = typicality.factor(messages, np.zeros(4, dtype=int))
    assert np.allclose(factor[:2], 1.0)
    assert np.allclose(factor[2:], np.exp([-1.0, -3.0]), atol=1e-5)


def test_floor_is_learned_from_correct_held_out_examples_only() -> None:
    vectors = np.eye(3, dtype=np.float32)
    target = np.array([0, 1, 2])
    sims = np.linspace(0.0, 1.0, 11)
    correct = np.array([False] * 5 + [True] * 6)
    fitted = CentroidTypicality.fit(vectors, target, 3, sims, correct, 10.0)
    assert fitted is not None and fitted.floor == pytest.approx(np.quantile(sims[5:], 0.1))
    assert CentroidTypicality.fit(vectors, target, 3, sims, correct, 0.0) is None
    assert CentroidTypicality.fit(vectors, target, 3, sims, np.zeros(11, dtype=bool), 10.0) is None


@pytest.fixture(scope="module")
def encoder() -> StaticEncoder:
    return StaticEncoder.distilled()


def _fit(encoder: StaticEncoder, weight: float) -> tuple[Featurizer, CalibratedLinearClassifier]:
    texts = [t for examples in TRAIN.values() for t in examples]
    labels = [intent for intent, examples in TRAIN.items() for _ in examples]
    featurizer = Featurizer([VectorizerOptions(analyzer="char_wb", max_ngram=4)], [])
    featurizer.fit(texts)
    embeddings = encoder.encode(texts)
    X = featurizer.transform(texts, None, embeddings)
    model = CalibratedLinearClassifier("svm", 1.0, similarity_weight=weight)
    return featurizer, model.fit(X, labels, texts, embeddings)


def test_classifier_scales_confidence_by_typicality_without_changing_the_ranking(
    encoder: StaticEncoder,
) -> None:
    featurizer, plain = _fit(encoder, 0.0)
    _, typical = _fit(encoder, 10.0)
    assert plain.typicality is None and typical.typicality is not None
    probe = ["when do you open on sunday", "the weather in peru is rainy in march"]
    embeddings = encoder.encode(probe)
    X = featurizer.transform(probe, None, embeddings)
    before = plain.predict_proba(X, probe, embeddings)
    after = typical.predict_proba(X, probe, embeddings)
    # Same linear model and calibration: the order of every ranking is unchanged.
    assert np.array_equal(np.argsort(-before, axis=1), np.argsort(-after, axis=1))
    assert typical.labels[int(after[0].argmax())] == "hours"
    # The in-scope question is typical of "hours"; the weather is like nothing taught.
    assert after[0].sum() == pytest.approx(1.0)
    assert after[1].sum() < 0.9
    assert after[1].max() < before[1].max()
    # Without embeddings at parse time there is nothing to compare: plain probabilities.
    assert np.allclose(typical.predict_proba(X, probe), before)
