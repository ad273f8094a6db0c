"""RulePolicy: rules, default intents, forms' happy paths and the core fallback.

Follows ``rasa.core.policies.rule_policy.RulePolicy`` (Rasa 3):

* ``restart``/``back``/``session_start`` intents always run their default action;
* an active, not rejected loop is predicted after any other action, and
  ``action_listen`` after the loop ran (a "no user" prediction that overrules all);
* otherwise the longest rule whose states are contained in the conversation's last
  states wins; a rule that merely predicts ``action_listen`` inside a loop gives the
  turn back to the loop, unless a story shows something else happens there;
* nothing matched: ``core_fallback_action_name`` with ``core_fallback_threshold``.

Rasa refuses to train on rules with more than one user turn or on contradictions
between rules and stories; here those are logged as warnings, because a half-working
bot is more useful to our users than none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.domain import (
    ACTION_BACK,
    ACTION_DEFAULT_FALLBACK,
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_SESSION_START,
    Domain,
)
from bot.events import LoopInterrupted, UserUttered
from bot.policies.base import Policy, PolicyOutput, PredictionContext, originals, training_examples
from bot.policies.featurize import (
    ACTION_NAME,
    PREV_ACTION,
    RULE_ONLY_LOOPS,
    RULE_ONLY_SLOTS,
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    SLOTS,
    State,
    StateFeaturizer,
    active_loop_of,
    is_prev_action_listen,
    states_from_json,
)
from bot.policies.generator import TrainingTracker
from bot.tracker import Tracker

log = logging.getLogger(__name__)

RULE_POLICY_PRIORITY = 6
DEFAULT_CORE_FALLBACK_THRESHOLD = 0.3
DEFAULT_ACTION_MAPPINGS = {
    "restart": ACTION_RESTART,
    "back": ACTION_BACK,
    "session_start": ACTION_SESSION_START,
}
LOOP_WAS_INTERRUPTED = "loop_was_interrupted"
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"
DEFAULT_RULES = "predicting default action with intent "
LOOP_RULES = "handling active loops and forms - "
LOOP_RULES_SEPARATOR = " - "
ALLOWED_USER_TURNS = 1


class RulePolicy(Policy):
    """Rules first, then forms, then the core fallback (see the module docstring)."""

    default_priority = RULE_POLICY_PRIORITY

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.fallback_threshold = float(
            self.params.get("core_fallback_threshold", DEFAULT_CORE_FALLBACK_THRESHOLD)
        )
        self.fallback_action = str(self.params.get("core_fallback_action_name", ACTION_DEFAULT_FALLBACK))
        self.enable_fallback = bool(self.params.get("enable_fallback_prediction", True))
        self.restrict_rules = bool(self.params.get("restrict_rules", True))
        self.check_contradictions = bool(self.params.get("check_for_contradictions", True))
        self.use_nlu_confidence = bool(self.params.get("use_nlu_confidence_as_score", False))
        self.rules: dict[str, str] = {}
        self.unhappy: dict[str, str] = {}
        self.rule_only_slots: list[str] = []
        self.rule_only_loops: list[str] = []
        self.rules_not_in_stories: set[str] = set()
        self.action_order: dict[str, int] = {}
        self.forms: list[str] = []
        self.problems: list[str] = []
        self._parsed: dict[str, list[State]] = {}
        # id(lookup) -> (lookup, its size, its keys by their latest state's previous action,
        # each key's position in it)
        self._index: dict[int, tuple[dict[str, str], int, dict[object, list[str]], dict[str, int]]] = {}

    # ---- training ----------------------------------------------------------------
    def train(self, trackers: Sequence[TrainingTracker], domain: Domain, featurizer: StateFeaturizer) -> None:
        """Memorize rule snippets and the loop unhappy paths stories and rules show."""
        self.action_order = {a: i for i, a in enumerate(domain.action_names)}
        self.forms = list(domain.forms)
        self.problems = []
        trackers = originals(trackers)
        rule_trackers = [t for t in trackers if t.is_rule]
        story_trackers = [t for t in trackers if not t.is_rule]
        if self.restrict_rules:
            self._check_rule_restriction(rule_trackers)
        rule_examples = training_examples(rule_trackers, featurizer, omit_unset_slots=True)
        story_examples = training_examples(story_trackers, featurizer)
        self.rules = {k: a for k, a in _lookup(rule_examples, rule_key).items() if a != RULE_SNIPPET_ACTION}
        if self.check_contradictions:
            self.rule_only_slots, self.rule_only_loops = _rule_only(rule_examples, story_examples)
        self.unhappy = _unhappy_lookup(rule_examples + story_examples)
        self._parsed = {}
        self._index = {}
        if self.check_contradictions:
            from bot.policies.rule_check import RuleChecker  # it builds on this module

            checker = RuleChecker(self, domain, featurizer)
            self.rules_not_in_stories = checker.run(rule_trackers, trackers)
        for problem in self.problems:
            log.warning("%s", problem)

    def rule_only_data(self) -> dict[str, list[str]]:
        """Slots and loops only rules mention: the story-based policies ignore them."""
        return {RULE_ONLY_SLOTS: self.rule_only_slots, RULE_ONLY_LOOPS: self.rule_only_loops}

    def _check_rule_restriction(self, rule_trackers: list[TrainingTracker]) -> None:
        for t in rule_trackers:
            turns = sum(isinstance(e, UserUttered) for e in t.events)
            if turns > ALLOWED_USER_TURNS:
                self.problems.append(
                    f"rule {t.name!r} ({t.source}) has {turns} user messages; rules are meant for one "
                    "turn, use a story for longer conversations"
                )

    # ---- prediction ----------------------------------------------------------------
    def predict(self, ctx: PredictionContext) -> PolicyOutput:
        """The rule policy's prediction for the conversation in ``ctx``."""
        return self.predict_with_source(ctx)[0]

    def predict_with_source(self, ctx: PredictionContext) -> tuple[PolicyOutput, str | None]:
        """The prediction and what made it: a rule's key, a default intent, a loop."""
        tracker = ctx.tracker
        default_action = _default_action(tracker)
        if default_action:
            source = DEFAULT_RULES + str(tracker.latest_intent)
            return self._rule_output(self._result(default_action, tracker), source), source
        loop_action, loop_source = _loop_happy_path(tracker)
        if loop_action:
            scores = self._result(loop_action, tracker)
            return self._rule_output(scores, loop_source, is_no_user=True), loop_source
        action, source, returning = self._from_rules(tracker, ctx.states())
        scores = self._result(action, tracker) if action else self.default_scores()
        return self._rule_output(scores, source, returning=returning), source

    def _from_rules(self, tracker: Tracker, states: list[State]) -> tuple[str | None, str, bool]:
        keys = self._matching(self.rules, states)
        predicted: str | None = None
        best = ""
        if keys:
            # several rules match when one is a subset of another: the longest is the most specific
            best = max(keys, key=len)
            predicted = self.rules[best]
        returning = False
        loop = active_loop_name(tracker)
        if loop:
            conditions = {self.unhappy[k] for k in self._matching(self.unhappy, states)}
            general_listen = predicted == ACTION_LISTEN and not active_loop_of(self._reversed(best)[0])
            if general_listen:
                if DO_NOT_PREDICT_LOOP_ACTION not in conditions:
                    # a rule inside a loop ends with listen: give the turn back to the loop
                    return loop, best, returning
                predicted = None
            if LOOP_WAS_INTERRUPTED in conditions:
                returning = True
        return predicted, best or rule_key(states) or "", returning

    def _matching(self, lookup: dict[str, str], states: list[State]) -> list[str]:
        rev = states[::-1]
        out = []
        for key in self._candidates(lookup, rev[0] if rev else None):
            rule_rev = self._reversed(key)
            if all(_applicable(rule_rev[i], rev[i]) for i in range(min(len(rule_rev), len(rev)))):
                out.append(key)
        return out

    def _candidates(self, lookup: dict[str, str], current: State | None) -> list[str]:
        """The keys of ``lookup`` whose latest state can apply to ``current``, in the lookup's
        order: a rule's latest state names the previous action, and ``_applicable`` needs the
        conversation's to be the same one, so only rules after that action (plus the few that
        name none) are checked instead of every rule."""
        index = self._index.get(id(lookup))
        if index is None or index[0] is not lookup or index[1] != len(lookup):
            by_prev: dict[object, list[str]] = {}
            for key in lookup:
                latest = self._reversed(key)
                by_prev.setdefault(_prev_key(latest[0]) if latest else _ANY_PREV, []).append(key)
            order = {key: i for i, key in enumerate(lookup)}
            index = self._index[id(lookup)] = (lookup, len(lookup), by_prev, order)
        by_prev = index[2]
        if current is None:
            return list(lookup)
        prev = current.get(PREV_ACTION)
        exact = (
            by_prev.get(prev.get(ACTION_NAME) if prev else None, [])
            if not prev or prev.get(ACTION_NAME)
            else []
        )
        anyone = by_prev.get(_ANY_PREV, [])
        if not anyone:
            return exact
        if not exact:
            return anyone
        return sorted({*exact, *anyone}, key=index[3].__getitem__)

    def _reversed(self, key: str) -> list[State]:
        """A rule key's states, latest first (parsed once)."""
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = self._parsed[key] = states_from_json(key)[::-1]
        return parsed

    def _result(self, action: str, tracker: Tracker) -> dict[str, float]:
        score = 1.0
        if self.use_nlu_confidence and tracker.latest_message is not None:
            score = tracker.latest_message.parse_data.intent.confidence
        return {action: score}

    def default_scores(self) -> dict[str, float]:
        """What the policy says when no rule applies: the core fallback at its threshold."""
        return {self.fallback_action: self.fallback_threshold} if self.enable_fallback else {}

    def _rule_output(
        self,
        scores: dict[str, float],
        source: str | None,
        *,
        returning: bool = False,
        is_no_user: bool = False,
    ) -> PolicyOutput:
        return self.output(
            scores,
            events=[LoopInterrupted(is_interrupted=True)] if returning else [],
            is_no_user=is_no_user,
            hide_rule_turn=source in self.rules_not_in_stories,
        )

    # ---- persistence ---------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the rule lookup (Rasa's JSON feature keys) and settings as JSON."""
        data = {
            "params": self.params,
            "rules": self.rules,
            "unhappy": self.unhappy,
            "rule_only_slots": self.rule_only_slots,
            "rule_only_loops": self.rule_only_loops,
            "rules_not_in_stories": sorted(self.rules_not_in_stories),
            "action_order": self.action_order,
            "forms": self.forms,
        }
        (directory / "rule_policy.json").write_text(json.dumps(data, indent=1))

    def load_state(self, directory: Path) -> None:
        """Read back what :meth:`save` wrote."""
        data = json.loads((directory / "rule_policy.json").read_text())
        self.rules = data["rules"]
        self.unhappy = data["unhappy"]
        self.rule_only_slots = data["rule_only_slots"]
        self.rule_only_loops = data["rule_only_loops"]
        self.rules_not_in_stories = set(data["rules_not_in_stories"])
        self.action_order = data["action_order"]
        self.forms = data["forms"]
        self._parsed = {}
        self._index = {}


# ---- module helpers (Rasa's static methods) ---------------------------------------------
def rule_key(states: Sequence[State]) -> str | None:
    """Rasa's rule feature key: the states after the last ``...`` snippet, as sorted JSON."""
    kept: list[State] = []
    for state in reversed(states):
        if state.get(PREV_ACTION, {}).get(ACTION_NAME) == RULE_SNIPPET_ACTION:
            break
        kept.insert(0, state)
    return json.dumps(kept, sort_keys=True) if kept else None


def _lookup(examples: list[tuple[list[State], str]], key_of: Any) -> dict[str, str]:
    """Key -> action; a key seen with two different actions is ambiguous and dropped."""
    lookup: dict[str, str] = {}
    ambiguous: set[str] = set()
    for states, action in examples:
        key = key_of(states)
        if not key or key in ambiguous:
            continue
        if key in lookup and lookup[key] != action:
            ambiguous.add(key)
            del lookup[key]
        elif key not in lookup:
            lookup[key] = action
    return lookup


def _unhappy_lookup(examples: list[tuple[list[State], str]]) -> dict[str, str]:
    """What rules and stories show about leaving and re-entering an active loop."""
    lookup: dict[str, str] = {}
    for states, action in examples:
        loop = active_loop_of(states[-1])
        if not loop:
            continue
        # the last two turns: the meaningful action before the user's message, not its intent
        if len(states) == 1 or not states[-2].get(PREV_ACTION):
            short = [states[-1]]
        else:
            short = [{PREV_ACTION: states[-2][PREV_ACTION]}, states[-1]]
        key = rule_key(short)
        if not key:
            continue
        listen = is_prev_action_listen(states[-1])
        if listen and action == loop:
            lookup[key] = LOOP_WAS_INTERRUPTED
        elif not listen and action != loop:
            lookup[key] = DO_NOT_PREDICT_LOOP_ACTION
    return lookup


def _rule_only(
    rule_examples: list[tuple[list[State], str]], story_examples: list[tuple[list[State], str]]
) -> tuple[list[str], list[str]]:
    def collect(examples: list[tuple[list[State], str]]) -> tuple[set[str], set[str]]:
        slots: set[str] = set()
        loops: set[str] = set()
        for states, _ in examples:
            for state in states:
                slots.update(state.get(SLOTS, {}))
                loop = state.get("active_loop", {}).get("name")
                if loop:
                    loops.add(loop)
        return slots, loops

    rule_slots, rule_loops = collect(rule_examples)
    story_slots, story_loops = collect(story_examples)
    return (
        sorted(rule_slots - story_slots - {SHOULD_NOT_BE_SET}),
        sorted(rule_loops - story_loops - {SHOULD_NOT_BE_SET}),
    )


_ANY_PREV = object()  # a rule state whose previous action is not one plain name: always checked


def _prev_key(state: State) -> object:
    """What a state's previous action must equal for a rule state to apply (see
    :func:`_applicable`): its ``action_name``; None for a conversation start; rule states
    asking for anything else (a text action, "must not be set") are checked every time."""
    prev = state.get(PREV_ACTION)
    if not prev:
        return None
    if set(prev) == {ACTION_NAME} and prev[ACTION_NAME] and prev[ACTION_NAME] != SHOULD_NOT_BE_SET:
        return prev[ACTION_NAME]
    return _ANY_PREV


def _applicable(rule_state: State, state: State) -> bool:
    """Whether one rule state is contained in one conversation state."""
    rule_prev = rule_state.get(PREV_ACTION)
    current_prev = state.get(PREV_ACTION)
    if not rule_prev and not current_prev:
        return True  # both are conversation starts
    if not rule_prev or not current_prev:
        return False
    for kind, rule_sub in rule_state.items():
        sub = state.get(kind, {})
        for key, wanted in rule_sub.items():
            have = sub.get(key)
            if wanted == SHOULD_NOT_BE_SET:
                if have and have != SHOULD_NOT_BE_SET:
                    return False
            elif wanted and have != wanted:
                return False
    return True


def _default_action(tracker: Tracker) -> str | None:
    if tracker.latest_action_name != ACTION_LISTEN or tracker.latest_message is None:
        return None
    return DEFAULT_ACTION_MAPPINGS.get(tracker.latest_intent or "")


def active_loop_name(tracker: Tracker) -> str | None:
    """The tracker's active loop; a rule's "must not be set" marker is no loop."""
    name = tracker.active_loop_name
    return name if name and name != SHOULD_NOT_BE_SET else None


def _loop_happy_path(tracker: Tracker) -> tuple[str | None, str | None]:
    loop = active_loop_name(tracker)
    if not loop or tracker.active_loop.rejected:
        return None, None
    if tracker.latest_action_name is not None and tracker.latest_action_name != loop:
        return loop, LOOP_RULES + loop
    if tracker.latest_action_name == loop:
        return ACTION_LISTEN, f"{LOOP_RULES}{loop}{LOOP_RULES_SEPARATOR}{ACTION_LISTEN}"
    return None, None
