"""The ML policy standing in for Rasa's TEDPolicy (``TEDPolicy`` in config.yml maps here).

It learns from stories, including augmented ones (random story ends glued to story
starts), so it generalises to conversations no story spells out: after a bot turn
it listens, a known intent gets its usual answer whatever came before.

Each of the last ``max_history`` states is one-hot encoded (intent, entity labels,
previous action, active loop, slot features, plus a "state present" bit) at a fixed
position counted from the end, plus two pairs of the current state a linear model
cannot form itself; a multinomial logistic regression maps that to the next action.
Its probabilities come from a log-loss fit, so an unfamiliar situation scores low and
loses to the rule policy's fallback threshold; it never saw rules, though, and can be
confidently wrong about rule-only behaviour, which is why rules and memoization
outrank it. Training is deterministic (lbfgs) and takes seconds; prediction is a
sparse dot product (tens of microseconds).

Parameters: ``max_history`` (default 5), ``random_seed`` (42, also seeds story
augmentation), ``regularization_c`` (1.0). TED's other options (epochs, ...) are ignored.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from bot.domain import Domain
from bot.policies.base import Policy, PolicyOutput, PredictionContext, training_examples
from bot.policies.featurize import (
    ACTION_NAME,
    ACTION_TEXT,
    ACTIVE_LOOP,
    ENTITIES,
    INTENT,
    LOOP_NAME,
    PREV_ACTION,
    SLOTS,
    USER,
    State,
    StateFeaturizer,
    freeze_all,
    slot_features,
)
from bot.policies.generator import TrainingTracker

log = logging.getLogger(__name__)

ML_POLICY_PRIORITY = 1
DEFAULT_MAX_HISTORY = 5
DEFAULT_C = 1.0
MAX_ITERATIONS = 2000


class MLPolicy(Policy):
    """Logistic regression over the last ``max_history`` dialogue states."""

    default_priority = ML_POLICY_PRIORITY

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.max_history = int(self.params.get("max_history") or DEFAULT_MAX_HISTORY)
        self.seed = int(self.params.get("random_seed", 42))
        self.c = float(self.params.get("regularization_c", DEFAULT_C))
        self.vocab: dict[str, int] = {}
        self.slot_offsets: dict[str, int] = {}
        self.pairs: dict[str, int] = {}
        self.state_dim = 0
        self.classes: list[str] = []
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)

    # ---- features ------------------------------------------------------------------
    def _build_vocab(
        self, domain: Domain, featurizer: StateFeaturizer, examples: list[tuple[list[State], str]]
    ) -> None:
        names: list[str] = ["present", "intent:none", "action:none", "loop:none"]
        names += [f"intent:{i}" for i in domain.intent_names]
        names += [
            f"entity:{e}" for e in sorted({lbl for v in featurizer.used_entities.values() for lbl in v})
        ]
        names += [f"action:{a}" for a in domain.action_names]
        names += [f"loop:{f}" for f in domain.forms]
        seen = {n for states, _ in examples for s in states for n in _state_tokens(s)}
        names += sorted(seen - set(names))
        self.vocab = {n: i for i, n in enumerate(dict.fromkeys(names))}
        offset = len(self.vocab)
        self.slot_offsets = {}
        for name, slot in featurizer.slot_defs.items():
            self.slot_offsets[name] = offset
            offset += len(slot_features(slot, None))
        self.state_dim = offset
        pairs = sorted({p for states, _ in examples if states for p in _pair_tokens(states[-1])})
        self.pairs = {p: i for i, p in enumerate(pairs)}

    @property
    def n_features(self) -> int:
        """Window positions times the state size, plus the current state's pairs."""
        return self.state_dim * self.max_history + len(self.pairs)

    def _encode(self, states: Sequence[State]) -> tuple[list[int], list[float]]:
        """Sparse column indices and values of one window (most recent state at position 0)."""
        cols: list[int] = []
        vals: list[float] = []
        window = list(states)[-self.max_history :]
        for pos, state in enumerate(reversed(window)):
            base = pos * self.state_dim
            for token in ("present", *_state_tokens(state)):
                index = self.vocab.get(token)
                if index is not None:
                    cols.append(base + index)
                    vals.append(1.0)
            for name, value in state.get(SLOTS, {}).items():
                offset = self.slot_offsets.get(name)
                if offset is None or not isinstance(value, tuple):
                    continue
                for k, v in enumerate(value):
                    if v:
                        cols.append(base + offset + k)
                        vals.append(float(v))
        if window:
            base = self.state_dim * self.max_history
            for token in _pair_tokens(window[-1]):
                index = self.pairs.get(token)
                if index is not None:
                    cols.append(base + index)
                    vals.append(1.0)
        return cols, vals

    # ---- training ----------------------------------------------------------------------
    def train(self, trackers: Sequence[TrainingTracker], domain: Domain, featurizer: StateFeaturizer) -> None:
        """Fit on story trackers (augmented ones included); rules are left to RulePolicy."""
        stories = [t for t in trackers if not t.is_rule]
        examples: list[tuple[list[State], str]] = []
        seen: set[Any] = set()
        for states, action in training_examples(stories, featurizer):
            window = states[-self.max_history :]
            key = (freeze_all(window), action)
            if key not in seen:  # like Rasa's featurizer: each (history, action) pair once
                seen.add(key)
                examples.append((window, action))
        self._build_vocab(domain, featurizer, examples)
        labels = sorted({a for _, a in examples})
        self.classes = labels
        if len(labels) < 2:
            self.coef = np.zeros((len(labels), self.n_features))
            self.intercept = np.zeros(len(labels))
            return
        rows, cols, vals = [], [], []
        for r, (states, _) in enumerate(examples):
            c, v = self._encode(states)
            rows.extend([r] * len(c))
            cols.extend(c)
            vals.extend(v)
        x = sparse.csr_matrix((vals, (rows, cols)), shape=(len(examples), self.n_features))
        index = {a: i for i, a in enumerate(labels)}
        y = np.array([index[a] for _, a in examples])
        model = LogisticRegression(C=self.c, max_iter=MAX_ITERATIONS, random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)
        if int(np.max(model.n_iter_)) >= MAX_ITERATIONS:
            # the last iterate is still a usable model: say so instead of failing
            log.warning("ML policy: the classifier did not fully converge in %d iterations", MAX_ITERATIONS)
        self.coef = np.asarray(model.coef_, dtype=np.float64)
        self.intercept = np.asarray(model.intercept_, dtype=np.float64)
        log.info("ML policy: %d examples, %d actions, %d features", len(examples), len(labels), x.shape[1])

    # ---- prediction ------------------------------------------------------------------
    def probabilities(self, states: Sequence[State]) -> dict[str, float]:
        """Softmax over the actions seen in training for this window of states."""
        if not self.classes:
            return {}
        if len(self.classes) == 1:
            return {self.classes[0]: 1.0}
        cols, vals = self._encode(states)
        logits = self.intercept.copy()
        if cols:
            logits += self.coef[:, cols] @ np.asarray(vals)
        logits -= logits.max()
        exp = np.exp(logits)
        probs = exp / exp.sum()
        return {a: float(p) for a, p in zip(self.classes, probs, strict=True)}

    def predict(self, ctx: PredictionContext) -> PolicyOutput:
        """Scores for every action the stories use."""
        return self.output(self.probabilities(ctx.states(ignore_rule_only_turns=True)))

    # ---- persistence ---------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Weights as ``.npy`` (no pickle), vocabulary and settings as JSON."""
        meta = {
            "params": self.params,
            "max_history": self.max_history,
            "vocab": self.vocab,
            "slot_offsets": self.slot_offsets,
            "pairs": self.pairs,
            "state_dim": self.state_dim,
            "classes": self.classes,
        }
        (directory / "ml_policy.json").write_text(json.dumps(meta, indent=1))
        np.save(directory / "coef.npy", self.coef, allow_pickle=False)
        np.save(directory / "intercept.npy", self.intercept, allow_pickle=False)

    def load_state(self, directory: Path) -> None:
        """Read back what :meth:`save` wrote."""
        meta = json.loads((directory / "ml_policy.json").read_text())
        self.max_history = meta["max_history"]
        self.vocab = meta["vocab"]
        self.slot_offsets = meta["slot_offsets"]
        self.pairs = meta["pairs"]
        self.state_dim = meta["state_dim"]
        self.classes = meta["classes"]
        self.coef = np.load(directory / "coef.npy", allow_pickle=False)
        self.intercept = np.load(directory / "intercept.npy", allow_pickle=False)


def _state_tokens(state: State) -> list[str]:
    """One-hot tokens of a state ("none" when there is no intent, action or loop)."""
    user = state.get(USER, {})
    tokens = [f"intent:{user.get(INTENT) or 'none'}"]
    tokens.extend(f"entity:{e}" for e in user.get(ENTITIES, ()))
    tokens.append(f"action:{_prev(state)}")
    tokens.append(f"loop:{state.get(ACTIVE_LOOP, {}).get(LOOP_NAME) or 'none'}")
    return tokens


def _pair_tokens(state: State) -> list[str]:
    """Pairs a linear model cannot form by itself: what ran last inside which loop, and
    what the user said last after which action."""
    prev = _prev(state)
    loop = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME) or "none"
    intent = state.get(USER, {}).get(INTENT) or "none"
    return [f"action+loop:{prev}|{loop}", f"intent+action:{intent}|{prev}"]


def _prev(state: State) -> str:
    prev = state.get(PREV_ACTION, {})
    if prev.get(ACTION_NAME):
        return str(prev[ACTION_NAME])
    return f"text:{prev[ACTION_TEXT]}" if prev.get(ACTION_TEXT) else "none"
