"""MemoizationPolicy and AugmentedMemoizationPolicy: stories remembered turn by turn.

Follows ``rasa.core.policies.memoization``: the last ``max_history`` states before
every action of every (non-augmented) story are memorized with that action; at
prediction the conversation's last states are looked up, and a hit is predicted with
confidence 1. States that lead to different actions in different stories are
forgotten, so a hit is never a guess. ``max_history`` defaults to Rasa 3's ``None``:
the whole conversation must match a story from its start.

The augmented variant, when the exact lookup fails, forgets the beginning of the
conversation one action at a time (slots set there are forgotten too) and looks up
again, so a story can be recognised in the middle of a longer conversation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.domain import ACTION_LISTEN, Domain
from bot.events import ActionExecuted, Event
from bot.policies.base import Policy, PolicyOutput, PredictionContext, originals, training_examples
from bot.policies.featurize import (
    FrozenState,
    State,
    StateFeaturizer,
    freeze_all,
    past_states,
    states_from_json,
    states_json,
)
from bot.policies.generator import TrainingTracker

MEMOIZATION_POLICY_PRIORITY = 3
DEFAULT_MAX_HISTORY: int | None = None  # Rasa 3: unbounded


class MemoizationPolicy(Policy):
    """Predicts exactly what a story did after the same states (see the module docstring)."""

    default_priority = MEMOIZATION_POLICY_PRIORITY

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        raw = self.params.get("max_history", DEFAULT_MAX_HISTORY)
        self.max_history: int | None = int(raw) if raw else None
        self.use_nlu_confidence = bool(self.params.get("use_nlu_confidence_as_score", False))
        self.lookup: dict[tuple[FrozenState, ...], str] = {}
        self._key_lengths: set[int] = set()

    def train(self, trackers: Sequence[TrainingTracker], domain: Domain, featurizer: StateFeaturizer) -> None:
        """Memorize the stories (rules and augmented stories are not for this policy)."""
        stories = [t for t in originals(trackers) if not t.is_rule]
        lookup: dict[tuple[FrozenState, ...], str] = {}
        ambiguous: set[tuple[FrozenState, ...]] = set()
        for states, action in training_examples(stories, featurizer):
            key = freeze_all(self._sliced(states))
            if not key or key in ambiguous:
                continue
            if key in lookup and lookup[key] != action:
                # stories disagree about what follows these states: remember neither
                ambiguous.add(key)
                del lookup[key]
            elif key not in lookup:
                lookup[key] = action
        self._set_lookup(lookup)

    def predict(self, ctx: PredictionContext) -> PolicyOutput:
        """The memorized action for the conversation's last states, if any."""
        states = self._sliced(ctx.states(ignore_rule_only_turns=True))
        action = self.recall(states, ctx)
        if action is None:
            return self.output({})
        score = 1.0
        message = ctx.tracker.latest_message
        if self.use_nlu_confidence and message is not None:
            score = message.parse_data.intent.confidence
        return self.output({action: score})

    def recall(self, states: list[State], ctx: PredictionContext) -> str | None:
        """The action memorized for exactly these states."""
        return self.lookup.get(freeze_all(states))

    def _sliced(self, states: list[State]) -> list[State]:
        return states[-self.max_history :] if self.max_history else states

    def _set_lookup(self, lookup: dict[tuple[FrozenState, ...], str]) -> None:
        self.lookup = lookup
        self._key_lengths = {len(k) for k in lookup}

    # ---- persistence -------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the memorized turns as JSON (states in Rasa's shape, readable)."""
        turns = [[states_json(_thaw(key)), action] for key, action in self.lookup.items()]
        data = {"params": self.params, "max_history": self.max_history, "turns": turns}
        (directory / "memorized_turns.json").write_text(json.dumps(data, indent=1))

    def load_state(self, directory: Path) -> None:
        """Read back what :meth:`save` wrote."""
        data = json.loads((directory / "memorized_turns.json").read_text())
        self.max_history = data["max_history"]
        self._set_lookup({freeze_all(states_from_json(key)): action for key, action in data["turns"]})


class AugmentedMemoizationPolicy(MemoizationPolicy):
    """Memoization that also recognises a story after forgetting the conversation's start."""

    def recall(self, states: list[State], ctx: PredictionContext) -> str | None:
        """Exact lookup first, then lookups of ever shorter conversations."""
        action = self.lookup.get(freeze_all(states))
        if action is not None:
            return action
        return self._recall_truncated(states, ctx)

    def _recall_truncated(self, old: list[State], ctx: PredictionContext) -> str | None:
        applied = ctx.applied
        begin = _trim_start(applied, self.max_history)
        # the conversation cut before each of its actions in turn, oldest cut first
        cuts = [i for i in range(begin, len(applied)) if isinstance(applied[i], ActionExecuted)]
        for k, cut in enumerate(cuts):
            # without max_history a key is as long as the whole conversation: skip impossible lengths
            if not self.max_history and len(cuts) - k + 1 not in self._key_lengths:
                continue
            # a fresh tracker: slots set before the cut are forgotten, as in Rasa's init_copy
            states = self._sliced(
                past_states(
                    applied[cut:],
                    ctx.featurizer,
                    ignore_rule_only_turns=True,
                    rule_only_data=ctx.rule_only_data,
                )
            )
            if states != old:
                action = self.lookup.get(freeze_all(states))
                if action is not None:
                    return action
                old = states
        return None


def _thaw(key: tuple[FrozenState, ...]) -> list[State]:
    return [{kind: dict(sub) for kind, sub in state} for state in key]


def _trim_start(applied: list[Event], max_history: int | None) -> int:
    """Where the last ``max_history`` actions begin, at a listen so that the latest user
    message stays part of the history (0 without ``max_history``)."""
    if not max_history:
        return 0
    actions = 0
    for index in range(len(applied) - 1, -1, -1):
        event = applied[index]
        if isinstance(event, ActionExecuted):
            actions += 1
            if actions > max_history and event.name == ACTION_LISTEN:
                return index
    return 0
