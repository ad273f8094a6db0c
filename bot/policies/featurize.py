"""Rasa's dialogue state representation: what the policies see of a conversation.

A *state* is taken before every action (and once more at the end) and says what the
user said last (intent and the entity names that may influence the conversation),
which action ran last, which loop is active and how each featurised slot looks::

    {"user": {"intent": "greet", "entities": ("city",)},
     "prev_action": {"action_name": "utter_greet"},
     "active_loop": {"name": "booking_form"},
     "slots": {"tier": (1.0,), "confirmed": (1.0, 0.0)}}

It follows ``rasa.shared.core.domain.Domain.get_active_state`` and
``states_for_tracker_history`` exactly, because memoized rules and stories are looked
up by these states: a state that differs from Rasa's in any detail makes a Rasa bot
behave differently here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain import ACTION_LISTEN, REQUESTED_SLOT, Domain, SlotDef
from bot.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    EntitiesAdded,
    EntityValue,
    Event,
    FollowupAction,
    SlotSet,
    UserUttered,
)

State = dict[str, dict[str, Any]]
FrozenState = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]

USER = "user"
SLOTS = "slots"
PREV_ACTION = "prev_action"
ACTIVE_LOOP = "active_loop"
INTENT = "intent"
TEXT = "text"
ENTITIES = "entities"
ACTION_NAME = "action_name"
ACTION_TEXT = "action_text"
LOOP_NAME = "name"

# A rule's ``active_loop: null`` / ``slot: null`` means "must not be set" (Rasa's constant).
SHOULD_NOT_BE_SET = "should_not_be_set"
# Rasa's marker for "any conversation may come before this" at the start of a rule.
RULE_SNIPPET_ACTION = "..."
RULE_ONLY_SLOTS = "rule_only_slots"
RULE_ONLY_LOOPS = "rule_only_loops"
ENTITY_LABEL_SEPARATOR = "#"
_CATEGORICAL_OTHER = "__other__"
# Slot types that are never featurised (Rasa's ``any``).
_UNFEATURIZED = {"any", "unfeaturized"}


class TrainingAction(ActionExecuted):
    """An action from training data. ``unpredictable`` marks the bot action a story opens
    with: nothing comes before it, so no policy learns to predict it."""

    unpredictable: bool = False


def is_unpredictable(event: Event) -> bool:
    """Whether an event is a story's opening bot action (never a training label)."""
    return isinstance(event, TrainingAction) and event.unpredictable


def bool_from_any(value: Any) -> bool:
    """Rasa's ``bool_from_any``: ``"true"``/``"false"`` strings, numbers, bools; else ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1.0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        return float(lowered) == 1.0
    raise ValueError(f"cannot convert {value!r} to bool")


def slot_features(slot: SlotDef, value: Any) -> tuple[float, ...]:
    """How one slot's value looks to the policies (Rasa's ``Slot.as_feature``).

    An empty tuple means the slot never influences the conversation.
    """
    kind = slot_kind(slot)
    if not influences(slot):
        return ()
    if kind == "bool":
        try:
            return (1.0, float(bool_from_any(value))) if value is not None else (0.0, 0.0)
        except (TypeError, ValueError):
            return (0.0, 0.0)
    if kind == "float":
        try:
            capped = max(slot.min_value, min(slot.max_value, float(value)))
        except (TypeError, ValueError):
            return (0.0, 0.0)
        covered = abs(slot.max_value - slot.min_value) or 1.0
        return (1.0, (capped - slot.min_value) / covered)
    if kind == "list":
        try:
            return (1.0,) if value is not None and len(value) > 0 else (0.0,)
        except TypeError:
            return (0.0,)
    if kind == "categorical":
        values = categorical_values(slot)
        out = [0.0] * len(values)
        if value is not None:
            key = str(value).lower()
            index = values.index(key) if key in values else values.index(_CATEGORICAL_OTHER)
            out[index] = 1.0
        return tuple(out)
    # text and custom slot classes: set or not set
    return (1.0,) if value is not None else (0.0,)


def slot_kind(slot: SlotDef) -> str:
    """``text``, ``bool``, ``float``, ``list``, ``categorical``, ``any`` (custom classes count as text)."""
    kind = str(slot.type).rsplit(".", 1)[-1].lower().removesuffix("slot")
    return {"boolean": "bool", "unfeaturized": "any"}.get(kind, kind)


def influences(slot: SlotDef) -> bool:
    """Whether a slot is part of the dialogue state at all."""
    return slot.influence_conversation and slot_kind(slot) not in _UNFEATURIZED


def categorical_values(slot: SlotDef) -> list[str]:
    """A categorical slot's values as Rasa featurises them (lower-cased, plus ``__other__``)."""
    values = [str(v).lower() for v in slot.values]
    if _CATEGORICAL_OTHER not in values:
        values.append(_CATEGORICAL_OTHER)
    return values


def base_intent(name: str | None) -> str | None:
    """``faq/opening_hours`` -> ``faq``: retrieval intents are one intent to the policies."""
    return name.split("/", 1)[0] if name else name


class StateFeaturizer:
    """What the domain says about featurising a conversation, precomputed once.

    Built from the domain at training time and saved with the policies, so that a
    trained model sees conversations exactly as it saw its training stories.
    """

    def __init__(self, domain: Domain) -> None:
        self.slot_defs: dict[str, SlotDef] = {
            name: slot for name, slot in domain.slots.items() if influences(slot)
        }
        self.initial_slots: dict[str, Any] = {name: s.initial_value for name, s in domain.slots.items()}
        self.initial_slots.setdefault(REQUESTED_SLOT, None)
        self.used_entities: dict[str, frozenset[str]] = _used_entities(domain)

    # ---- sub-states --------------------------------------------------------
    def user_substate(self, message: UserUttered | None) -> dict[str, Any]:
        """Intent (or text when there is no intent) and the wanted entity labels."""
        if message is None:
            return {}
        intent = base_intent(message.intent_name)
        if not intent:
            return {TEXT: message.text} if message.text else {}
        sub: dict[str, Any] = {INTENT: intent}
        entities = self.featurized_entities(intent, message.entities)
        if entities:
            sub[ENTITIES] = entities
        return sub

    def featurized_entities(self, intent: str, entities: Iterable[EntityValue]) -> tuple[str, ...]:
        """Entity labels (with ``entity#role``/``entity#group``) this intent lets through, sorted."""
        labels: set[str] = set()
        for e in entities:
            labels.add(e.entity)
            if e.role:
                labels.add(f"{e.entity}{ENTITY_LABEL_SEPARATOR}{e.role}")
            if e.group:
                labels.add(f"{e.entity}{ENTITY_LABEL_SEPARATOR}{e.group}")
        wanted = self.used_entities.get(intent)
        if wanted is not None:
            labels &= wanted
        return tuple(sorted(labels))

    def slots_substate(self, slots: dict[str, Any], set_names: set[str], omit_unset: bool) -> dict[str, Any]:
        """Featurised slots that have some non-zero feature (``should_not_be_set`` kept as is)."""
        out: dict[str, Any] = {}
        for name, slot in self.slot_defs.items():
            if omit_unset and name not in set_names:
                continue
            value = slots.get(name)
            if value == SHOULD_NOT_BE_SET:
                out[name] = SHOULD_NOT_BE_SET
                continue
            if value is None:
                continue  # unset slots featurise to all zeros (the common case, kept cheap)
            features = slot_features(slot, value)
            if any(features):
                out[name] = features
        return out

    # ---- persistence --------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description (slot definitions, initial values, entity filters)."""
        return {
            "slot_defs": {n: s.model_dump(mode="json") for n, s in self.slot_defs.items()},
            "initial_slots": self.initial_slots,
            "used_entities": {k: sorted(v) for k, v in self.used_entities.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateFeaturizer:
        """Rebuild a featurizer saved with :meth:`to_dict`."""
        self = cls.__new__(cls)
        self.slot_defs = {n: SlotDef.model_validate(s) for n, s in data["slot_defs"].items()}
        self.initial_slots = dict(data["initial_slots"])
        self.used_entities = {k: frozenset(v) for k, v in data["used_entities"].items()}
        return self


def _used_entities(domain: Domain) -> dict[str, frozenset[str]]:
    """Per intent, the entity labels that may influence predictions (Rasa's ``used_entities``)."""
    roles = {e.name: e.roles for e in domain.entities}
    groups = {e.name: e.groups for e in domain.entities}
    ignored_by_default = {e.name for e in domain.entities if not e.influence_conversation}

    def with_labels(names: Iterable[str]) -> set[str]:
        out = set(names)
        for name in list(out):
            out.update(f"{name}{ENTITY_LABEL_SEPARATOR}{r}" for r in roles.get(name, []))
            out.update(f"{name}{ENTITY_LABEL_SEPARATOR}{g}" for g in groups.get(name, []))
        return out

    result: dict[str, frozenset[str]] = {}
    intents = {i.name: i for i in domain.intents}
    for name in domain.intent_names:
        intent = intents.get(name)
        use = intent.use_entities if intent is not None else None
        ignore = list(intent.ignore_entities) if intent is not None else []
        included = with_labels(domain.entity_names if use is None else use)
        if use is None:
            included -= with_labels(ignored_by_default)
        excluded = with_labels(ignore or ignored_by_default)
        result[name] = frozenset(included - excluded)
    return result


@dataclass
class _Fold:
    """The part of a tracker that states are made of, replayed over applied events."""

    slots: dict[str, Any]
    set_names: set[str] = field(default_factory=set)
    latest_message: UserUttered | None = None
    latest_action: dict[str, str] | None = None
    active_loop: str | None = None
    followup: str | None = ACTION_LISTEN

    def apply(self, event: Event, initial: dict[str, Any]) -> None:
        if isinstance(event, UserUttered):
            self.latest_message = event
            self.followup = None
        elif isinstance(event, ActionExecuted):
            if event.action_text and not event.name:
                self.latest_action = {ACTION_TEXT: event.action_text}
            else:
                self.latest_action = {ACTION_NAME: event.name}
            self.followup = None
        elif isinstance(event, SlotSet):
            self.slots[event.name] = event.value
            self.set_names.add(event.name)
        elif isinstance(event, ActiveLoop):
            self.active_loop = event.name or None
        elif isinstance(event, FollowupAction):
            self.followup = event.name
        elif isinstance(event, AllSlotsReset):
            self.slots = dict(initial)
            self.set_names = set()
        elif isinstance(event, EntitiesAdded) and self.latest_message is not None:
            data = self.latest_message.parse_data
            merged = data.model_copy(update={"entities": [*data.entities, *event.entities]})
            self.latest_message = self.latest_message.model_copy(update={"parse_data": merged})

    def state(self, feat: StateFeaturizer, omit_unset_slots: bool) -> State:
        state: State = {}
        user = feat.user_substate(self.latest_message)
        if user:
            state[USER] = user
        slots = feat.slots_substate(self.slots, self.set_names, omit_unset_slots)
        if slots:
            state[SLOTS] = slots
        if self.latest_action:
            state[PREV_ACTION] = dict(self.latest_action)
        if self.active_loop:
            state[ACTIVE_LOOP] = {LOOP_NAME: self.active_loop}
        return state


def hides_rule_turn(event: ActionExecuted) -> bool:
    """Whether an action was predicted by a rule that no story uses (Rasa's ``hide_rule_turn``,
    kept in the event's metadata)."""
    return bool(event.metadata) and bool(event.metadata.get("hide_rule_turn"))


def past_states(
    applied_events: Sequence[Event],
    feat: StateFeaturizer,
    *,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, list[str]] | None = None,
) -> list[State]:
    """One state before every action of ``applied_events`` plus the current one.

    ``applied_events`` must already have rewinds, restarts and the form happy-path
    collapse applied (:meth:`bot.tracker.Tracker.applied_events`). With
    ``ignore_rule_only_turns`` the turns of rules that no story uses are skipped and
    rule-only slots and loops removed, which is what the story-based policies see.
    """
    fold = _Fold(slots=dict(feat.initial_slots))
    states: list[State] = []
    last_ml_action: dict[str, str] | None = None
    turn_was_hidden = False

    def emit(hide: bool) -> None:
        nonlocal last_ml_action, turn_was_hidden
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action = dict(fold.latest_action) if fold.latest_action else None
            latest_name = fold.latest_action.get(ACTION_NAME) if fold.latest_action else None
            # a follow-up action or a loop's happy-path run doesn't change whether the turn is hidden
            if not fold.followup and latest_name != fold.active_loop:
                turn_was_hidden = hide
            if turn_was_hidden:
                return
        state = fold.state(feat, omit_unset_slots)
        if ignore_rule_only_turns:
            _remove_rule_only_features(state, rule_only_data)
            if states:
                _substitute_rule_only_user_input(state, states[-1])
            if last_ml_action:
                state[PREV_ACTION] = dict(last_ml_action)
        states.append(state)

    for event in applied_events:
        if isinstance(event, ActionExecuted):
            emit(hides_rule_turn(event))
        fold.apply(event, feat.initial_slots)
    emit(False)
    return states


def _remove_rule_only_features(state: State, rule_only_data: dict[str, list[str]] | None) -> None:
    if not rule_only_data:
        return
    slots = state.get(SLOTS)
    if slots:
        for name in rule_only_data.get(RULE_ONLY_SLOTS, []):
            slots.pop(name, None)
        if not slots:
            del state[SLOTS]
    loop = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
    if loop and loop in rule_only_data.get(RULE_ONLY_LOOPS, []):
        del state[ACTIVE_LOOP]


def _substitute_rule_only_user_input(state: State, last_ml_state: State) -> None:
    if is_prev_action_listen(state):
        return
    if not last_ml_state.get(USER) and state.get(USER):
        del state[USER]
    elif last_ml_state.get(USER):
        state[USER] = last_ml_state[USER]


def is_prev_action_listen(state: State) -> bool:
    """Whether this state directly follows a user message."""
    return state.get(PREV_ACTION, {}).get(ACTION_NAME) == ACTION_LISTEN


def active_loop_of(state: State) -> str | None:
    """The active loop named in a state, if any (a rule's "must not be set" counts as none)."""
    name = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
    return str(name) if name and name != SHOULD_NOT_BE_SET else None


def action_examples(applied_events: Sequence[Event]) -> list[tuple[int, str]]:
    """``(n, action)`` for every predictable action: the action follows ``states[:n]``.

    Actions marked ``unpredictable`` (a story's opening bot action) are skipped.
    """
    out: list[tuple[int, str]] = []
    count = 0
    for event in applied_events:
        if isinstance(event, ActionExecuted):
            count += 1
            if not is_unpredictable(event):
                out.append((count, event.name or event.action_text or ""))
    return out


def freeze(state: State) -> FrozenState:
    """A hashable, order-independent form of a state."""
    return tuple(sorted((key, tuple(sorted(sub.items()))) for key, sub in state.items()))


def freeze_all(states: Sequence[State]) -> tuple[FrozenState, ...]:
    """Hashable form of a sequence of states (the memoization key)."""
    return tuple(freeze(s) for s in states)


def states_json(states: Sequence[State]) -> str:
    """Rasa's feature key: the states as sorted JSON (tuples become lists)."""
    return json.dumps(list(states), sort_keys=True)


def states_from_json(text: str) -> list[State]:
    """Inverse of :func:`states_json`, with JSON lists turned back into tuples."""
    raw = json.loads(text)
    return [
        {kind: {k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()} for kind, sub in s.items()}
        for s in raw
    ]
