"""Message features for the intent classifier: sparse n-grams, pattern hits, a sentence embedding.

Each Rasa ``CountVectorsFeaturizer`` becomes one TF-IDF block with its ``analyzer``
(word / char / char_wb), ``min_ngram``/``max_ngram``, ``lowercase``, ``min_df``,
``max_df`` and ``max_features``; ``RegexFeaturizer`` becomes one binary column per regex
or lookup table; the sentence embedding (MiniLM or its static distillation) is a dense
block. All blocks are L2-normalised per row, so no block drowns the others, and stacked
into one CSR matrix for the linear classifier.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.patterns import PatternMatch, PatternSet

# Words as the featurizer sees them: runs of letters/digits, single characters included
# ("i", "2"), which scikit-learn's default pattern would drop.
WORD_PATTERN = r"(?u)\b\w+\b"


class VectorizerOptions(BaseModel):
    """The options of one ``CountVectorsFeaturizer`` that change what is counted."""

    model_config = ConfigDict(extra="ignore")

    analyzer: Literal["word", "char", "char_wb"] = "word"
    min_ngram: int = 1
    max_ngram: int = 1
    lowercase: bool = True
    min_df: int | float = 1
    max_df: int | float = 1.0
    max_features: int | None = None


class Featurizer:
    """Turns texts (plus their pattern matches and embeddings) into one feature matrix."""

    def __init__(
        self, vectorizers: list[VectorizerOptions], pattern_names: list[str], embedding_weight: float = 1.0
    ) -> None:
        self.options = vectorizers
        self.pattern_names = pattern_names
        self.embedding_weight = embedding_weight
        self._vectorizers: list[TfidfVectorizer] = []
        self._analyzers: list[Callable[[str], list[str]]] | None = None
        self._pattern_index = {name: i for i, name in enumerate(pattern_names)}

    def fit(self, texts: Sequence[str]) -> None:
        """Learn the n-gram vocabularies and IDF weights from the training texts."""
        self._vectorizers = []
        for opts in self.options:
            vectorizer = TfidfVectorizer(
                analyzer=opts.analyzer,
                ngram_range=(opts.min_ngram, opts.max_ngram),
                lowercase=opts.lowercase,
                min_df=opts.min_df,
                max_df=opts.max_df,
                max_features=opts.max_features,
                sublinear_tf=True,
                token_pattern=WORD_PATTERN if opts.analyzer == "word" else None,
                dtype=np.float32,
            )
            try:
                vectorizer.fit(texts)
            except ValueError:
                # Every n-gram pruned by min_df/max_df (tiny data): this block adds nothing.
                continue
            self._vectorizers.append(vectorizer)
        self._analyzers = None

    def transform(
        self,
        texts: Sequence[str],
        matches: Sequence[list[PatternMatch]] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> sparse.csr_matrix:
        """The feature matrix, one row per text."""
        if self._analyzers is None:
            self._analyzers = [v.build_analyzer() for v in self._vectorizers]
        blocks: list[sparse.spmatrix] = [
            _tfidf(v, analyze, texts) for v, analyze in zip(self._vectorizers, self._analyzers, strict=True)
        ]
        if self.pattern_names:
            blocks.append(self._pattern_block(len(texts), matches or [[] for _ in texts]))
        if embeddings is not None and self.embedding_weight > 0:
            blocks.append(sparse.csr_matrix(embeddings.astype(np.float32) * self.embedding_weight))
        if not blocks:
            return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def _pattern_block(self, rows: int, matches: Sequence[list[PatternMatch]]) -> sparse.csr_matrix:
        block = np.zeros((rows, len(self.pattern_names)), dtype=np.float32)
        for row, found in enumerate(matches):
            for m in found:
                column = self._pattern_index.get(m.name)
                if column is not None:
                    block[row, column] = 1.0
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        return sparse.csr_matrix(block / np.maximum(norms, 1.0))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_analyzers"] = None  # closures; rebuilt on first use
        return state

    @property
    def n_features(self) -> int:
        """Width of the matrix :meth:`transform` returns without embeddings."""
        return sum(len(v.vocabulary_) for v in self._vectorizers) + len(self.pattern_names)


def _tfidf(
    vectorizer: TfidfVectorizer, analyze: Callable[[str], list[str]], texts: Sequence[str]
) -> sparse.csr_matrix:
    """``vectorizer.transform(texts)`` (sublinear tf, idf, L2 norm) without scikit-learn's
    per-call input validation, which costs more than the arithmetic for one chat message."""
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    idf = vectorizer.idf_
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for text in texts:
        counts = Counter(j for gram in analyze(text) if (j := vocabulary.get(gram)) is not None)
        columns = sorted(counts)
        weights = [(1.0 + math.log(counts[j])) * float(idf[j]) for j in columns]
        norm = math.sqrt(sum(w * w for w in weights)) or 1.0
        indices.extend(columns)
        values.extend(w / norm for w in weights)
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
        shape=(len(texts), len(vocabulary)),
    )


def patterns_for(texts: Sequence[str], patterns: PatternSet) -> list[list[PatternMatch]]:
    """Pattern matches of every text (an empty list each when there are no patterns)."""
    if not len(patterns):
        return [[] for _ in texts]
    return [patterns.find(t) for t in texts]
