"""Cross-file checks Rasa warns about: names used in data that the domain does not define.

They are warnings, not errors, because Rasa trains such projects too; the user sees
them when the project loads (``concierge train``) rather than as odd behaviour later.
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.domain import DEFAULT_INTENTS, Domain
from bot.training_data import (
    ActionStep,
    ActiveLoopStep,
    NLUData,
    OrStep,
    SlotStep,
    Step,
    Story,
    StoryData,
    UserStep,
)


def consistency_warnings(domain: Domain, nlu: NLUData, stories: StoryData) -> list[str]:
    """Warnings for intents, entities, actions, slots and forms that do not line up."""
    out: list[str] = []
    intents = set(domain.intent_names)
    entities = set(domain.entity_names)
    for intent in sorted(set(nlu.intents) - intents):
        out.append(f"intent {intent!r} has training examples but is not listed in the domain")
    trained = set(nlu.intents)
    if nlu.examples:
        for defined in domain.intents:
            if defined.name not in trained and defined.name not in DEFAULT_INTENTS:
                out.append(f"intent {defined.name!r} is in the domain but has no training examples")
    annotated = {span.entity for ex in nlu.examples for span in ex.entities}
    for entity in sorted(annotated - entities):
        out.append(f"entity {entity!r} is annotated in training examples but is not listed in the domain")
    out.extend(_story_warnings(domain, [*stories.stories, *stories.rules], intents))
    return out


def _story_warnings(domain: Domain, stories: list[Story], intents: set[str]) -> Iterator[str]:
    actions = set(domain.action_names)
    loops = set(domain.forms) | actions
    for story in stories:
        where = f"{story.source}: {'rule' if story.is_rule else 'story'} {story.name!r}"
        for step in _all_steps([*story.condition, *story.steps]):
            if isinstance(step, UserStep) and step.intent and step.intent.split("/")[0] not in intents:
                yield f"{where} uses intent {step.intent!r} which is not in the domain"
            elif isinstance(step, ActionStep) and step.name and step.name not in actions:
                yield f"{where} uses action {step.name!r} which is not in the domain"
            elif isinstance(step, SlotStep) and step.name not in domain.slots:
                yield f"{where} sets slot {step.name!r} which is not in the domain"
            elif isinstance(step, ActiveLoopStep) and step.name and step.name not in loops:
                yield f"{where} activates {step.name!r} which is not a form in the domain"


def _all_steps(steps: list[Step]) -> Iterator[Step]:
    for step in steps:
        if isinstance(step, OrStep):
            yield from step.alternatives
        else:
            yield step
