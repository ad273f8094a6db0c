"""rasa_sdk's ``ValidationAction`` and ``FormValidationAction`` (``rasa_sdk.forms``).

A form validation action named ``validate_<form>`` receives the slot candidates the
bot's form extracted (the ``slot`` events at the end of the tracker), runs
``extract_<slot>`` methods for custom slots and ``validate_<slot>`` methods for the
candidates, and returns the validated values as ``SlotSet`` events; returning
``{slot: None}`` rejects a value, so the form asks for it again. Overriding
``required_slots`` changes which slots the form asks for, through ``requested_slot``.
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC
from typing import Any

from actions.sdk.events import EventType, SlotSet
from actions.sdk.executor import CollectingDispatcher
from actions.sdk.interfaces import Action, Tracker
from actions.sdk.types import DomainDict

log = logging.getLogger(__name__)

REQUESTED_SLOT = "requested_slot"
LOOP_INTERRUPTED_KEY = "is_interrupted"
ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"


async def _maybe_await(value: Any) -> Any:
    """The value, awaited when a method was written as ``async``."""
    return await value if inspect.isawaitable(value) else value


class ValidationAction(Action, ABC):
    """Extracts custom slots and validates slot values outside forms
    (``action_validate_slot_mappings``)."""

    def name(self) -> str:
        """``action_validate_slot_mappings``, the name the bot calls after each user message."""
        return ACTION_VALIDATE_SLOT_MAPPINGS

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Extract custom slots, then validate the candidates; returns ``SlotSet`` events."""
        extraction_events = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extraction_events)
        return await self._extract_validation_events(dispatcher, tracker, domain)

    async def _extract_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        validation_events = await self.get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(validation_events)
        return validation_events

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """The slots this action extracts and validates; override to change them."""
        return domain_slots

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """``SlotSet`` events from the ``extract_<slot>`` methods of the required slots."""
        extracted: dict[str, Any] = {}
        for slot in await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain):
            output = await self._extract_slot(slot, dispatcher, tracker, domain)
            extracted.update(output)
            # Later extract_<slot> methods see what earlier ones found.
            tracker.slots.update(output)
        return [SlotSet(slot, value) for slot, value in extracted.items()]

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """``SlotSet`` events for every candidate of a required slot, after its ``validate_<slot>``."""
        wanted = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        slots = tracker.slots_to_validate()
        for slot_name, value in list(slots.items()):
            if slot_name not in wanted:
                slots.pop(slot_name)
                continue
            method = getattr(self, f"validate_{slot_name.replace('-', '_')}", None)
            if method is None:
                # the slot's name only: its value is the client's (a name, a phone number)
                log.debug("no validate_%s method; the extracted value is accepted", slot_name)
                continue
            output = await _maybe_await(method(value, dispatcher, tracker, domain))
            if isinstance(output, dict):
                slots.update(output)
                # Later validate_<slot> methods see what earlier ones decided.
                tracker.slots.update(output)
            else:
                log.warning("validate_%s must return a dict of slot values; got %r", slot_name, output)
        return [SlotSet(slot, value) for slot, value in slots.items()]

    @staticmethod
    def _is_mapped_to_form(slot: dict[str, Any]) -> bool:
        return any(
            condition.get("active_loop")
            for mapping in slot.get("mappings") or []
            for condition in mapping.get("conditions") or []
        )

    def global_slots(self, domain: DomainDict) -> list[str]:
        """Slots none of whose mappings is conditioned on a form."""
        return [name for name, slot in domain.get("slots", {}).items() if not self._is_mapped_to_form(slot)]

    def domain_slots(self, domain: DomainDict) -> list[str]:
        """The slots this action looks after by default: the global ones."""
        return self.global_slots(domain)

    async def _extract_slot(
        self, slot_name: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        method = getattr(self, f"extract_{slot_name.replace('-', '_')}", None)
        if method is None:
            if slot_name not in self.domain_slots(domain):
                log.warning("no method extract_%s for slot %r; not extracted", slot_name, slot_name)
            return {}
        extracted = await _maybe_await(method(dispatcher, tracker, domain))
        if isinstance(extracted, dict):
            return extracted
        log.warning("extract_%s must return a dict of slot values; got %r", slot_name, extracted)
        return {}


class FormValidationAction(ValidationAction, ABC):
    """Validates (and extracts custom slots for) the form named by ``name()`` minus ``validate_``."""

    def name(self) -> str:
        """``validate_<form name>``; must be implemented."""
        raise NotImplementedError("An action must implement a name")

    def form_name(self) -> str:
        """The form this action validates."""
        return self.name().replace("validate_", "", 1)

    async def _extract_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await self.get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(events)
        next_slot = await self.next_requested_slot(dispatcher, tracker, domain)
        if next_slot:
            events.append(next_slot)
        return events

    def domain_slots(self, domain: DomainDict) -> list[str]:
        """The form's ``required_slots`` from the domain."""
        form = domain.get("forms", {}).get(self.form_name(), {}) or {}
        return list(form.get("required_slots", []) or [])

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        """``SlotSet(requested_slot, <first missing slot>)`` when ``required_slots`` is
        overridden (None when all are filled, which ends the form); None otherwise,
        leaving the choice to the bot's form."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        if required == self.domain_slots(domain):
            return None
        missing = (slot for slot in required if tracker.slots.get(slot) is None)
        return SlotSet(REQUESTED_SLOT, next(missing, None))
