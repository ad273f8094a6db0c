"""Story evaluation as ``rasa test core`` does it (``rasa/core/test.py``).

Every test story is expanded like a training story (checkpoints, ``or``; never
augmented) and replayed event by event. At each action, including the
``action_listen`` that ends a bot turn, the policies predict from the story's own
events so far; the story's (gold) action is then applied whatever was predicted, so
one mistake does not derail the rest. When the story's action differs from a
predicted active form, the form is assumed to have rejected (as ``rasa test``
emulates) and the policies predict again. Custom actions never run: the events that
follow them come from the story. With an ``nlu`` model, user lines that have text are
parsed and a wrong intent or wrong entities fail the story too (the story's intent is
used to continue).

The result has Rasa's ``story_report.json`` shape (scikit-learn's classification
report over actions plus ``conversation_accuracy``) and the failed stories as Rasa
YAML with ``# predicted: ...`` comments (``failed_test_stories.yml``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml
from sklearn.metrics import classification_report

from bot.domain import ACTION_LISTEN, ACTION_SESSION_START, Domain
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    EntityValue,
    Event,
    ParseData,
    SlotSet,
    UserUttered,
)
from bot.policies.ensemble import PolicyEnsemble
from bot.policies.generator import story_trackers
from bot.tracker import Tracker
from bot.training_data import StoryData

# rasa's processor stops predicting after this many actions without user input
MAX_PREDICTIONS_PER_TURN = 10
CIRCUIT_BREAKER = "circuit breaker tripped"
MEMOIZATION_POLICIES = {"MemoizationPolicy", "AugmentedMemoizationPolicy"}
NO_FAILURES = "# None of the test stories failed - all good!\n"


class Parser(Protocol):
    """An NLU model: anything with ``parse(text) -> ParseData``."""

    def parse(self, text: str) -> ParseData: ...


@dataclass
class ActionResult:
    """One predicted action of one story."""

    story: str
    action: str
    predicted: str
    policy: str | None
    confidence: float | None


@dataclass
class StoryReport:
    """What :func:`evaluate_stories` found."""

    report: dict[str, Any]
    correct: int
    total: int
    actions: list[ActionResult] = field(default_factory=list)
    intent_errors: list[dict[str, Any]] = field(default_factory=list)
    failed_stories: list[str] = field(default_factory=list)

    @property
    def conversation_accuracy(self) -> dict[str, float | int]:
        """Share of stories with every action (and intent) right, as Rasa reports it."""
        return {
            "accuracy": self.correct / self.total if self.total else 0.0,
            "correct": self.correct,
            "total": self.total,
        }

    @property
    def action_accuracy(self) -> float:
        """Share of correctly predicted actions over all stories."""
        if not self.actions:
            return 0.0
        return sum(a.action == a.predicted for a in self.actions) / len(self.actions)

    @property
    def in_training_data_fraction(self) -> float:
        """Share of actions a memoization policy predicted (Rasa's "in-data fraction")."""
        if not self.actions:
            return 0.0
        return sum(a.policy in MEMOIZATION_POLICIES for a in self.actions) / len(self.actions)

    def to_json(self) -> dict[str, Any]:
        """Rasa's ``story_report.json``: the per-action report plus ``conversation_accuracy``."""
        return {**self.report, "conversation_accuracy": self.conversation_accuracy}

    def failed_stories_yaml(self) -> str:
        """Rasa's ``failed_test_stories.yml``."""
        if not self.failed_stories:
            return NO_FAILURES
        return 'version: "3.1"\nstories:\n' + "".join(self.failed_stories)


def evaluate_stories(
    test_stories: StoryData, ensemble: PolicyEnsemble, domain: Domain, nlu: Parser | None = None
) -> StoryReport:
    """Replay every test story through the policies (and NLU, when given) and score it."""
    results: list[ActionResult] = []
    intent_errors: list[dict[str, Any]] = []
    failed: list[str] = []
    correct = 0
    trackers = story_trackers(test_stories.stories, domain)
    for test in trackers:
        replay = _Replay(test.name, ensemble, domain, nlu)
        replay.run(test.events)
        results.extend(replay.actions)
        intent_errors.extend(replay.intent_errors)
        if replay.failed:
            failed.append(
                _story_yaml(f"{test.name} ({test.source})" if test.source else test.name, replay.steps)
            )
        else:
            correct += 1
    targets = [r.action for r in results]
    predictions = [r.predicted for r in results]
    report: dict[str, Any] = (
        classification_report(targets, predictions, output_dict=True, zero_division=0) if targets else {}
    )
    return StoryReport(report, correct, len(trackers), results, intent_errors, failed)


class _Replay:
    """One test story walked event by event with a tracker built from its own events."""

    def __init__(self, name: str, ensemble: PolicyEnsemble, domain: Domain, nlu: Parser | None) -> None:
        self.name = name
        self.ensemble = ensemble
        self.domain = domain
        self.nlu = nlu
        self.actions: list[ActionResult] = []
        self.intent_errors: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.failed = False

    def run(self, events: Sequence[Event]) -> None:
        if not events:
            return
        tracker = Tracker.for_domain(self.name, self.domain, [events[0]])
        predicted_in_turn = 0
        keep_predicting = True
        for event in events[1:]:
            if isinstance(event, ActionExecuted):
                gold = event.name or event.action_text or ""
                if predicted_in_turn >= MAX_PREDICTIONS_PER_TURN and keep_predicting:
                    predicted, policy, confidence = CIRCUIT_BREAKER, None, None
                else:
                    predicted, policy, confidence = self._predict(tracker, gold)
                self.actions.append(ActionResult(self.name, gold, predicted, policy, confidence))
                wrong = predicted != gold
                self.failed |= wrong
                if gold != ACTION_LISTEN or wrong:
                    self.steps.append({"action": gold, "predicted": predicted if wrong else None})
                tracker.update(
                    ActionExecuted(
                        name=gold, action_text=event.action_text, policy=policy, confidence=confidence
                    )
                )
                keep_predicting = predicted not in (ACTION_LISTEN, ACTION_SESSION_START)
                predicted_in_turn += 1
                continue
            if isinstance(event, UserUttered):
                self._user(event)
                predicted_in_turn = 0
            elif isinstance(event, SlotSet):
                self.steps.append({"slot": event.name, "value": event.value})
            elif isinstance(event, ActiveLoop):
                self.steps.append({"loop": event.name})
            tracker.update(event)

    def _predict(self, tracker: Tracker, gold: str) -> tuple[str, str | None, float | None]:
        prediction = self.ensemble.predict(tracker, self.domain)
        loop = tracker.active_loop_name
        if prediction.action != gold and prediction.action == loop and loop in self.domain.forms:
            # the story says something else runs: the form must have rejected, as rasa test assumes
            tracker.update(ActionExecutionRejected(name=loop))
            prediction = self.ensemble.predict(tracker, self.domain)
        return prediction.action, prediction.policy, prediction.confidence

    def _user(self, event: UserUttered) -> None:
        step: dict[str, Any] = {"intent": event.intent_name, "text": event.text, "entities": event.entities}
        self.steps.append(step)
        if self.nlu is None or not event.text:
            return
        parsed = self.nlu.parse(event.text)
        gold = event.intent_name
        predicted = _at_gold_granularity(parsed, gold)
        entities_ok = _entity_keys(event.entities) == _entity_keys(parsed.entities)
        if predicted == gold and entities_ok:
            return
        self.failed = True
        step["predicted"] = f"{predicted}: {_annotate(event.text, parsed.entities)}"
        self.intent_errors.append(
            {
                "story": self.name,
                "text": event.text,
                "intent": gold,
                "predicted": predicted,
                "entities": [e.model_dump(exclude_none=True) for e in event.entities],
                "predicted_entities": [e.model_dump(exclude_none=True) for e in parsed.entities],
            }
        )


def _at_gold_granularity(parsed: ParseData, gold: str | None) -> str:
    """The predicted intent as the story names it, as ``rasa test`` compares them: a story
    step ``faq/rasax`` is checked against the full retrieval intent, a step ``faq`` only
    against the base intent (whichever response the selector picked)."""
    predicted = parsed.intent.name
    if gold is not None and "/" in gold:
        return _full_retrieval_intent(parsed) or predicted
    return predicted.split("/", 1)[0]


def _full_retrieval_intent(parsed: ParseData) -> str | None:
    try:
        return str(parsed.response_selector["default"]["response"]["intent_response_key"])  # type: ignore[index]
    except (KeyError, TypeError):
        return None


def _entity_keys(entities: Sequence[EntityValue]) -> list[tuple[Any, ...]]:
    spans = all(e.start is not None for e in entities)
    keys = [(e.start, e.end, e.entity, str(e.value)) if spans else (e.entity, str(e.value)) for e in entities]
    return sorted(keys, key=repr)


def _annotate(text: str, entities: Sequence[EntityValue]) -> str:
    """The text with Rasa's inline entity markup (``[Berlin](city)``)."""
    out = text
    for e in sorted(
        (e for e in entities if e.start is not None and e.end is not None),
        key=lambda e: e.start or 0,
        reverse=True,
    ):
        start, end = e.start or 0, e.end or 0
        surface = text[start:end]
        if str(e.value) == surface:
            label = f"({e.entity})"
        else:
            label = json.dumps({"entity": e.entity, "value": e.value}, ensure_ascii=False)
        out = f"{out[:start]}[{surface}]{label}{out[end:]}"
    return out


def _scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


def _story_yaml(name: str, steps: list[dict[str, Any]]) -> str:
    lines = [f"- story: {_scalar(name)}", "  steps:"]
    for step in steps:
        if "action" in step:
            comment = f"  # predicted: {step['predicted']}" if step["predicted"] else ""
            lines.append(f"  - action: {_scalar(step['action'])}{comment}")
        elif "slot" in step:
            lines += ["  - slot_was_set:", f"    - {_scalar(step['slot'])}: {_scalar(step['value'])}"]
        elif "loop" in step:
            lines.append(f"  - active_loop: {_scalar(step['loop'])}")
        else:
            comment = f"  # predicted: {step['predicted']}" if step.get("predicted") else ""
            lines.append(f"  - intent: {_scalar(step['intent'])}{comment}")
            if step["text"]:
                text = _annotate(step["text"], step["entities"])
                lines += ["    user: |-", *(f"      {line}" for line in text.split("\n"))]
            elif step["entities"]:
                lines.append("    entities:")
                lines += [f"    - {_scalar(e.entity)}: {_scalar(e.value)}" for e in step["entities"]]
    return "\n".join(lines) + "\n"
