"""What every policy shares: its output, the prediction context, training examples.

A policy scores actions (``{action: confidence}``, absent = 0) and may ask for events
to be applied before the action runs. The ensemble picks among the outputs the way
Rasa's ``DefaultPolicyPredictionEnsemble`` does (see :mod:`bot.policies.ensemble`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bot.domain import Domain
from bot.events import ActionExecuted, Event
from bot.policies.featurize import State, StateFeaturizer, action_examples, hides_rule_turn, past_states
from bot.policies.generator import TrainingTracker
from bot.tracker import Tracker


@dataclass
class PolicyOutput:
    """One policy's opinion about the next action."""

    scores: dict[str, float]
    policy: str
    priority: int
    events: list[Event] = field(default_factory=list)
    is_end_to_end: bool = False
    # a loop's happy path: overrules every prediction based on the user's message
    is_no_user: bool = False
    hide_rule_turn: bool = False

    def best(self, order: dict[str, int]) -> tuple[str | None, float]:
        """The top action and its confidence; ties go to the action earlier in the domain."""
        if not self.scores:
            return None, 0.0
        top = max(self.scores.values())
        candidates = [a for a, c in self.scores.items() if c == top]
        return min(candidates, key=lambda a: order.get(a, len(order))), top


class PredictionContext:
    """A tracker plus its states, computed once per prediction and shared by the policies."""

    def __init__(self, tracker: Tracker, featurizer: StateFeaturizer, rule_only_data: dict[str, list[str]]):
        self.tracker = tracker
        self.featurizer = featurizer
        self.rule_only_data = rule_only_data
        self.applied: list[Event] = tracker.applied_events()
        self._states: dict[bool, list[State]] = {}

    def states(self, *, ignore_rule_only_turns: bool = False) -> list[State]:
        """States of the whole conversation; the story-based view skips rule-only turns."""
        if ignore_rule_only_turns and not self._has_rule_only_parts():
            ignore_rule_only_turns = False  # both views are the same: compute once
        if ignore_rule_only_turns not in self._states:
            self._states[ignore_rule_only_turns] = past_states(
                self.applied,
                self.featurizer,
                ignore_rule_only_turns=ignore_rule_only_turns,
                rule_only_data=self.rule_only_data,
            )
        return self._states[ignore_rule_only_turns]

    def _has_rule_only_parts(self) -> bool:
        if any(self.rule_only_data.values()):
            return True
        return any(isinstance(e, ActionExecuted) and hides_rule_turn(e) for e in self.applied)


class Policy(ABC):
    """A trainable next-action predictor configured by its Rasa name and parameters."""

    default_priority: ClassVar[int] = 1

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params: dict[str, Any] = dict(params or {})
        self.priority: int = int(self.params.get("priority", self.default_priority))

    @property
    def name(self) -> str:
        """The policy's class name as it appears in predictions (``RulePolicy``, ...)."""
        return type(self).__name__

    @abstractmethod
    def train(self, trackers: Sequence[TrainingTracker], domain: Domain, featurizer: StateFeaturizer) -> None:
        """Learn from the training trackers (each policy picks the ones it supports)."""

    @abstractmethod
    def predict(self, ctx: PredictionContext) -> PolicyOutput:
        """Score the next action for the conversation in ``ctx``."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write what was learned to ``directory`` (created by the caller)."""

    @abstractmethod
    def load_state(self, directory: Path) -> None:
        """Read back what :meth:`save` wrote."""

    def output(self, scores: dict[str, float], **kwargs: Any) -> PolicyOutput:
        """A :class:`PolicyOutput` signed by this policy."""
        return PolicyOutput(scores=scores, policy=self.name, priority=self.priority, **kwargs)


def training_examples(
    trackers: Sequence[TrainingTracker],
    featurizer: StateFeaturizer,
    *,
    omit_unset_slots: bool = False,
) -> list[tuple[list[State], str]]:
    """``(states before the action, action)`` for every predictable action of the trackers."""
    out: list[tuple[list[State], str]] = []
    for tracker in trackers:
        applied = tracker.applied_events()
        states = past_states(applied, featurizer, omit_unset_slots=omit_unset_slots)
        out.extend((states[:n], action) for n, action in action_examples(applied))
    return out


def originals(trackers: Sequence[TrainingTracker]) -> list[TrainingTracker]:
    """Trackers written by the user (augmented ones are only for the ML policy)."""
    return [t for t in trackers if not t.is_augmented]
