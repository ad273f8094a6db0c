"""Intent classification (and response selection) with calibrated confidences.

Every Rasa intent classifier name (``DIETClassifier``, ``SklearnIntentClassifier``,
``LogisticRegressionClassifier``, ...) maps onto :class:`CalibratedLinearClassifier`: a
linear SVM (or multinomial logistic regression) over the sparse+dense features, whose
scores become probabilities through a softmax calibrated on *out-of-fold* scores:

    p = softmax(scores * coverage**alpha / temperature)

where ``coverage`` is the share of the message's words seen in training (or one typo
away from a seen word, so "helo" still counts). Both
``temperature`` and ``alpha`` minimise the held-out log-loss, so a confidence of 0.8
means right about 80% of the time on unseen messages (what the FallbackClassifier
threshold needs to mean something), and a message made mostly of words the bot never
saw ("qwxz plorf") is unsure instead of confidently mapped to the nearest intent.

Given the messages' sentence embeddings, the probabilities are then scaled by how typical
the message is of the predicted label (:mod:`bot.nlu.typicality`), so a message unlike
every intent's examples is unsure too.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.svm import LinearSVC

from bot.nlu.typicality import CentroidTypicality, centroids, similarity
from bot.nlu.vocabulary import Vocabulary

Model = Literal["svm", "logreg"]
MAX_FOLDS = 5
LARGE_DATA = 2000  # examples; above this three folds estimate the calibration just as well, faster
_WORD = re.compile(r"\w+")
# A capitalised word ("Zofia", "Wiśniewska", "Ольга"): most likely a name, which no training
# set can list, so coverage does not count it as unknown (see ``words``).
_PROPER = re.compile(r"[^\W\d_][^\W\d_A-ZА-ЯЁІЇЄҐ]+")


def words(text: str) -> set[str]:
    """The lower-cased words of a message, as coverage counts them.

    Capitalised words are left out: a client answering with their name ("Zofia
    Wiśniewska") wrote nothing the bot should be unsure about, while the same message
    made unsure by coverage fell back and was answered from the knowledge base. Words in
    capitals ("WORST") and lower-case gibberish still count.
    """
    return {w.lower() for w in _WORD.findall(text) if not (w[0].isupper() and _PROPER.fullmatch(w))}


class CalibratedLinearClassifier:
    """A linear classifier whose softmax temperature is fitted on held-out folds."""

    def __init__(
        self, model: Model = "svm", C: float = 1.0, random_state: int = 42, similarity_weight: float = 0.0
    ) -> None:
        self.model = model
        self.C = C
        self.random_state = random_state
        self.similarity_weight = similarity_weight
        self.typicality: CentroidTypicality | None = None
        self.labels: list[str] = []
        self.temperature = 1.0
        self.alpha = 0.0
        self.vocabulary = Vocabulary(set())
        self._weights = np.zeros((0, 0), dtype=np.float32)  # features x labels, C-contiguous
        self._intercept = np.zeros(0, dtype=np.float32)

    def fit(
        self, X: sparse.csr_matrix, y: list[str], texts: list[str], embeddings: np.ndarray | None = None
    ) -> CalibratedLinearClassifier:
        """Fit on all data; fit the calibration on cross-validated scores of the same model.

        With ``embeddings`` (one normalised row per message) and a positive
        ``similarity_weight``, also learn the label centroids that scale confidences by
        typicality.
        """
        self.labels = sorted(set(y))
        tokens = [words(t) for t in texts]
        self.vocabulary = Vocabulary(set().union(*tokens))
        self.typicality = None
        if len(self.labels) < 2:
            return self  # a single class is certain; nothing to learn
        target = np.array([self.labels.index(label) for label in y])
        self._weights, self._intercept = self._fit_linear(X, target)
        use = embeddings if self.similarity_weight > 0 else None
        held_out = self._out_of_fold_scores(X, target, tokens, use)
        if held_out is not None:
            scores, cover, similarities = held_out
            self.temperature, self.alpha = _fit_calibration(scores, cover, target)
            if use is not None and similarities is not None:
                correct = scores.argmax(axis=1) == target
                self.typicality = CentroidTypicality.fit(
                    use, target, len(self.labels), similarities, correct, self.similarity_weight
                )
        return self

    def predict_proba(
        self, X: sparse.csr_matrix, texts: list[str], embeddings: np.ndarray | None = None
    ) -> np.ndarray:
        """Calibrated probabilities, one row per message, columns in :attr:`labels` order.

        Given ``embeddings`` and a fitted typicality, each row is scaled by its message's
        typicality factor (so it sums to that factor, at most 1).
        """
        if len(self.labels) < 2:
            return np.ones((X.shape[0], len(self.labels)), dtype=np.float64)
        cover = np.array([self.vocabulary.coverage(words(t)) for t in texts])
        scores = self._scores(X, self._weights, self._intercept)
        proba = _softmax(scores * _shrink(cover, self.alpha)[:, None] / self.temperature)
        # Two or more words and not one seen in training (nor one typo away): whatever the
        # calibration learnt, the message says nothing the classifier knows ("asdkjh qwe"),
        # so no label is likely. A single unseen word ("cya") keeps its scores: the sentence
        # vector may still place it. Capitalised words (names) do not count (``words``).
        unknown = np.array([len(words(t)) >= 2 for t in texts]) & (cover == 0.0)
        if unknown.any():
            proba[unknown] = 1.0 / len(self.labels)
        if self.typicality is not None and embeddings is not None:
            proba *= self.typicality.factor(embeddings, proba.argmax(axis=1))[:, None]
        return proba

    def rank(
        self, X: sparse.csr_matrix, texts: list[str], limit: int = 10, embeddings: np.ndarray | None = None
    ) -> list[list[tuple[str, float]]]:
        """Per message, the ``limit`` most likely labels with their confidence, best first."""
        proba = self.predict_proba(X, texts, embeddings)
        ranked: list[list[tuple[str, float]]] = []
        for row in proba:
            order = np.argsort(-row, kind="stable")[:limit]
            ranked.append([(self.labels[i], float(row[i])) for i in order])
        return ranked

    def __setstate__(self, state: dict[str, object]) -> None:
        # Models pickled before typicality existed load unchanged (no typicality factor).
        state.setdefault("similarity_weight", 0.0)
        state.setdefault("typicality", None)
        self.__dict__.update(state)

    # ---- internals ------------------------------------------------------------
    def _fit_linear(self, X: sparse.csr_matrix, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        classes = np.unique(target)
        if self.model == "logreg":
            est = LogisticRegression(C=self.C, max_iter=2000, random_state=self.random_state)
        else:
            est = LinearSVC(C=self.C, random_state=self.random_state)
        est.fit(X, target)
        coef = np.asarray(est.coef_, dtype=np.float32)
        intercept = np.asarray(est.intercept_, dtype=np.float32)
        if len(classes) == 2:  # binary models keep one weight row: expand to one per class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        # Columns for every known label, also those a fold never saw (scored as impossible).
        full_coef = np.zeros((len(self.labels), X.shape[1]), dtype=np.float32)
        full_intercept = np.full(len(self.labels), -1e4, dtype=np.float32)
        full_coef[classes] = coef
        full_intercept[classes] = intercept
        # Stored transposed and contiguous: X @ W then touches only the message's non-zero
        # rows, where a transposed view would make scipy copy the whole matrix per call.
        return np.ascontiguousarray(full_coef.T), full_intercept

    @staticmethod
    def _scores(X: sparse.csr_matrix, weights: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        return np.asarray(X @ weights, dtype=np.float64) + intercept

    def _out_of_fold_scores(
        self,
        X: sparse.csr_matrix,
        target: np.ndarray,
        tokens: list[set[str]],
        embeddings: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """Scores, word coverage and (given embeddings) similarity to the predicted label's
        centroid of every example, each by a model and centroids that did not see it."""
        smallest = min(Counter(target.tolist()).values())
        folds = min(MAX_FOLDS if len(target) < LARGE_DATA else 3, len(target))
        if folds < 2:
            return None
        splitter: StratifiedKFold | KFold
        if smallest >= folds:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        else:
            splitter = KFold(folds, shuffle=True, random_state=self.random_state)
        scores = np.zeros((len(target), len(self.labels)))
        cover = np.ones(len(target))
        similarities = None if embeddings is None else np.zeros(len(target))
        for train, test in splitter.split(X, target):
            if len(np.unique(target[train])) < 2:
                return None
            weights, intercept = self._fit_linear(X[train], target[train])
            scores[test] = self._scores(X[test], weights, intercept)
            seen = Vocabulary(set().union(*(tokens[i] for i in train)))
            cover[test] = [seen.coverage(tokens[i]) for i in test]
            if embeddings is not None and similarities is not None:
                centres = centroids(embeddings[train], target[train], len(self.labels))
                similarities[test] = similarity(embeddings[test], centres, scores[test].argmax(axis=1))
        return scores, cover, similarities


def _shrink(cover: np.ndarray, alpha: float) -> np.ndarray:
    # Floored, so a message of unknown words is near-uniform but keeps the classifier's order.
    return np.maximum(cover, 0.01) ** alpha


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_calibration(scores: np.ndarray, cover: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(temperature, alpha) minimising the negative log-likelihood of held-out predictions."""
    rows = np.arange(len(target))

    def nll(params: np.ndarray) -> float:
        log_t, alpha = params
        p = _softmax(scores * _shrink(cover, alpha)[:, None] / np.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[rows, target], 1e-12, None))))

    result = minimize(
        nll, x0=np.array([0.0, 0.5]), method="L-BFGS-B", bounds=[(np.log(1e-3), np.log(1e2)), (0.0, 3.0)]
    )
    return float(np.exp(result.x[0])), float(result.x[1])
