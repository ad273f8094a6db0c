"""The policy ensemble: trains the configured policies and picks the next action.

Combination follows Rasa's ``DefaultPolicyPredictionEnsemble``:

1. an action that was just rejected (``ActionExecutionRejected``) gets confidence 0
   in every policy's prediction, so something else is chosen;
2. a "no user" prediction (an active form's happy path) overrules all others;
3. otherwise the highest confidence wins, ties go to the higher priority
   (RulePolicy 6 > (Augmented)MemoizationPolicy 3 > ML/TED 1), then config order;
4. the events every policy asked for are applied before the action.

``config.yml`` names keep Rasa's spelling; ``TEDPolicy`` is served by our ML policy.
No policies configured means Rasa 3's defaults (Memoization, Rule, TED).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import BotConfig, ComponentConfig
from bot.domain import ACTION_DEFAULT_FALLBACK, ACTION_LISTEN, Domain
from bot.errors import ConfigError
from bot.events import ActionExecuted, ActionExecutionRejected, Event
from bot.policies.base import Policy, PolicyOutput, PredictionContext
from bot.policies.featurize import StateFeaturizer
from bot.policies.generator import DEFAULT_AUGMENTATION_FACTOR, generate_trackers
from bot.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from bot.policies.ml import MLPolicy
from bot.policies.rule import RulePolicy
from bot.tracker import Tracker
from bot.training_data import StoryData

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
FORMAT_VERSION = 1

# Rasa names (and a few aliases) -> implementations.
POLICY_CLASSES: dict[str, type[Policy]] = {
    "RulePolicy": RulePolicy,
    "MemoizationPolicy": MemoizationPolicy,
    "AugmentedMemoizationPolicy": AugmentedMemoizationPolicy,
    "TEDPolicy": MLPolicy,
    "MLPolicy": MLPolicy,
}
# Policies Rasa 3 has that we deliberately leave out: they never choose an action we need.
SKIPPED_POLICIES = {"UnexpecTEDIntentPolicy"}
DEFAULT_POLICIES = [
    ComponentConfig(name="MemoizationPolicy"),
    ComponentConfig(name="RulePolicy"),
    ComponentConfig(name="TEDPolicy", params={"max_history": 5}),
]


@dataclass
class PolicyPrediction:
    """The ensemble's choice: run ``action``; apply ``events`` first."""

    action: str
    confidence: float
    policy: str
    events: list[Event] = field(default_factory=list)
    is_end_to_end: bool = False
    # the action comes from a rule no story uses: story policies skip this turn later
    hide_rule_turn: bool = False


class PolicyEnsemble:
    """Trained policies plus what they need to see conversations as in training."""

    def __init__(
        self,
        policies: list[Policy],
        featurizer: StateFeaturizer,
        action_names: list[str],
        config_names: list[str] | None = None,
    ) -> None:
        if not policies:
            raise ConfigError("the policy ensemble needs at least one policy")
        self.policies = policies
        self.featurizer = featurizer
        self.action_names = action_names
        self.config_names = config_names or [p.name for p in policies]
        self._order = {a: i for i, a in enumerate(action_names)}
        rule = next((p for p in policies if isinstance(p, RulePolicy)), None)
        self.rule_only_data = rule.rule_only_data() if rule else {}
        self.fallback_action = rule.fallback_action if rule else ACTION_DEFAULT_FALLBACK

    @property
    def policy_names(self) -> list[str]:
        """The configured policy names, in order (for health checks and logs)."""
        return list(self.config_names)

    # ---- training ----------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        stories: StoryData,
        domain: Domain,
        config: BotConfig,
        progress: Progress | None = None,
        *,
        augmentation_factor: int = DEFAULT_AUGMENTATION_FACTOR,
    ) -> PolicyEnsemble:
        """Build the configured policies and train them on the stories and rules."""
        started = time.perf_counter()
        configs = config.policies or DEFAULT_POLICIES
        policies, names = _build(configs)
        for policy in policies:
            if isinstance(policy, RulePolicy) and policy.fallback_action not in domain.action_names:
                raise ConfigError(
                    f"RulePolicy: core_fallback_action_name {policy.fallback_action!r} is not an action "
                    "of the domain"
                )
        featurizer = StateFeaturizer(domain)
        ml = next((p for p in policies if isinstance(p, MLPolicy)), None)
        # only the ML policy learns from augmented stories; its random_seed drives the sampling
        trackers = generate_trackers(
            stories, domain, augmentation_factor=augmentation_factor if ml else 0, seed=ml.seed if ml else 42
        )
        for i, policy in enumerate(policies):
            if progress:
                progress(f"training {names[i]}", i / len(policies))
            policy.train(trackers, domain, featurizer)
        if progress:
            progress("policies trained", 1.0)
        log.info(
            "trained %s on %d trackers in %.1fs",
            ", ".join(names),
            len(trackers),
            time.perf_counter() - started,
        )
        return cls(policies, featurizer, list(domain.action_names), names)

    # ---- prediction ----------------------------------------------------------------------
    def predict(self, tracker: Tracker, domain: Domain) -> PolicyPrediction:
        """The next action for this conversation."""
        outputs = self.predict_all(tracker)
        best = outputs[_choose(outputs)]
        action, confidence = best.best(self._order)
        if action is None:
            # nobody predicted anything: Rasa's argmax over all zeros is the first action
            action, confidence = ACTION_LISTEN, 0.0
        policy = best.policy
        if action not in domain.action_names:
            log.error(
                "%s predicted %r, which is not an action of the domain; running %r instead",
                policy,
                action,
                self.fallback_action,
            )
            action, policy = self.fallback_action, f"{policy}:unknown_action"
        return PolicyPrediction(
            action=action,
            confidence=confidence,
            policy=policy,
            events=[e for o in outputs for e in o.events],
            is_end_to_end=best.is_end_to_end,
            hide_rule_turn=best.hide_rule_turn,
        )

    def predict_all(self, tracker: Tracker) -> list[PolicyOutput]:
        """Every policy's output, with a just-rejected action taken out of all of them."""
        ctx = PredictionContext(tracker, self.featurizer, self.rule_only_data)
        outputs = [p.predict(ctx) for p in self.policies]
        rejected = _just_rejected(tracker)
        if rejected:
            for out in outputs:
                out.scores.pop(rejected, None)
        return outputs

    # ---- persistence ---------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write every policy (JSON lookups, ``.npy`` weights) under ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        entries = []
        for i, (policy, name) in enumerate(zip(self.policies, self.config_names, strict=True)):
            sub = f"policy_{i}_{type(policy).__name__}"
            (directory / sub).mkdir(exist_ok=True)
            policy.save(directory / sub)
            entries.append(
                {"name": name, "class": type(policy).__name__, "params": policy.params, "dir": sub}
            )
        meta = {
            "format": FORMAT_VERSION,
            "policies": entries,
            "featurizer": self.featurizer.to_dict(),
            "action_names": self.action_names,
        }
        (directory / "ensemble.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path) -> PolicyEnsemble:
        """Load an ensemble written by :meth:`save`."""
        meta = json.loads((directory / "ensemble.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ConfigError(f"{directory}: policies were saved in format {meta.get('format')}; retrain")
        classes = {c.__name__: c for c in POLICY_CLASSES.values()}
        policies: list[Policy] = []
        for entry in meta["policies"]:
            policy = classes[entry["class"]](entry["params"])
            policy.load_state(directory / entry["dir"])
            policies.append(policy)
        featurizer = StateFeaturizer.from_dict(meta["featurizer"])
        return cls(policies, featurizer, meta["action_names"], [e["name"] for e in meta["policies"]])


def _build(configs: list[ComponentConfig]) -> tuple[list[Policy], list[str]]:
    policies: list[Policy] = []
    names: list[str] = []
    for c in configs:
        policy_cls = POLICY_CLASSES.get(c.name)
        if policy_cls is None:
            if c.name not in SKIPPED_POLICIES:
                log.warning("policy %r is not supported and is skipped", c.name)
            continue
        policies.append(policy_cls(c.params))
        names.append(c.name)
    if not policies:
        raise ConfigError(f"none of the configured policies is supported: {[c.name for c in configs]}")
    return policies, names


def _just_rejected(tracker: Tracker) -> str | None:
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecutionRejected):
            return event.name
        if isinstance(event, ActionExecuted):
            return None
    return None


def _choose(outputs: list[PolicyOutput]) -> int:
    """Index of the winning output (Rasa's ``_choose_best_prediction``)."""
    no_user_free = not any(o.is_no_user for o in outputs)

    def rank(i: int) -> tuple[bool, bool, float, int]:
        o = outputs[i]
        return (
            o.is_no_user,
            no_user_free and o.is_end_to_end,
            max(o.scores.values(), default=0.0),
            o.priority,
        )

    return max(range(len(outputs)), key=rank)
