"""rasa_sdk's ``Tracker`` and ``Action`` (``rasa_sdk.interfaces``), for in-process actions.

The tracker is the dict view an action server receives (``Tracker.current_state()``
of the bot), with rasa_sdk's accessors, so action code written for rasa_sdk reads
the conversation the same way here.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from actions.sdk.events import EventType
from actions.sdk.types import DomainDict, TrackerState

if TYPE_CHECKING:
    from actions.sdk.executor import CollectingDispatcher

log = logging.getLogger(__name__)

ACTION_LISTEN_NAME = "action_listen"
NLU_FALLBACK_INTENT_NAME = "nlu_fallback"


class Tracker:
    """The conversation as an action sees it: slots, the latest message, the events."""

    @classmethod
    def from_dict(cls, state: TrackerState) -> Tracker:
        """Build from the tracker state the bot sends (``current_state()``)."""
        return cls(
            state["sender_id"],
            state.get("slots", {}),
            state.get("latest_message", {}),
            state.get("events", []),
            state.get("paused", False),
            state.get("followup_action"),
            state.get("active_loop", state.get("active_form", {})) or {},
            state.get("latest_action_name"),
            state.get("stack", []),
            state.get("user_id"),
        )

    def __init__(
        self,
        sender_id: str,
        slots: dict[str, Any],
        latest_message: dict[str, Any] | None,
        events: list[dict[str, Any]],
        paused: bool,
        followup_action: str | None,
        active_loop: dict[str, Any],
        latest_action_name: str | None,
        stack: list[dict[str, Any]] | None = None,
        user_id: str | None = None,
    ) -> None:
        self.events = events
        self.sender_id = sender_id
        self.slots = slots
        self.followup_action = followup_action
        self._paused = paused
        # The latest message is its parse data: {"text", "intent", "entities", ...}.
        self.latest_message = latest_message or {}
        self.active_loop = active_loop
        self.latest_action_name = latest_action_name
        self.stack = stack or []
        self.user_id = user_id

    def current_state(self) -> dict[str, Any]:
        """The tracker as a dict, in the shape :meth:`from_dict` reads."""
        return {
            "sender_id": self.sender_id,
            "slots": self.slots,
            "latest_message": self.latest_message,
            "latest_event_time": self.events[-1].get("timestamp") if self.events else None,
            "paused": self.is_paused(),
            "events": self.events,
            "latest_input_channel": self.get_latest_input_channel(),
            "active_loop": self.active_loop,
            "latest_action_name": self.latest_action_name,
            "stack": self.stack,
            "user_id": self.user_id,
        }

    def current_slot_values(self) -> dict[str, Any]:
        """All slots and their values."""
        return self.slots

    def get_slot(self, key: str) -> Any:
        """The value of slot ``key`` (None when unset or unknown)."""
        if key not in self.slots:
            log.info("tried to access non-existent slot %r", key)
            return None
        return self.slots[key]

    def get_latest_entity_values(
        self, entity_type: str, entity_role: str | None = None, entity_group: str | None = None
    ) -> Iterator[Any]:
        """Values of the latest message's entities of this type (and role and group)."""
        entities = self.latest_message.get("entities", []) or []
        return (
            e.get("value")
            for e in entities
            if e.get("entity") == entity_type
            and e.get("group") == entity_group
            and e.get("role") == entity_role
        )

    def get_latest_input_channel(self) -> str | None:
        """The channel of the latest user message."""
        for event in reversed(self.events):
            if event.get("event") == "user":
                return event.get("input_channel")
        return None

    def is_paused(self) -> bool:
        """True while the bot does not answer (e.g. a human took over)."""
        return self._paused

    def idx_after_latest_restart(self) -> int:
        """The index of the first event after the latest restart (0 without one)."""
        idx = 0
        for i, event in enumerate(self.events):
            if event.get("event") == "restart":
                idx = i + 1
        return idx

    def events_after_latest_restart(self) -> list[dict[str, Any]]:
        """The events since the latest restart."""
        return list(self.events)[self.idx_after_latest_restart() :]

    @property
    def active_loop_name(self) -> str | None:
        """The active form (loop), or None."""
        if not self.active_loop or self.active_loop.get("name") == "should_not_be_set":
            return None
        return self.active_loop.get("name")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Tracker) and other.events == self.events and other.sender_id == self.sender_id
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def copy(self) -> Tracker:
        """A copy whose slots, latest message and events can be changed independently."""
        return Tracker(
            self.sender_id,
            copy.deepcopy(self.slots),
            copy.deepcopy(self.latest_message),
            copy.deepcopy(self.events),
            self._paused,
            self.followup_action,
            self.active_loop,
            self.latest_action_name,
            self.stack,
            self.user_id,
        )

    def last_executed_action_has(self, name: str, skip: int = 0) -> bool:
        """True when the last action other than ``action_listen`` (after ``skip``) is ``name``."""
        last = self.get_last_event_for("action", exclude=[ACTION_LISTEN_NAME], skip=skip)
        return last is not None and last["name"] == name

    def get_last_event_for(
        self, event_type: str, exclude: list[str] | None = None, skip: int = 0
    ) -> dict[str, Any] | None:
        """The last applied event of ``event_type`` (actions in ``exclude`` are passed over)."""
        excluded = set(exclude or [])
        found = (
            e
            for e in reversed(self.applied_events())
            if e["event"] == event_type and not (e["event"] == "action" and e["name"] in excluded)
        )
        for _ in range(skip):
            next(found, None)
        return next(found, None)

    def applied_events(self) -> list[dict[str, Any]]:
        """The events that still count: restarts, rewinds and undos applied."""

        def undo_till_previous(event_type: str, done: list[dict[str, Any]]) -> None:
            while done:
                if done.pop()["event"] == event_type:
                    break

        applied: list[dict[str, Any]] = []
        for event in self.events:
            kind = event.get("event")
            if kind == "restart":
                applied = []
            elif kind == "undo":
                undo_till_previous("action", applied)
            elif kind == "rewind":
                # A user message implies the action_listen before it: undo both.
                undo_till_previous("user", applied)
                undo_till_previous("action", applied)
            else:
                applied.append(event)
        return applied

    def slots_to_validate(self) -> dict[str, Any]:
        """The slot candidates: the ``slot`` events at the very end of the event list,
        where the bot's form appends them before calling a validation action."""
        trailing = 0
        for event in reversed(self.events):
            if event["event"] != "slot":
                break
            trailing += 1
        return {e["name"]: e["value"] for e in self.events[len(self.events) - trailing :]}

    def add_slots(self, slots: list[EventType]) -> None:
        """Apply ``slot`` events to this tracker (other events are ignored)."""
        for event in slots:
            if event.get("event") != "slot":
                continue
            self.slots[event["name"]] = event["value"]
            self.events.append(event)

    def get_intent_of_latest_message(self, skip_fallback_intent: bool = True) -> str | None:
        """The intent of the latest message; ``nlu_fallback`` is skipped for the runner-up."""
        ranking = (self.latest_message or {}).get("intent_ranking")
        if not ranking:
            return None
        top = ranking[0]
        if top["name"] == NLU_FALLBACK_INTENT_NAME and skip_fallback_intent:
            return ranking[1]["name"] if len(ranking) >= 2 else None
        return top["name"]


class Action:
    """A custom action: subclass it, return the name from :meth:`name` and implement :meth:`run`."""

    def name(self) -> str:
        """The action's name, as used in the domain and stories."""
        raise NotImplementedError("An action must implement a name")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Do the work; send messages with ``dispatcher.utter_message`` and return events.

        ``run`` may also be a plain (non-async) method.
        """
        raise NotImplementedError("An action must implement its run method")

    def __str__(self) -> str:
        return f"Action('{self.name()}')"


class ActionExecutionRejection(Exception):
    """Raise it to refuse to run; the bot's policies then choose another action."""

    def __init__(self, action_name: str, message: str | None = None) -> None:
        self.action_name = action_name
        self.message = message or f"Custom action '{action_name}' rejected execution."
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ActionNotFoundException(Exception):
    """No action is registered under this name."""

    def __init__(self, action_name: str, message: str | None = None) -> None:
        self.action_name = action_name
        self.message = message or f"No registered action found for name '{action_name}'."
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
