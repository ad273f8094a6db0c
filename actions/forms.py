"""Forms: loops that ask for slots until they are all filled (Rasa 3's ``FormAction``).

By the time a form runs, ``action_extract_slots`` has already filled slots from the
client's message. The form then:

* on activation: ``ActiveLoop(form)``, runs slot extraction again with the form
  active (this is what fills ``from_trigger_intent`` slots), and validates the
  required slots that already have a value;
* on later turns: validates the slot candidates of the latest message and rejects
  execution (:class:`~bot.errors.ActionRejected`) when the message filled none of the
  required slots while one was requested, so the policies can handle the digression;
* asks for the first empty required slot (``requested_slot`` + the ask action);
* ends with ``SlotSet(requested_slot, None)`` and ``ActiveLoop(None)`` when none is left.

Validation runs through a ``validate_<form>`` custom action when the bot has one: it
gets the candidates as the last events of the tracker and answers with ``SlotSet``
events, ``None`` for a rejected value (which is then asked for again). It can also
choose the next slot by setting ``requested_slot`` (rasa_sdk's ``required_slots``
override) or end the form early.
"""

from __future__ import annotations

import logging
from typing import Any

from actions.base import ActionResolver, LoopAction, temporary_tracker
from bot.domain import ACTION_EXTRACT_SLOTS, ACTION_LISTEN, REQUESTED_SLOT, Domain
from bot.errors import ActionRejected
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    Restarted,
    SlotSet,
    UserUttered,
)
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

log = logging.getLogger(__name__)


def _sets_requested_slot_to_none(event: Event) -> bool:
    return isinstance(event, SlotSet) and event.name == REQUESTED_SLOT and event.value is None


def _slot_sets_since_latest_message(tracker: Tracker) -> list[SlotSet]:
    """``SlotSet`` events after the latest user message (what extraction found in it)."""
    found: list[SlotSet] = []
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, Restarted)):
            break
        if isinstance(event, SlotSet):
            found.append(event)
    return list(reversed(found))


class FormAction(LoopAction):
    """The form ``name`` of the domain, run as a loop."""

    def __init__(self, name: str, actions: ActionResolver) -> None:
        self.name = name
        self._actions = actions
        self._warned_unvalidated = False

    # ---- what the form needs -------------------------------------------------------
    def required_slots(self, domain: Domain) -> list[str]:
        """The form's required slots as the domain lists them."""
        form = domain.forms.get(self.name)
        return list(form.required_slots) if form else []

    def slot_to_fill(self, tracker: Tracker) -> str | None:
        """The slot this form asked for, or None (``requested_slot`` of another form is ignored)."""
        return tracker.get_slot(REQUESTED_SLOT) if tracker.active_loop_name == self.name else None

    @property
    def validation_action(self) -> str:
        """The name of the custom action that validates this form's slots."""
        return f"validate_{self.name}"

    # ---- validation ------------------------------------------------------------------
    async def validate_slots(
        self,
        candidates: dict[str, Any],
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
    ) -> list[Event]:
        """The events of ``validate_<form>`` for these candidates; [] when the bot has no
        such action (the candidates are then already on the tracker, as extracted)."""
        if not self._actions.has_custom(self.validation_action):
            if self.validation_action in domain.actions and not self._warned_unvalidated:
                self._warned_unvalidated = True
                log.warning(
                    "%s is listed in the domain but no custom action runs it; slots not validated",
                    self.validation_action,
                )
            return []
        candidate_events: list[Event] = [
            SlotSet(name=name, value=value) for name, value in candidates.items()
        ]
        validation_tracker = self._temporary_tracker(tracker, domain, candidate_events)
        action = self._actions.get(self.validation_action)
        return await action.run(validation_tracker, domain, nlg, channel)

    def _temporary_tracker(self, tracker: Tracker, domain: Domain, extra: list[Event]) -> Tracker:
        # requested_slot set for this form and the form's own execution mark where the
        # new events start; the candidates come last, where validation actions look.
        marker: list[Event] = [
            SlotSet(name=REQUESTED_SLOT, value=self.slot_to_fill(tracker)),
            ActionExecuted(name=self.name),
        ]
        return temporary_tracker(tracker, domain, [*marker, *extra])

    def _extracted_candidates(self, tracker: Tracker, domain: Domain) -> dict[str, Any]:
        wanted = set(self.required_slots(domain))
        requested = self.slot_to_fill(tracker)
        if requested:
            # A validation action may have requested a slot the domain does not list.
            wanted.add(requested)
        return {e.name: e.value for e in _slot_sets_since_latest_message(tracker) if e.name in wanted}

    async def validate(
        self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        """Validate what the latest message filled; reject when it filled nothing that was asked."""
        candidates = self._extracted_candidates(tracker, domain)
        events = await self.validate_slots(candidates, tracker, domain, nlg, channel)
        validated = any(isinstance(e, SlotSet) and e.name != REQUESTED_SLOT for e in events)
        rejected_by_action = any(isinstance(e, ActionExecutionRejected) for e in events)
        requested = self.slot_to_fill(tracker)
        if requested and not candidates and not validated and not rejected_by_action:
            raise ActionRejected(self.name, f"failed to extract slot {requested!r} with form {self.name!r}")
        return events

    async def _validate_if_required(
        self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        # Input is validated when the form is activated, or runs right after the client
        # spoke and was not interrupted; coming back after a digression only re-asks.
        needs_validation = tracker.active_loop_name is None or (
            tracker.latest_action_name == ACTION_LISTEN and tracker.active_loop.validate
        )
        if needs_validation:
            return await self.validate(tracker, domain, nlg, channel)
        return await self.validate_slots({}, tracker, domain, nlg, channel)

    # ---- the loop --------------------------------------------------------------------
    async def _activate_loop(
        self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        events: list[Event] = [ActiveLoop(name=self.name)]
        active = tracker.fork()
        for event in events:
            active.update(event)
        return events + await self.activate(active, domain, nlg, channel)

    async def activate(
        self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        """Extract slots with the form active (trigger-intent mappings) and validate the
        required slots that already have values."""
        extract = self._actions.get(ACTION_EXTRACT_SLOTS)
        extracted = [e for e in await extract.run(tracker, domain, nlg, channel) if isinstance(e, SlotSet)]
        for event in extracted:
            tracker.update(event)
        prefilled = {
            name: tracker.get_slot(name)
            for name in self.required_slots(domain)
            if tracker.get_slot(name) is not None
        }
        if not self._actions.has_custom(self.validation_action):
            return list(extracted)
        validated = await self.validate_slots(prefilled, tracker, domain, nlg, channel)
        validated_names = {e.name for e in validated if isinstance(e, SlotSet)}
        return validated + [e for e in extracted if e.name not in validated_names]

    async def do(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> list[Event]:
        """Validate (unless activation just did), then ask for the next slot."""
        events: list[Event] = []
        if not [e for e in events_so_far if not isinstance(e, ActiveLoop)]:
            events = await self._validate_if_required(tracker, domain, nlg, channel)
        if not any(isinstance(e, ActionExecutionRejected) for e in events):
            events += await self.request_next_slot(tracker, domain, nlg, channel, events_so_far + events)
        return events

    async def is_done(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> bool:
        """Done when the last word on ``requested_slot`` is None or the loop was deactivated
        (a validation action may do either to end the form early)."""
        if any(isinstance(e, ActionExecutionRejected) for e in events_so_far):
            return False
        last_requested = next(
            (e for e in reversed(events_so_far) if isinstance(e, SlotSet) and e.name == REQUESTED_SLOT), None
        )
        last_loop = next((e for e in reversed(events_so_far) if isinstance(e, ActiveLoop)), None)
        return (last_requested is not None and _sets_requested_slot_to_none(last_requested)) or (
            last_loop is not None and last_loop.name is None
        )

    async def request_next_slot(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> list[Event]:
        """``SlotSet(requested_slot, <slot>)`` and the question for it, or
        ``SlotSet(requested_slot, None)`` when every required slot is filled."""
        if await self.is_done(tracker, domain, nlg, channel, events_so_far):
            return [SlotSet(name=REQUESTED_SLOT, value=None)]
        chosen = next(
            (e.value for e in events_so_far if isinstance(e, SlotSet) and e.name == REQUESTED_SLOT), None
        )
        after = self._temporary_tracker(tracker, domain, events_so_far)
        events: list[Event] = []
        if not chosen:
            chosen = next((s for s in self.required_slots(domain) if after.get_slot(s) is None), None)
            events.append(SlotSet(name=REQUESTED_SLOT, value=chosen))
        if not chosen:
            return [SlotSet(name=REQUESTED_SLOT, value=None)]
        return events + await self._ask_for_slot(chosen, after, domain, nlg, channel)

    def ask_action_name(self, slot: str, domain: Domain) -> str | None:
        """The first of ``action_ask_<form>_<slot>``, ``utter_ask_<form>_<slot>``,
        ``action_ask_<slot>``, ``utter_ask_<slot>`` the bot can run."""
        for name in (
            f"action_ask_{self.name}_{slot}",
            f"utter_ask_{self.name}_{slot}",
            f"action_ask_{slot}",
            f"utter_ask_{slot}",
        ):
            if name.startswith("utter_") and name in domain.responses:
                return name
            if name.startswith("action_") and self._actions.has_custom(name):
                return name
        return None

    async def _ask_for_slot(
        self, slot: str, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        name = self.ask_action_name(slot, domain)
        if name is None:
            # Not an error: a validation action may have asked already.
            log.debug("no action asks for slot %r of form %r", slot, self.name)
            return []
        return await self._actions.get(name).run(tracker, domain, nlg, channel)
