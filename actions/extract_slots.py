"""``action_extract_slots``: fills slots from each client message (Rasa 3 slot mappings).

For every slot of the domain, its mappings are tried in order and the first one
that applies sets the slot:

* ``from_entity`` - an entity of that type (and role and group) in the message;
* ``from_text`` - the message's text;
* ``from_intent`` - a fixed value when the message has one of the intents;
* ``from_trigger_intent`` - a fixed value when a form listed in the mapping's
  conditions is active (in practice: when the message activated that form, since
  forms run this action again when they activate);
* ``custom`` - only with ``action:``, which is run and may set slots.

``intent``/``not_intent`` (plus an active form's ``ignored_intents``) and
``conditions`` (``active_loop`` and ``requested_slot``) decide whether a mapping
applies. Only changed values produce ``SlotSet`` events. When the bot has an
``action_validate_slot_mappings`` custom action, it validates the result (and may
extract custom slots), as Rasa does.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from actions.base import ActionResolver, temporary_tracker
from bot.domain import (
    ACTION_EXTRACT_SLOTS,
    REQUESTED_SLOT,
    SESSION_STARTED_METADATA_SLOT,
    Domain,
    SlotDef,
    SlotMapping,
)
from bot.errors import ConciergeError
from bot.events import BotUttered, Event, SlotSet
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

log = logging.getLogger(__name__)

ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"
# Slots the bot itself manages; mappings never fill them.
DEFAULT_SLOT_NAMES = frozenset(
    {
        REQUESTED_SLOT,
        SESSION_STARTED_METADATA_SLOT,
        "knowledge_base_listed_objects",
        "knowledge_base_last_object",
        "knowledge_base_last_object_type",
    }
)


def latest_entity_values(
    tracker: Tracker, entity: str | None, role: str | None, group: str | None
) -> list[Any]:
    """Values of the latest message's entities with exactly this type, role and group."""
    if tracker.latest_message is None:
        return []
    return [
        e.value
        for e in tracker.latest_message.entities
        if e.entity == entity and e.role == role and e.group == group
    ]


def intent_is_desired(mapping: SlotMapping, tracker: Tracker, domain: Domain) -> bool:
    """True when the message's intent passes the mapping's ``intent``/``not_intent``
    (an active form's ``ignored_intents`` count as ``not_intent`` for its mappings)."""
    intents = list(mapping.intent or [])
    not_intents = list(mapping.not_intent or [])
    loop = tracker.active_loop_name
    if loop:
        for_this_loop = not mapping.conditions or any(c.active_loop == loop for c in mapping.conditions)
        form = domain.forms.get(loop)
        if for_this_loop and form:
            not_intents += form.ignored_intents
    intent = tracker.latest_intent
    return (not intents and intent not in not_intents) or intent in intents


def conditions_hold(mapping: SlotMapping, tracker: Tracker, slot: str) -> bool:
    """True when one of the mapping's conditions matches the active form and requested
    slot (always, without conditions; trigger-intent mappings check theirs on extraction)."""
    if not mapping.conditions or mapping.type == "from_trigger_intent":
        return True
    requested = tracker.get_slot(REQUESTED_SLOT)
    # The form just refused this slot's answer: do not fill it behind its back.
    if tracker.active_loop.rejected and requested == slot:
        return False
    loop = tracker.active_loop_name
    for condition in mapping.conditions:
        if condition.active_loop and condition.active_loop == loop:
            if not condition.requested_slot or condition.requested_slot == requested:
                return True
        if condition.active_loop is None and loop is None:
            return True
    return False


def _mapping_key(mapping: SlotMapping) -> str:
    return json.dumps(mapping.model_dump(mode="json", exclude_none=True), sort_keys=True)


def _is_unique_entity_mapping(mapping: SlotMapping, form: str, domain: Domain) -> bool:
    """True when no other required slot of ``form`` has this same ``from_entity`` mapping."""
    key = _mapping_key(mapping)
    count = 0
    for name in domain.forms[form].required_slots:
        slot = domain.slots.get(name)
        if slot is None:
            continue
        count += sum(1 for m in slot.mappings if m.type == "from_entity" and _mapping_key(m) == key)
    return count <= 1


def ambiguous_for_form(slot: str, mapping: SlotMapping, tracker: Tracker, domain: Domain) -> bool:
    """True when an active form's other required slots share this entity mapping and the
    form did not ask for this slot: the entity's value is left to the requested slot."""
    loop = tracker.active_loop_name
    if mapping.type != "from_entity" or not loop or loop not in domain.forms:
        return False
    if tracker.get_slot(REQUESTED_SLOT) == slot or slot not in domain.forms[loop].required_slots:
        return False
    return not _is_unique_entity_mapping(mapping, loop, domain)


def predefined_values(mapping: SlotMapping, tracker: Tracker) -> list[Any]:
    """The candidate values a non-custom mapping finds in the latest message ([] for none)."""
    if mapping.type == "from_entity":
        return latest_entity_values(tracker, mapping.entity, mapping.role, mapping.group)
    if mapping.type == "from_intent":
        return [mapping.value]
    if mapping.type == "from_trigger_intent":
        loop = tracker.active_loop_name
        loops = [c.active_loop for c in mapping.conditions]
        if loop is None or (loops and loop not in loops):
            return []
        return [mapping.value]
    if mapping.type == "from_text":
        return [tracker.latest_message.text] if tracker.latest_message else []
    return []


class ExtractSlotsAction:
    """Runs after every client message (and when a form activates); see the module doc."""

    name = ACTION_EXTRACT_SLOTS

    def __init__(self, actions: ActionResolver) -> None:
        self._actions = actions
        self._warned: set[tuple[str, str]] = set()

    def _valid(self, slot: str, mapping: SlotMapping, domain: Domain) -> bool:
        problem = None
        if mapping.type == "from_entity" and mapping.entity not in domain.entity_names:
            problem = f"entity {mapping.entity!r}"
        elif (
            mapping.type == "from_intent"
            and mapping.intent
            and not set(mapping.intent) & set(domain.intent_names)
        ):
            problem = f"intent {mapping.intent!r}"
        if problem is None:
            return True
        if (slot, problem) not in self._warned:
            self._warned.add((slot, problem))
            log.warning("slot %r maps from the unknown %s; that mapping is skipped", slot, problem)
        return False

    def _value_for(self, slot: SlotDef, mapping: SlotMapping, tracker: Tracker) -> tuple[bool, Any]:
        values = predefined_values(mapping, tracker)
        if not values:
            return False, None
        value = values if slot.type == "list" else values[-1]
        return value is not None, value

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """``SlotSet`` events for the slots the latest message changes (plus any messages
        from custom mapping actions), validated by ``action_validate_slot_mappings``."""
        events: list[Event] = []
        ran_custom: set[str] = set()
        for slot in domain.slots.values():
            if slot.name in DEFAULT_SLOT_NAMES:
                continue
            for mapping in slot.mappings:
                if not self._valid(slot.name, mapping, domain):
                    continue
                if not intent_is_desired(mapping, tracker, domain) or not conditions_hold(
                    mapping, tracker, slot.name
                ):
                    continue
                if ambiguous_for_form(slot.name, mapping, tracker, domain):
                    continue
                if mapping.type == "custom":
                    if mapping.action and mapping.action not in ran_custom:
                        ran_custom.add(mapping.action)
                        events += await self._run_custom(mapping.action, tracker, domain, nlg, channel)
                    continue
                found, value = self._value_for(slot, mapping, tracker)
                if not found:
                    continue
                if tracker.get_slot(slot.name) != value:
                    events.append(SlotSet(name=slot.name, value=value))
                break
        return await self._validate(events, tracker, domain, nlg, channel)

    async def _run_custom(
        self, name: str, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        """Slot and message events of a custom action; its failures cost only its slots."""
        try:
            result = await self._actions.get(name).run(tracker, domain, nlg, channel)
        except ConciergeError as exc:
            log.warning(
                "custom action %r failed while extracting slots; its slots stay as they are: %s", name, exc
            )
            return []
        kept: list[Event] = [e for e in result if isinstance(e, (SlotSet, BotUttered))]
        for dropped in {type(e).__name__ for e in result if not isinstance(e, (SlotSet, BotUttered))}:
            log.info("custom action %r returned a %s event while extracting slots; ignored", name, dropped)
        return kept

    async def _validate(
        self, events: list[Event], tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        if not self._actions.has_custom(ACTION_VALIDATE_SLOT_MAPPINGS):
            return events
        slot_events = [e for e in events if isinstance(e, SlotSet)]
        candidates = temporary_tracker(tracker, domain, slot_events)
        validated = await self._run_custom(ACTION_VALIDATE_SLOT_MAPPINGS, candidates, domain, nlg, channel)
        # A candidate the action did not answer for is valid as extracted; it rejects
        # one by setting it to None.
        decided = {e.name for e in validated if isinstance(e, SlotSet)}
        messages = [e for e in events if isinstance(e, BotUttered)]
        return messages + validated + [e for e in slot_events if e.name not in decided]
