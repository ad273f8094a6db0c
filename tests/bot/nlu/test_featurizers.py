"""Sparse n-gram, pattern and dense embedding features stacked into one matrix."""

from __future__ import annotations

import numpy as np

from bot.nlu.featurizers import Featurizer, VectorizerOptions, patterns_for
from bot.nlu.patterns import PatternSet

TEXTS = ["book a manicure", "cancel my booking", "hi", "I need a pedicure"]


def test_analyzer_and_ngram_options_are_respected() -> None:
    words = Featurizer([VectorizerOptions(analyzer="word", min_ngram=1, max_ngram=2)], [])
    words.fit(TEXTS)
    vocabulary = words._vectorizers[0].vocabulary_
    assert {"book", "book a", "a manicure", "i", "i need"} <= set(vocabulary)  # single letters kept
    chars = Featurizer([VectorizerOptions(analyzer="char_wb", min_ngram=2, max_ngram=3)], [])
    chars.fit(TEXTS)
    assert all(2 <= len(g) <= 3 for g in chars._vectorizers[0].vocabulary_)
    assert " hi" in chars._vectorizers[0].vocabulary_


def test_blocks_are_stacked_with_patterns_and_embeddings() -> None:
    patterns = PatternSet([], {"service": ["manicure", "pedicure"]})
    featurizer = Featurizer(
        [VectorizerOptions(), VectorizerOptions(analyzer="char_wb", max_ngram=3)], patterns.names
    )
    featurizer.fit(TEXTS)
    embeddings = np.eye(4, 8, dtype=np.float32)
    X = featurizer.transform(TEXTS, patterns_for(TEXTS, patterns), embeddings)
    assert X.shape == (4, featurizer.n_features + 8)
    pattern_column = featurizer.n_features - 1
    assert X[0, pattern_column] == 1.0 and X[1, pattern_column] == 0.0 and X[3, pattern_column] == 1.0
    assert np.allclose(X[:, -8:].toarray(), embeddings)


def test_unseen_words_give_an_empty_word_row() -> None:
    featurizer = Featurizer([VectorizerOptions()], [])
    featurizer.fit(TEXTS)
    assert featurizer.transform(["zzz qqq"]).nnz == 0


def test_blocks_pruned_to_nothing_are_skipped() -> None:
    featurizer = Featurizer(
        [VectorizerOptions(min_df=5), VectorizerOptions(analyzer="char_wb", max_ngram=2)], []
    )
    featurizer.fit(TEXTS)
    assert len(featurizer._vectorizers) == 1
    assert featurizer.transform(TEXTS).shape[0] == 4


def test_fast_transform_equals_scikit_learn() -> None:
    options = [VectorizerOptions(max_ngram=2), VectorizerOptions(analyzer="char_wb", max_ngram=4)]
    featurizer = Featurizer(options, [])
    featurizer.fit(TEXTS)
    probe = ["Book a MANICURE, book it!", "zzz", "", "I need a pedicure"]
    expected = [v.transform(probe).toarray() for v in featurizer._vectorizers]
    assert np.allclose(featurizer.transform(probe).toarray(), np.hstack(expected), atol=1e-6)
