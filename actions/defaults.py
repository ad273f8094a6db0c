"""Rasa's default actions, with Rasa 3's behaviour.

Each returns exactly the events Rasa's would, so stories and rules written for Rasa
(and the tracker fold in :mod:`bot.tracker`) mean the same thing here. The
two-stage fallback asks the client to confirm the intent, then to rephrase, and
gives up with the default fallback (Rasa's ``TwoStageFallbackAction``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from actions.base import Action, ActionResolver, LoopAction, UtterAction, events_after_restart
from bot.domain import (
    ACTION_BACK,
    ACTION_DEACTIVATE_LOOP,
    ACTION_DEFAULT_ASK_AFFIRMATION,
    ACTION_DEFAULT_ASK_REPHRASE,
    ACTION_DEFAULT_FALLBACK,
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_REVERT_FALLBACK_EVENTS,
    ACTION_SESSION_START,
    ACTION_TWO_STAGE_FALLBACK,
    ACTION_UNLIKELY_INTENT,
    REQUESTED_SLOT,
    Domain,
)
from bot.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from bot.nlg import ResponseRenderer, bot_uttered_from_message
from bot.tracker import Tracker

log = logging.getLogger(__name__)

NLU_FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"


class ActionListen:
    """Wait for the client: ends the bot's turn."""

    name = ACTION_LISTEN

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """No events: the engine stops predicting after this action."""
        return []


class ActionUnlikelyIntent:
    """Marks an intent the conversation did not expect (UnexpecTEDIntentPolicy); does nothing."""

    name = ACTION_UNLIKELY_INTENT

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """No events."""
        return []


class _UtterThen(UtterAction):
    """A default action that utters an optional response, then adds fixed events."""

    action_name: str = ""
    response: str = ""

    def __init__(self) -> None:
        super().__init__(self.response, silent_fail=True)
        self.name = self.action_name

    def then(self) -> list[Event]:
        return []

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """The response (when the domain has it) followed by :meth:`then`."""
        uttered = nlg.render(self.response, tracker, channel)
        return ([uttered] if uttered else []) + self.then()


class ActionRestart(_UtterThen):
    """Resets the conversation: ``utter_restart`` if defined, then ``Restarted``.

    The tracker makes ``action_session_start`` the follow-up of a restart, so a new
    session begins right away (as in Rasa).
    """

    action_name = ACTION_RESTART
    response = "utter_restart"

    def then(self) -> list[Event]:
        return [Restarted()]


class ActionDefaultFallback(_UtterThen):
    """``utter_default`` if defined, then forgets the message it could not handle."""

    action_name = ACTION_DEFAULT_FALLBACK
    response = "utter_default"

    def then(self) -> list[Event]:
        return [UserUtteranceReverted()]


class ActionBack(_UtterThen):
    """``utter_back`` if defined, then undoes the last two user messages."""

    action_name = ACTION_BACK
    response = "utter_back"

    def then(self) -> list[Event]:
        return [UserUtteranceReverted(), UserUtteranceReverted()]


class ActionDefaultAskRephrase(_UtterThen):
    """Asks the client to rephrase with ``utter_ask_rephrase`` (nothing if undefined)."""

    action_name = ACTION_DEFAULT_ASK_REPHRASE
    response = "utter_ask_rephrase"


class ActionSessionStart:
    """Starts a session: ``SessionStarted``, the previous session's slots when
    ``carry_over_slots_to_new_session`` is on, then ``action_listen``."""

    name = ACTION_SESSION_START

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """Session start events; carried-over slots keep their metadata."""
        events: list[Event] = [SessionStarted()]
        if domain.session_config.carry_over_slots_to_new_session:
            events.extend(_carried_slots(tracker))
        events.append(ActionExecuted(name=ACTION_LISTEN))
        return events


def _carried_slots(tracker: Tracker) -> list[SlotSet]:
    """The last ``SlotSet`` of each slot still in force (after the latest reset)."""
    latest: dict[str, SlotSet] = {}
    for event in tracker.applied_events():
        if isinstance(event, AllSlotsReset):
            latest.clear()
        elif isinstance(event, SlotSet):
            latest.pop(event.name, None)
            latest[event.name] = event
    return [SlotSet(name=e.name, value=e.value, metadata=dict(e.metadata)) for e in latest.values()]


class ActionDeactivateLoop:
    """Ends the active form (loop) and clears ``requested_slot``."""

    name = ACTION_DEACTIVATE_LOOP

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """``ActiveLoop(None)`` and ``SlotSet(requested_slot, None)``."""
        return [ActiveLoop(name=None), SlotSet(name=REQUESTED_SLOT, value=None)]


class ActionDefaultAskAffirmation:
    """Asks "Did you mean '<intent>'?" with Yes (``/<intent>``) and No (``/out_of_scope``)
    buttons; with ``nlu_fallback`` on top, the runner-up intent is offered."""

    name = ACTION_DEFAULT_ASK_AFFIRMATION

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """One message with the question and its two buttons."""
        message = tracker.latest_message
        if message is None:
            raise TypeError("cannot ask to affirm an intent: there is no user message")
        intent = message.intent_name
        ranking = message.parse_data.intent_ranking
        if intent == NLU_FALLBACK_INTENT and len(ranking) > 1:
            intent = ranking[1].name
        return [
            bot_uttered_from_message(
                {
                    "text": f"Did you mean '{intent}'?",
                    "buttons": [
                        {"title": "Yes", "payload": f"/{intent}"},
                        {"title": "No", "payload": f"/{OUT_OF_SCOPE_INTENT}"},
                    ],
                    "utter_action": self.name,
                }
            )
        ]


# ---- fallback helpers over the event log --------------------------------------------


def _last_executed_action(tracker: Tracker, skip: int = 0) -> str | None:
    """The name of the last applied action other than ``action_listen``, after ``skip`` of them."""
    actions = (
        e.name
        for e in reversed(tracker.applied_events())
        if isinstance(e, ActionExecuted) and e.name != ACTION_LISTEN
    )
    for _ in range(skip):
        next(actions, None)
    return next(actions, None)


def _last_intents(tracker: Tracker, count: int) -> list[str | None]:
    """Intents of the last ``count`` user messages or rewinds since the restart (a rewind
    counts but adds no intent), newest first, as Rasa's two-stage fallback reads them."""
    recent = [
        e
        for e in reversed(events_after_restart(tracker))
        if isinstance(e, (UserUttered, UserUtteranceReverted))
    ]
    return [e.intent_name for e in recent[:count] if isinstance(e, UserUttered)]


def _clarified_message(message: UserUttered) -> UserUttered:
    """The client's message again, now certain of its intent (confidence 1.0)."""
    intent = message.parse_data.intent.model_copy(update={"confidence": 1.0})
    data = message.parse_data.model_copy(update={"intent": intent})
    return message.model_copy(update={"parse_data": data, "timestamp": time.time()})


def _revert_rephrasing() -> list[Event]:
    return [
        UserUtteranceReverted(),  # the rephrased message
        UserUtteranceReverted(),  # the answer to the affirmation and the rephrase request
        UserUtteranceReverted(),  # the affirmation request and the misunderstood message
        ActionExecuted(name=ACTION_LISTEN),
    ]


class ActionRevertFallbackEvents:
    """Removes a finished two-stage fallback from the conversation, so policies see the
    happy path (Rasa's ``action_revert_fallback_events``)."""

    name = ACTION_REVERT_FALLBACK_EVENTS

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """Rewinds to before the misunderstood message and replays the clarified one."""
        last = _last_executed_action(tracker)
        message = tracker.latest_message
        if message is None or last not in (ACTION_DEFAULT_ASK_REPHRASE, ACTION_DEFAULT_ASK_AFFIRMATION):
            return []
        if last == ACTION_DEFAULT_ASK_REPHRASE:
            return [*_revert_rephrasing(), message.model_copy()]
        events: list[Event] = [
            UserUtteranceReverted(),
            UserUtteranceReverted(),
            ActionExecuted(name=ACTION_LISTEN),
        ]
        if _last_executed_action(tracker, skip=1) == ACTION_DEFAULT_ASK_REPHRASE:
            events += _revert_rephrasing()
        return [*events, _clarified_message(message)]


class TwoStageFallbackAction(LoopAction):
    """Rasa's two-stage fallback loop: confirm the intent, else ask to rephrase, else give up.

    Done when the client's latest intent is neither ``nlu_fallback`` nor
    ``out_of_scope`` (then the clarified message replaces the misunderstood one), after
    two ``nlu_fallback`` messages in a row, or when the second affirmation is denied
    (then ``action_default_fallback`` runs).
    """

    name = ACTION_TWO_STAGE_FALLBACK

    def __init__(self, actions: ActionResolver) -> None:
        self._actions = actions

    async def _run_named(
        self, name: str, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str
    ) -> list[Event]:
        # Resolved through the registry so a bot's own version of the action wins.
        return await self._actions.get(name).run(tracker, domain, nlg, channel)

    async def do(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> list[Event]:
        """Ask to affirm right after activation or after another ``nlu_fallback``; else ask to rephrase."""
        just_activated = any(isinstance(e, ActiveLoop) for e in events_so_far)
        if just_activated or tracker.latest_intent == NLU_FALLBACK_INTENT:
            return await self._run_named(ACTION_DEFAULT_ASK_AFFIRMATION, tracker, domain, nlg, channel)
        return await self._run_named(ACTION_DEFAULT_ASK_REPHRASE, tracker, domain, nlg, channel)

    async def is_done(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> bool:
        """True once the client clarified, or when it is time to give up."""
        clarified = tracker.latest_intent not in (NLU_FALLBACK_INTENT, OUT_OF_SCOPE_INTENT)
        return clarified or _should_give_up(tracker)

    async def deactivate(
        self,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        events_so_far: list[Event],
    ) -> list[Event]:
        """Give up with the default fallback, or replace the fallback turns by the clarified message."""
        if _should_give_up(tracker):
            return await self._run_named(ACTION_DEFAULT_FALLBACK, tracker, domain, nlg, channel)
        if tracker.latest_message is None:
            raise TypeError("cannot clarify: there is no user message")
        return [
            UserUtteranceReverted(),
            ActionExecuted(name=ACTION_LISTEN),
            _clarified_message(tracker.latest_message),
        ]


def _should_give_up(tracker: Tracker) -> bool:
    two_fallbacks = _last_intents(tracker, 2) == [NLU_FALLBACK_INTENT, NLU_FALLBACK_INTENT]
    second_denial = _last_intents(tracker, 3) == [
        OUT_OF_SCOPE_INTENT,
        NLU_FALLBACK_INTENT,
        OUT_OF_SCOPE_INTENT,
    ]
    return two_fallbacks or second_denial


class RetrievalAction:
    """``utter_<retrieval intent>``: utters the response the response selector chose for
    the latest message (e.g. ``utter_faq/ask_hours`` for ``utter_faq``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.intent = name[len("utter_") :]

    def response_name(self, tracker: Tracker) -> str | None:
        """The full response name the selector predicted, or None."""
        message = tracker.latest_message
        selector: dict[str, Any] = (message.parse_data.response_selector or {}) if message else {}
        key = self.intent if self.intent in selector else "default" if "default" in selector else None
        if key is None:
            return None
        prediction = (selector.get(key) or {}).get("response") or {}
        if prediction.get("utter_action"):
            return str(prediction["utter_action"])
        full = prediction.get("intent_response_key") or prediction.get("full_retrieval_intent")
        return f"utter_{full}" if full else None

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """The selected response, or nothing when the message has no selection for this intent."""
        response = self.response_name(tracker)
        if response is None:
            log.error("no response selector prediction for %r in the latest message", self.name)
            return []
        uttered = nlg.render(response, tracker, channel)
        if uttered is None:
            log.error("response %r chosen by the response selector is not in the domain", response)
            return []
        return [uttered]


def default_actions(actions: ActionResolver) -> dict[str, Action]:
    """Every default action except ``action_extract_slots``, by name."""
    found: list[Action] = [
        ActionListen(),
        ActionRestart(),
        ActionSessionStart(),
        ActionDefaultFallback(),
        ActionDeactivateLoop(),
        ActionRevertFallbackEvents(),
        ActionDefaultAskAffirmation(),
        ActionDefaultAskRephrase(),
        TwoStageFallbackAction(actions),
        ActionUnlikelyIntent(),
        ActionBack(),
    ]
    return {a.name: a for a in found}
