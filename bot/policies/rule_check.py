"""Checking learned rules against the rules and stories they came from.

Rasa's ``RulePolicy._analyze_rules``: every rule and story is replayed through the
trained rule policy. Where a story does something else than a rule predicts, the rule
contradicts the story (Rasa refuses to train; we report it). A rule that starts with an
unpredictable action and merely predicts ``action_listen`` where a story goes on is
dropped instead: its listen is an artefact of its shortness. Rules no story ever uses
are returned: their turns are hidden from the story-based policies later.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from bot.domain import ACTION_LISTEN, Domain
from bot.events import ActionExecuted, ActionExecutionRejected
from bot.policies.base import PredictionContext
from bot.policies.featurize import PREV_ACTION, RULE_SNIPPET_ACTION, StateFeaturizer, is_unpredictable
from bot.policies.generator import TrainingTracker
from bot.policies.rule import (
    DEFAULT_ACTION_MAPPINGS,
    DEFAULT_RULES,
    LOOP_RULES,
    LOOP_RULES_SEPARATOR,
    active_loop_name,
)
from bot.tracker import Tracker

if TYPE_CHECKING:
    from bot.policies.rule import RulePolicy


class RuleChecker:
    """Replays training conversations through a trained :class:`RulePolicy`."""

    def __init__(self, policy: RulePolicy, domain: Domain, featurizer: StateFeaturizer) -> None:
        self.policy = policy
        self.domain = domain
        self.featurizer = featurizer
        self.sources: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)

    def run(self, rule_trackers: list[TrainingTracker], trackers: list[TrainingTracker]) -> set[str]:
        """Report contradictions into ``policy.problems``; return the rules no story uses."""
        self.sources = defaultdict(list)
        # first learn which rule made which prediction, then replay everything against that
        self._replay(rule_trackers, collect=True)
        used = self._replay(trackers, collect=False)
        forms = self.policy.forms
        default_sources = {DEFAULT_RULES + intent for intent in DEFAULT_ACTION_MAPPINGS}
        loop_sources = {LOOP_RULES + f for f in forms}
        loop_sources |= {f"{LOOP_RULES}{f}{LOOP_RULES_SEPARATOR}{ACTION_LISTEN}" for f in forms}
        return (set(self.sources) | default_sources | loop_sources) - used

    def _replay(self, trackers: list[TrainingTracker], *, collect: bool) -> set[str]:
        used: set[str] = set()
        for t in trackers:
            running = Tracker.for_domain(t.name, self.domain)
            unpredictable = True  # the first action never has a history to predict it from
            for event in t.applied_events():
                if not isinstance(event, ActionExecuted):
                    running.update(event)
                    continue
                if event.name == RULE_SNIPPET_ACTION or unpredictable or is_unpredictable(event):
                    unpredictable = event.name == RULE_SNIPPET_ACTION
                    running.update(event)
                    continue
                gold = event.name or event.action_text or ""
                predicted, source = self._prediction(running, gold, t.is_rule)
                if collect:
                    if source:
                        self._collect(t, predicted, gold, source)
                else:
                    if not t.is_rule and predicted == gold:
                        used.add(source or "")
                    self._check(t, predicted, gold, source)
                running.update(event)
        return used

    def _prediction(self, running: Tracker, gold: str, is_rule: bool) -> tuple[str | None, str | None]:
        predicted, source = self._next_action(running, is_rule)
        loop = active_loop_name(running)
        if loop and predicted != gold and predicted == loop:
            # inside a loop's unhappy path the loop would have rejected: try again
            running.update(ActionExecutionRejected(name=loop))
            predicted, source = self._next_action(running, is_rule)
        return predicted, source

    def _next_action(self, running: Tracker, is_rule: bool) -> tuple[str | None, str | None]:
        ctx = PredictionContext(running, self.featurizer, self.policy.rule_only_data())
        out, source = self.policy.predict_with_source(ctx)
        # stories may go where no rule leads; rules must always lead somewhere
        if out.scores == self.policy.default_scores() and not is_rule:
            return None, source
        action, _ = out.best(self.policy.action_order)
        return action or ACTION_LISTEN, source

    def _collect(self, t: TrainingTracker, predicted: str | None, gold: str, source: str) -> None:
        name = t.name
        if source.startswith(DEFAULT_RULES) or source.startswith(LOOP_RULES):
            gold, name = predicted or "", source
        self.sources[source].append((name, gold))

    def _check(self, t: TrainingTracker, predicted: str | None, gold: str, source: str | None) -> None:
        if not predicted or not source or predicted == gold:
            return
        if self._should_delete(source, t, predicted):
            self.policy.rules.pop(source, None)
            return
        rules = sorted({name for name, action in self.sources[source] if action != gold})
        if rules:
            kind = "rule" if t.is_rule else "story"
            self.policy.problems.append(
                f"the action {gold!r} in {kind} {t.name!r} ({t.source}) contradicts rule(s) "
                f"{', '.join(repr(r) for r in rules)}, which predict {predicted!r}"
            )

    def _should_delete(self, source: str, t: TrainingTracker, predicted: str) -> bool:
        if t.is_rule or source.count(PREV_ACTION) > 1 or predicted != ACTION_LISTEN:
            return False
        # source[:-2] drops the closing "}]" so longer rules with the same start match
        return any(other.startswith(source[:-2]) and other != source for other in self.policy.rules)
