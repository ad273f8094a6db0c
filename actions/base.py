"""The action seam and what every kind of action shares.

An action reads the conversation (a :class:`~bot.tracker.Tracker`) and returns the
events it causes; messages for the client are ``BotUttered`` events in that list.
In-process rasa_sdk-style actions and remote actions on a rasa_sdk action server both
answer in Rasa's wire format (a list of event dicts plus a list of dispatcher
messages); :func:`action_result_events` turns such an answer into our events, the
way Rasa's ``RemoteAction`` does.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, get_args

from pydantic import ValidationError

from bot.domain import Domain
from bot.errors import BadPayload
from bot.events import (
    SYSTEM_EVENT_TYPES,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SystemEventRefused,
    action_event_from_dict,
)
from bot.nlg import DATA_KEYS, ResponseRenderer, bot_uttered_from_message
from bot.tracker import Tracker

log = logging.getLogger(__name__)


class Action(Protocol):
    """Something the bot can do: ``name`` is what policies predict and stories mention."""

    name: str

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """Run against the conversation; return the events to append (messages are ``BotUttered``).

        Raise :class:`bot.errors.ActionRejected` to refuse to run on this turn, so the
        policies choose another action (Rasa's ``ActionExecutionRejection``).
        """
        ...


class ActionResolver(Protocol):
    """What composite actions (forms, fallbacks, slot extraction) need from the registry."""

    def get(self, name: str) -> Action:
        """The action called ``name``; raises :class:`bot.errors.ActionNotFound`."""
        ...

    def has(self, name: str) -> bool:
        """True when :meth:`get` can resolve ``name``."""
        ...

    def has_custom(self, name: str) -> bool:
        """True when a custom action (in-process or on the action server) can run ``name``."""
        ...


class UtterAction:
    """Utters one response of the domain (Rasa's ``ActionBotResponse``)."""

    def __init__(self, name: str, *, silent_fail: bool = False) -> None:
        self.name = name
        self.silent_fail = silent_fail

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """The rendered response, or nothing when no variation fits."""
        event = nlg.render(self.name, tracker, channel)
        if event is None:
            if not self.silent_fail:
                log.error("could not render response %r", self.name)
            return []
        return [event]


class LoopAction(ABC):
    """An action that stays active over several turns (forms, two-stage fallback):
    activate once, then ``do`` until ``is_done``, then deactivate (Rasa's ``LoopAction``)."""

    name: str

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """Activate if needed, do one step, and deactivate when the loop is done."""
        events: list[Event] = []
        if tracker.active_loop_name != self.name:
            events += await self._activate_loop(tracker, domain, nlg, channel)
        if not await self.is_done(tracker, domain, nlg, channel, events):
            events += await self.do(tracker, domain, nlg, channel, events)
        if await self.is_done(tracker, domain, nlg, channel, events):
            events.append(ActiveLoop(name=None))
            events += await self.deactivate(tracker, domain, nlg, channel, events)
        return events

    async def _activate_loop(
        self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        return [ActiveLoop(name=self.name), *await self.activate(tracker, domain, nlg, channel)]

    async def activate(
        self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        """Events to add when the loop starts (after ``ActiveLoop(name)``)."""
        return []

    @abstractmethod
    async def do(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> list[Event]:
        """One step of the loop."""

    @abstractmethod
    async def is_done(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> bool:
        """True when the loop should end now."""

    async def deactivate(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> list[Event]:
        """Events to add after ``ActiveLoop(None)``."""
        return []


# ---- the conversation as seen by composite actions ---------------------------------


def events_after_restart(tracker: Tracker) -> list[Event]:
    """The events since the last ``Restarted`` (all of them if there was none)."""
    for index in range(len(tracker.events) - 1, -1, -1):
        if isinstance(tracker.events[index], Restarted):
            return list(tracker.events[index + 1 :])
    return list(tracker.events)


def temporary_tracker(tracker: Tracker, domain: Domain, extra: Iterable[Event] = ()) -> Tracker:
    """A fresh tracker replaying ``tracker``'s events since its last restart plus ``extra``;
    what Rasa hands to validation actions so they see the slot candidates last.

    Without a restart in the log that replay is the fold ``tracker`` already holds (a tracker
    is the fold of its events from the domain's initial slots), so it is forked and only
    ``extra`` applied: a turn asks for several of these, and replaying a long log each time
    was a tenth of a turn.
    """
    fresh = Tracker.for_domain(tracker.sender_id, domain)
    if fresh.initial_slots == tracker.initial_slots and not any(
        isinstance(event, Restarted) for event in tracker.events
    ):
        fresh = tracker.fork()
    else:
        for event in events_after_restart(tracker):
            fresh.update(event)
    for event in extra:
        fresh.update(event)
    return fresh


# ---- rasa_sdk answers -> our events -----------------------------------------------

_KNOWN_EVENT_TYPES = frozenset(
    model.model_fields["event"].default for model in get_args(get_args(Event)[0])
) | {"form"}


def event_from_wire(raw: Any, action_name: str) -> Event | None:
    """One event an action returned (Rasa's wire format) as our event.

    Event types we do not keep (``export``, ``agent``) are logged and
    skipped; system events (handoff moves, pause/resume, notes, CSAT: only Concierge's
    services write them) are refused with an error log and skipped, so the turn goes on
    without them; a malformed event raises :class:`bot.errors.BadPayload`.
    """
    if not isinstance(raw, Mapping) or not raw.get("event"):
        kind_only = {"event": raw.get("event")} if isinstance(raw, Mapping) else type(raw).__name__
        raise BadPayload(f"action {action_name!r} returned an event without an 'event' key: {kind_only!r}")
    kind = raw["event"]
    if kind in SYSTEM_EVENT_TYPES:
        log.error("%s", SystemEventRefused(action_name, str(kind)))
        return None
    if kind not in _KNOWN_EVENT_TYPES:
        log.warning(
            "action %r returned a %r event, which Concierge does not support; ignored", action_name, kind
        )
        return None
    # rasa_sdk's helpers send ``timestamp: None`` and ``metadata: None``; let our defaults apply.
    cleaned = {k: v for k, v in raw.items() if not (k in ("timestamp", "metadata") and v is None)}
    try:
        return action_event_from_dict(cleaned, action_name)
    except ValidationError as exc:
        raise BadPayload(f"action {action_name!r} returned an invalid {kind!r} event: {exc}") from exc


def message_event(
    message: Mapping[str, Any], tracker: Tracker, nlg: ResponseRenderer, channel: str
) -> BotUttered | None:
    """A dispatcher message (``utter_message(...)``) as a ``BotUttered`` event.

    ``response`` (or the older ``template``) names a domain response to render, with
    the message's extra keys as placeholder values; explicit buttons are appended and
    explicit non-empty values override the rendered ones, as in Rasa's ``RemoteAction``.
    """
    rest = dict(message)
    response = rest.pop("response", None) or rest.pop("template", None)
    rest.pop("template", None)
    draft: dict[str, Any] = {}
    if response:
        standard = {"text", *DATA_KEYS}
        fill = {k: v for k, v in rest.items() if k not in standard and v is not None}
        rendered = nlg.generate(response, tracker, channel, **fill)
        if rendered is None:
            log.warning(
                "an action asked for response %r, which cannot be rendered; message skipped", response
            )
            return None
        draft = rendered
        draft["utter_action"] = response
    buttons = rest.pop("buttons", None) or []
    if buttons:
        draft["buttons"] = [*(draft.get("buttons") or []), *buttons]
    draft.update({k: v for k, v in rest.items() if v})
    return bot_uttered_from_message(draft)


def action_result_events(
    action_name: str,
    events: Sequence[Any],
    responses: Sequence[Mapping[str, Any]],
    tracker: Tracker,
    nlg: ResponseRenderer,
    channel: str,
) -> list[Event]:
    """An action's answer (events + dispatcher messages) as our events: the messages first,
    then the events, in the order Rasa applies them."""
    messages = [message_event(m, tracker, nlg, channel) for m in responses]
    parsed = [event_from_wire(raw, action_name) for raw in events]
    return [m for m in messages if m is not None] + [e for e in parsed if e is not None]
