"""The sentiment model: a linear classifier over character and word n-grams.

Why this shape: a support message is short, often misspelt, written in English,
Polish or Ukrainian (sometimes mixed), and must be scored on every turn well inside the
turn's budget. Character n-grams carry meaning across inflections ("skandal",
"skandaliczne", "скандал") with a few hundred examples; word n-grams catch phrases
("thanks for nothing"); a logistic regression gives calibrated-enough probabilities to
turn into a score in [-1, 1]. Sentence embeddings from an injected encoder (the bundled
MiniLM, or its static distillation) can be appended as extra features; the model then
remembers the encoder's fingerprint and refuses to load with a different one.

Training and scoring are CPU work: call them from a thread inside async code.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import joblib
import numpy as np
from pydantic import BaseModel, Field
from scipy import sparse
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.utils.extmath import softmax

from bot.errors import ConfigError
from bot.sentiment.text import WORD_TOKEN_PATTERN, SurfaceFeatures, normalise

SentimentLabel = Literal["negative", "neutral", "positive"]
LABELS: tuple[SentimentLabel, ...] = ("negative", "neutral", "positive")
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """Anything that turns texts into fixed-size vectors (see ``bot.nlu.embeddings``)."""

    fingerprint: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text, as rows of a 2-d array."""
        ...


class SentimentExample(BaseModel):
    """One labelled message; ``language`` is informational (reports per language)."""

    text: str
    label: SentimentLabel
    language: str | None = None


class Sentiment(BaseModel):
    """How a message feels: ``score`` = P(positive) - P(negative), in [-1, 1]; ``label`` is
    the most probable class and ``confidence`` its probability."""

    score: float = Field(ge=-1.0, le=1.0)
    label: SentimentLabel
    confidence: float = Field(ge=0.0, le=1.0)


class SentimentOptions(BaseModel):
    """Hyper-parameters; the defaults were chosen on the support-domain training set and
    checked on the XLM-T validation split (``bench/sentiment.py``)."""

    char_ngrams: tuple[int, int] = (2, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    max_char_features: int | None = 200_000
    max_word_features: int | None = 100_000
    c: float = Field(default=4.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    surface_weight: float = 1.0
    embedding_weight: float = 1.0
    max_iter: int = 3000


def _vectorizer(options: SentimentOptions) -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=options.char_ngrams,
                    preprocessor=normalise,
                    sublinear_tf=True,
                    min_df=1,
                    max_features=options.max_char_features,
                    dtype=np.float32,
                ),
            ),
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=options.word_ngrams,
                    preprocessor=normalise,
                    token_pattern=WORD_TOKEN_PATTERN,
                    sublinear_tf=True,
                    min_df=1,
                    max_features=options.max_word_features,
                    dtype=np.float32,
                ),
            ),
            ("surface", SurfaceFeatures(weight=options.surface_weight)),
        ]
    )


class SentimentModel:
    """Scores messages; build with :meth:`train` or :meth:`load`."""

    def __init__(
        self,
        vectorizer: FeatureUnion,
        classifier: LogisticRegression,
        options: SentimentOptions,
        encoder: Encoder | None = None,
        encoder_fingerprint: str | None = None,
    ) -> None:
        self.vectorizer = vectorizer
        self.classifier = classifier
        self.options = options
        self.encoder = encoder
        self.encoder_fingerprint = encoder_fingerprint
        # class order of the fitted classifier -> our label order
        classes = [str(c) for c in classifier.classes_]
        self._index = {label: classes.index(label) if label in classes else None for label in LABELS}

    # ---- training ---------------------------------------------------------
    @classmethod
    def train(
        cls,
        examples: Sequence[SentimentExample],
        *,
        options: SentimentOptions | None = None,
        encoder: Encoder | None = None,
    ) -> SentimentModel:
        """Fit on labelled examples; every label should occur at least once."""
        options = options or SentimentOptions()
        if not examples:
            raise ConfigError("sentiment training needs at least one example")
        labels = sorted({e.label for e in examples})
        if len(labels) < 2:
            raise ConfigError(f"sentiment training needs two or more labels, got {labels}")
        texts = [e.text for e in examples]
        vectorizer = _vectorizer(options)
        sparse_rows = vectorizer.fit_transform(texts)
        features = _with_embeddings(sparse_rows, encoder, texts, options.embedding_weight)
        classifier = LogisticRegression(
            C=options.c, class_weight=options.class_weight, max_iter=options.max_iter
        )
        classifier.fit(features, [e.label for e in examples])
        return cls(vectorizer, classifier, options, encoder, encoder.fingerprint if encoder else None)

    # ---- scoring ------------------------------------------------------------
    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Rows of P(negative), P(neutral), P(positive) (0 for a label never trained on)."""
        if len(texts) == 1 and self.encoder is None:
            one = self._one_text()
            if one is not None:
                return self._in_label_order(one.probabilities(texts[0]), 1)
        rows = self.vectorizer.transform(list(texts))
        features = _with_embeddings(rows, self.encoder, list(texts), self.options.embedding_weight)
        return self._in_label_order(self.classifier.predict_proba(features), len(texts))

    def _one_text(self) -> _OneText | None:
        if not hasattr(self, "_one"):
            self._one = _OneText.build(self.vectorizer, self.classifier)
        return self._one

    def _in_label_order(self, raw: np.ndarray, count: int) -> np.ndarray:
        out = np.zeros((count, len(LABELS)), dtype=np.float64)
        for j, label in enumerate(LABELS):
            index = self._index[label]
            if index is not None:
                out[:, j] = raw[:, index]
        return out

    def score_many(self, texts: Sequence[str]) -> list[Sentiment]:
        """One :class:`Sentiment` per text (batching is much cheaper per text)."""
        if not texts:
            return []
        return [_sentiment(row) for row in self.probabilities(texts)]

    def score(self, text: str) -> Sentiment:
        """The sentiment of one message."""
        return self.score_many([text])[0]

    def predict(self, texts: Sequence[str]) -> list[SentimentLabel]:
        """The most probable label per text."""
        return [s.label for s in self.score_many(texts)]

    # ---- persistence ----------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the fitted model to ``directory`` (created if missing)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {"vectorizer": self.vectorizer, "classifier": self.classifier}, directory / "sentiment.joblib"
        )
        meta = {
            "format_version": FORMAT_VERSION,
            "options": self.options.model_dump(mode="json"),
            "encoder_fingerprint": self.encoder_fingerprint,
        }
        (directory / "sentiment.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, encoder: Encoder | None = None) -> SentimentModel:
        """Load a model saved by :meth:`save`; a model trained with an encoder needs the same one.

        The joblib file is a pickle: load only models this project wrote.
        """
        directory = Path(directory)
        meta_path = directory / "sentiment.json"
        if not meta_path.is_file():
            raise ConfigError(f"no sentiment model in {directory}")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"{meta_path}: unsupported format version {meta.get('format_version')}")
        wanted = meta.get("encoder_fingerprint")
        if wanted and (encoder is None or encoder.fingerprint != wanted):
            got = encoder.fingerprint if encoder else "none"
            raise ConfigError(f"{directory}: the sentiment model needs encoder {wanted}, got {got}")
        parts = joblib.load(directory / "sentiment.joblib")
        options = SentimentOptions.model_validate(meta["options"])
        return cls(parts["vectorizer"], parts["classifier"], options, encoder if wanted else None, wanted)


class _OneText:
    """One message scored with the fitted model's own arithmetic, minus scikit-learn's
    per-call machinery (input validation, output containers, FeatureUnion's job dispatch),
    which cost several milliseconds for a one-message batch: a tenth of a whole turn.

    Each step is the one scikit-learn runs (``CountVectorizer._count_vocab``, then
    ``TfidfTransformer.transform``, the union's ``hstack``, ``LogisticRegression.predict_proba``)
    on the same arrays in the same order, so the probabilities are the same numbers; :meth:`build`
    checks that on probe texts and answers None (scikit-learn then scores) for a model of another
    shape or a scikit-learn that computes differently.
    """

    PROBES = ("Thank you so much!", "this is a rip-off, I want my money back", "ok", "Дякую, до зустрічі")

    def __init__(
        self, blocks: list[tuple[TfidfVectorizer | SurfaceFeatures, Any]], classifier: LogisticRegression
    ) -> None:
        self.blocks = blocks
        self.coef_t = classifier.coef_.T
        self.intercept = classifier.intercept_
        self.binary = len(classifier.classes_) <= 2

    @classmethod
    def build(cls, vectorizer: FeatureUnion, classifier: LogisticRegression) -> _OneText | None:
        """The fast scorer for this model, or None when it cannot reproduce scikit-learn's numbers."""
        if vectorizer.transformer_weights or not hasattr(classifier, "coef_"):
            return None
        blocks: list[tuple[TfidfVectorizer | SurfaceFeatures, Any]] = []
        for _, part in vectorizer.transformer_list:
            if isinstance(part, TfidfVectorizer) and not part.binary:
                blocks.append((part, part.build_analyzer()))
            elif isinstance(part, SurfaceFeatures):
                blocks.append((part, None))
            else:
                return None
        one = cls(blocks, classifier)
        try:
            for probe in cls.PROBES:
                expected = classifier.predict_proba(vectorizer.transform([probe]))
                if not np.array_equal(one.probabilities(probe), expected):
                    log.info("sentiment: scored through scikit-learn (the one-message path differs)")
                    return None
        except (AttributeError, TypeError, ValueError):
            return None
        return one

    def probabilities(self, text: str) -> np.ndarray:
        """The classifier's probabilities for ``text`` (one row), in its class order."""
        data: list[np.ndarray] = []
        columns: list[np.ndarray] = []
        offset = 0
        for part, analyse in self.blocks:
            if isinstance(part, SurfaceFeatures):
                dense = part.transform([text])[0]
                nonzero = np.flatnonzero(dense)  # what the union's hstack keeps of a dense block
                data.append(dense[nonzero])
                columns.append(nonzero + offset)
                offset += dense.shape[0]
                continue
            counts: dict[int, int] = {}
            for gram in analyse(text):
                index = part.vocabulary_.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            order = np.argsort(indices, kind="stable")
            values = np.fromiter(counts.values(), dtype=np.intc, count=len(counts))[order].astype(part.dtype)
            indices = indices[order]
            if part.sublinear_tf:
                np.log(values, values)
                values += 1.0
            if part.use_idf:
                values *= part.idf_[indices]
            if part.norm not in (None, "l2"):
                raise ValueError(f"unsupported norm {part.norm!r}")
            if part.norm == "l2":
                # as scikit-learn's in-place row normalisation: each square in the values' own
                # precision, summed one by one in double, each value divided by the root in double
                total = 0.0
                for square in (values * values).tolist():
                    total += square
                if total != 0.0:
                    values = (values / np.float64(math.sqrt(total))).astype(part.dtype)
            data.append(values)
            columns.append(indices + offset)
            offset += len(part.vocabulary_)
        values = np.concatenate(data) if data else np.zeros(0)
        row = sparse.csr_array(
            (values, np.concatenate(columns).astype(np.int32), np.array([0, len(values)], dtype=np.int32)),
            shape=(1, offset),
        )
        decision = np.asarray(row @ self.coef_t) + self.intercept
        if self.binary:
            positive = expit(decision.ravel())
            return np.column_stack([1 - positive, positive])
        return softmax(decision, copy=False)


def _with_embeddings(
    rows: sparse.spmatrix, encoder: Encoder | None, texts: list[str], weight: float
) -> sparse.spmatrix:
    if encoder is None:
        return rows
    dense = np.asarray(encoder.encode(texts), dtype=np.float32) * weight
    return sparse.hstack([rows, sparse.csr_matrix(dense)], format="csr")


def _sentiment(row: np.ndarray) -> Sentiment:
    best = int(np.argmax(row))
    score = float(np.clip(row[2] - row[0], -1.0, 1.0))
    return Sentiment(score=score, label=LABELS[best], confidence=float(np.clip(row[best], 0.0, 1.0)))
