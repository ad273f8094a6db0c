"""Stories and rules -> training trackers: linear event lists the policies learn from.

Follows Rasa's ``TrainingDataGenerator`` and ``StoryStep.explicit_events``: a story is
cut into parts at its checkpoints, ``or`` steps multiply a part into alternatives,
parts are glued where one ends with the checkpoint another starts with (respecting
the checkpoint's ``slot_was_set`` conditions), ``action_listen`` is made explicit
before every user turn and at the end of a story, and slots that entities fill
without conditions are set after each user message. Rules get Rasa's ``...`` snippet
action (anything may come before / after) and turn ``null`` into "must not be set".
Stories (never rules) can be augmented by gluing random story ends to story starts,
which teaches the ML policy to ignore history that does not matter.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain import ACTION_LISTEN, Domain
from bot.events import (
    ActionExecuted,
    ActiveLoop,
    EntityValue,
    Event,
    IntentPrediction,
    ParseData,
    SlotSet,
    UserUttered,
)
from bot.policies.featurize import (
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    TrainingAction,
    is_unpredictable,
    slot_kind,
)
from bot.tracker import Tracker
from bot.training_data import (
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    EntitySpan,
    OrStep,
    SlotStep,
    Step,
    Story,
    StoryData,
    UserStep,
)

log = logging.getLogger(__name__)

DEFAULT_AUGMENTATION_FACTOR = 50
AUGMENTATION_ROUNDS = 3
# Stories whose checkpoints fan out combinatorially are cut off here (Rasa subsamples).
MAX_TRACKERS_PER_START = 5000
# Rasa's value for a bare ``slot_was_set: - name`` (text slots) and list slots.
FILLED = "filled"


@dataclass
class TrainingTracker:
    """One linear conversation made from stories or one rule."""

    name: str
    events: list[Event]
    is_rule: bool = False
    is_augmented: bool = False
    source: str = ""

    def applied_events(self) -> list[Event]:
        """The events that count (form happy paths collapsed, as for live conversations)."""
        return Tracker(sender_id=self.name, events=list(self.events)).applied_events()


@dataclass
class _Part:
    """A piece of a story between checkpoints, with its ``or`` alternatives expanded."""

    block: str
    source: str
    is_rule: bool
    starts: list[CheckpointStep]
    ends: list[str]
    alternatives: list[list[Event]] = field(default_factory=list)


def generate_trackers(
    data: StoryData,
    domain: Domain,
    *,
    augmentation_factor: int = DEFAULT_AUGMENTATION_FACTOR,
    seed: int = 42,
) -> list[TrainingTracker]:
    """Story trackers, augmented story trackers and rule trackers for training."""
    stories = story_trackers(data.stories, domain)
    augmented = augment(stories, augmentation_factor, seed) if augmentation_factor > 0 else []
    return stories + augmented + rule_trackers(data.rules, domain)


def story_trackers(stories: Sequence[Story], domain: Domain) -> list[TrainingTracker]:
    """Every complete conversation the stories describe, checkpoints glued, ``or`` expanded."""
    parts = [p for story in stories for p in _parts(story, domain)]
    return _dedupe(_glue(parts))


def rule_trackers(rules: Sequence[Story], domain: Domain) -> list[TrainingTracker]:
    """One tracker per rule and ``or`` alternative (rules are never glued or augmented)."""
    out: list[TrainingTracker] = []
    for rule in rules:
        for part in _parts(rule, domain):
            out.extend(
                TrainingTracker(rule.name, events, is_rule=True, source=rule.source)
                for events in part.alternatives
            )
    return _dedupe(out)


def augment(originals: Sequence[TrainingTracker], factor: int, seed: int) -> list[TrainingTracker]:
    """Rasa's augmentation: glue random story ends (final listen undone) to every story
    start, for three rounds, and keep at most ``10 * factor`` of the results."""
    rand = random.Random(seed)
    ends = [t for t in originals if _ends_with_listen(t.events)]
    augmented: list[TrainingTracker] = []
    for _ in range(AUGMENTATION_ROUNDS):
        starters = _subsample(list(ends), factor, rand)
        fresh = [
            TrainingTracker(
                f"{head.name} > {tail.name}",
                head.events[:-1] + tail.events,
                is_augmented=True,
                source=tail.source,
            )
            for head in starters
            for tail in originals
        ]
        fresh = _dedupe(_subsample(fresh, 10 * factor, rand))
        ends.extend(fresh)
        augmented.extend(fresh)
    return _subsample(_dedupe(augmented), 10 * factor, rand)


# ---- stories -> parts -----------------------------------------------------------
def _parts(story: Story, domain: Domain) -> list[_Part]:
    steps: list[Step] = list(story.steps)
    prefix: list[Event] = []
    if story.is_rule:
        prefix = [e for step in story.condition for e in _events(step, domain, True)[0]]
        if not story.conversation_start:
            prefix.append(TrainingAction(name=RULE_SNIPPET_ACTION))
    parts: list[_Part] = []
    current = _Part(story.name, story.source, story.is_rule, starts=[], ends=[], alternatives=[list(prefix)])
    has_content = bool(prefix)
    for step in steps:
        if isinstance(step, CheckpointStep):
            if story.is_rule:
                log.warning("%s: rules cannot use checkpoints; %r is ignored", story.source, step.name)
            elif not has_content and not current.ends:
                current.starts.append(step)
            else:
                current.ends.append(step.name)
            continue
        if current.ends:
            parts.append(current)
            starts = [CheckpointStep(name=name) for name in current.ends]
            current = _Part(story.name, story.source, False, starts=starts, ends=[], alternatives=[[]])
        options = _events(step, domain, story.is_rule)
        current.alternatives = [alt + option for alt in current.alternatives for option in options]
        has_content = True
    if story.is_rule and not story.wait_for_user_input:
        for alt in current.alternatives:
            alt.append(TrainingAction(name=RULE_SNIPPET_ACTION))
    if has_content:
        parts.append(current)
    for part in parts:
        part.alternatives = [_explicit(alt, part, domain) for alt in part.alternatives]
    return parts


def _events(step: Step, domain: Domain, is_rule: bool) -> list[list[Event]]:
    """The event options of one step (several for ``or``)."""
    if isinstance(step, OrStep):
        return [opt for alt in step.alternatives for opt in _events(alt, domain, is_rule)]
    if isinstance(step, UserStep):
        return [[_user_uttered(step)]]
    if isinstance(step, ActionStep):
        if step.name:
            return [[TrainingAction(name=step.name)]]
        return [[TrainingAction(name="", action_text=step.bot_text)]]
    if isinstance(step, SlotStep):
        value = _bare_slot_value(step, domain) if step.any_value else step.value
        if is_rule and value is None:
            value = SHOULD_NOT_BE_SET
        return [[SlotSet(name=step.name, value=value)]]
    if isinstance(step, ActiveLoopStep):
        name = step.name if step.name is not None or not is_rule else SHOULD_NOT_BE_SET
        return [[ActiveLoop(name=name)]]
    return [[]]


def _user_uttered(step: UserStep) -> UserUttered:
    parse = ParseData(
        text=step.text or "",
        intent=IntentPrediction(name=step.intent, confidence=1.0),
        entities=[_entity(e) for e in step.entities],
    )
    return UserUttered(text=step.text, parse_data=parse)


def _entity(raw: EntitySpan | dict[str, Any]) -> EntityValue:
    if isinstance(raw, EntitySpan):
        return EntityValue(**raw.model_dump())
    if "entity" in raw:
        return EntityValue(**raw)
    ((name, value),) = raw.items()
    return EntityValue(entity=str(name), value=value)


def _bare_slot_value(step: SlotStep, domain: Domain) -> Any:
    slot = domain.slots.get(step.name)
    return [FILLED] if slot is not None and slot_kind(slot) == "list" else FILLED


def _explicit(raw: list[Event], part: _Part, domain: Domain) -> list[Event]:
    """Rasa's ``explicit_events``: listens before user turns, entity slots, a final listen."""
    events: list[Event] = []
    opening = not part.starts
    for event in raw:
        if isinstance(event, UserUttered):
            opening = False
            if not events or not _is_listen(events[-1]):
                events.append(TrainingAction(name=ACTION_LISTEN))
            events.append(event)
            events.extend(slots_for_entities(event.entities, domain))
        elif opening and isinstance(event, TrainingAction):
            # the bot action a conversation starts with has nothing to be predicted from
            events.append(event.model_copy(update={"unpredictable": True}))
            opening = False
        else:
            events.append(event)
    if not part.ends and (not events or not _is_listen(events[-1])):
        events.append(TrainingAction(name=ACTION_LISTEN))
    return events


def slots_for_entities(entities: Iterable[EntityValue], domain: Domain) -> list[SlotSet]:
    """Slots filled by ``from_entity`` mappings without an ``active_loop`` condition."""
    entities = list(entities)
    out: list[SlotSet] = []
    for name, slot in domain.slots.items():
        values = [
            e.value
            for mapping in slot.mappings
            if mapping.type == "from_entity"
            and not (mapping.conditions and mapping.conditions[0].active_loop is not None)
            for e in entities
            if e.entity == mapping.entity and e.role == mapping.role and e.group == mapping.group
        ]
        if values:
            out.append(SlotSet(name=name, value=values if slot_kind(slot) == "list" else values[-1]))
    return out


# ---- gluing ----------------------------------------------------------------------
def _glue(parts: list[_Part]) -> list[TrainingTracker]:
    by_start: dict[str, list[tuple[_Part, CheckpointStep]]] = {}
    for part in parts:
        for start in part.starts:
            by_start.setdefault(start.name, []).append((part, start))
    finished: list[TrainingTracker] = []
    for part in parts:
        if part.starts:
            continue
        budget = [MAX_TRACKERS_PER_START]
        for alt in part.alternatives:
            _follow([], [], frozenset(), part, alt, by_start, finished, budget)
    used = {name for part in parts for name in part.ends}
    for name in sorted(set(by_start) - used):
        log.warning("checkpoint %r is never reached: no story ends with it", name)
    return finished


def _follow(
    prefix: list[Event],
    blocks: list[str],
    visited: frozenset[int],
    part: _Part,
    alt: list[Event],
    by_start: dict[str, list[tuple[_Part, CheckpointStep]]],
    finished: list[TrainingTracker],
    budget: list[int],
) -> None:
    if budget[0] <= 0:
        return
    events = prefix + alt
    names = blocks if part.block in blocks else [*blocks, part.block]
    visited = visited | {id(part)}
    continued = False
    for end in part.ends:
        for nxt, start in by_start.get(end, []):
            # each part at most once per conversation: checkpoint cycles end here
            if id(nxt) in visited or not _conditions_hold(start, events):
                continue
            continued = True
            for nxt_alt in nxt.alternatives:
                _follow(events, names, visited, nxt, nxt_alt, by_start, finished, budget)
    if not continued:
        # a story end, or a checkpoint nothing continues from (Rasa keeps those too)
        finished.append(TrainingTracker(" > ".join(names), events, source=part.source))
        budget[0] -= 1
        if budget[0] == 0:
            log.warning(
                "%s: checkpoints expand to over %d conversations; the rest is skipped",
                part.source,
                MAX_TRACKERS_PER_START,
            )


def _conditions_hold(start: CheckpointStep, events: list[Event]) -> bool:
    if not start.slot_was_set:
        return True
    slots: dict[str, Any] = {}
    for event in Tracker(sender_id="", events=list(events)).applied_events():
        if isinstance(event, SlotSet):
            slots[event.name] = event.value
    return all(slots.get(cond.name) == cond.value for cond in start.slot_was_set)


# ---- helpers ---------------------------------------------------------------------
def _is_listen(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.name == ACTION_LISTEN


def _ends_with_listen(events: list[Event]) -> bool:
    return bool(events) and _is_listen(events[-1])


def _subsample(items: list[TrainingTracker], limit: int, rand: random.Random) -> list[TrainingTracker]:
    rand.shuffle(items)
    return items[:limit]


def _signature(event: Event) -> tuple[Any, ...]:
    if isinstance(event, UserUttered):
        ents = tuple((e.entity, repr(e.value), e.role, e.group, e.start, e.end) for e in event.entities)
        return ("user", event.intent_name, event.text, ents)
    if isinstance(event, ActionExecuted):
        return ("action", event.name, event.action_text, is_unpredictable(event))
    if isinstance(event, SlotSet):
        return ("slot", event.name, repr(event.value))
    if isinstance(event, ActiveLoop):
        return ("loop", event.name)
    return (event.event, repr(event.model_dump(exclude={"timestamp"})))


def _dedupe(trackers: list[TrainingTracker]) -> list[TrainingTracker]:
    seen: set[tuple[Any, ...]] = set()
    out: list[TrainingTracker] = []
    # trackers share their event objects: describe each object once
    signatures: dict[int, tuple[Any, ...]] = {}
    for t in trackers:
        key = (
            t.is_rule,
            tuple(signatures.get(id(e)) or signatures.setdefault(id(e), _signature(e)) for e in t.events),
        )
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out
