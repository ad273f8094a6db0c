"""Conversation events: the single source of truth for every conversation.

Each event is a pydantic model whose dump *is* Rasa's wire format (the ``event`` key
and field names of ``rasa_sdk``), so trackers travel to a rasa_sdk action server and
back without translation. A conversation's state is a fold over its events
(:mod:`bot.tracker`). Our own events (handoff) use names Rasa does not have.

The union is split by who may write an event. :data:`ActionEvent` is what an action may
return: the events Rasa's action server can send back (``rasa_sdk.events``) that we keep,
plus ``handoff_requested``, a *request* the handoff service checks against its transition
table and answers itself. :data:`SystemEvent` is what only Concierge's services write:
handoff moves and the pause/resume that go with them, agents' notes, CSAT. An action
returning a system event is refused (:func:`admit_action_events`, :func:`action_event_from_dict`)
and the turn goes on without it; the one exception is a native action that *is* the
system, granted named event types through :class:`WritesSystemEvents`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, get_args, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

log = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    timestamp: float = Field(default_factory=_now)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """This event in Rasa's JSON wire format."""
        return self.model_dump(mode="json")


class IntentPrediction(BaseModel):
    """An intent with its confidence, as in Rasa's ``parse_data``."""

    model_config = ConfigDict(extra="allow")
    name: str | None = None
    confidence: float = 1.0


class EntityValue(BaseModel):
    """An extracted entity, as in Rasa's ``parse_data.entities``."""

    model_config = ConfigDict(extra="allow")
    entity: str
    value: Any
    start: int | None = None
    end: int | None = None
    role: str | None = None
    group: str | None = None
    extractor: str | None = None
    confidence_entity: float | None = None


#: A bare score at or beyond these counts as negative / positive (older logs stored only the score).
NEGATIVE_BELOW = -0.25
POSITIVE_ABOVE = 0.25


class SentimentScore(BaseModel):
    """How a client message feels: ``score`` in [-1, 1] (P(positive) - P(negative)) and the
    most probable ``label``. Stored as ``parse_data["sentiment"] = {"score": ..., "label": ...}``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    score: float = Field(ge=-1.0, le=1.0)
    label: str

    @classmethod
    def of(cls, score: float) -> SentimentScore:
        """A score without a model's label (older logs, hand-written tests): labelled by thresholds."""
        label = (
            "negative" if score <= NEGATIVE_BELOW else "positive" if score >= POSITIVE_ABOVE else "neutral"
        )
        return cls(score=max(-1.0, min(1.0, float(score))), label=label)


class ParseData(BaseModel):
    """The NLU result attached to a user message (Rasa's ``parse_data``)."""

    model_config = ConfigDict(extra="allow")
    text: str = ""
    intent: IntentPrediction = Field(default_factory=IntentPrediction)
    entities: list[EntityValue] = Field(default_factory=list)
    intent_ranking: list[IntentPrediction] = Field(default_factory=list)
    language: str | None = None
    sentiment: SentimentScore | None = None
    response_selector: dict[str, Any] | None = None

    @field_validator("sentiment", mode="before")
    @classmethod
    def _bare_score(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return SentimentScore.of(float(value))
        return value

    @property
    def intent_name(self) -> str | None:
        return self.intent.name


class UserUttered(_Event):
    """The client said something."""

    event: Literal["user"] = "user"
    text: str | None = None
    parse_data: ParseData = Field(default_factory=ParseData)
    input_channel: str | None = None
    message_id: str | None = None

    @property
    def intent_name(self) -> str | None:
        return self.parse_data.intent.name

    @property
    def entities(self) -> list[EntityValue]:
        return self.parse_data.entities


class BotUttered(_Event):
    """The bot (or an agent, see ``metadata['sender']``) said something."""

    event: Literal["bot"] = "bot"
    text: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class ReminderScheduled(_Event):
    """An action asked for a message at ``date_time`` (Rasa's ``reminder`` event).

    Rasa triggers ``intent`` then; Concierge's proactive scheduler (:mod:`proactive`) stores
    it as a scheduled message named by ``name`` (unique per conversation), whose kind and
    placeholders come from ``entities`` (``{"kind": "appointment_reminder", ...}``), and
    sends it through the client's channel at that time, within quiet hours, opt-outs and
    the WhatsApp window. ``kill_on_user_msg``: skipped if the client writes first.
    """

    event: Literal["reminder"] = "reminder"
    intent: str
    entities: dict[str, Any] | list[dict[str, Any]] | None = None
    date_time: str
    name: str | None = Field(default=None, max_length=200)
    kill_on_user_msg: bool = True

    @field_validator("date_time")
    @classmethod
    def _iso(cls, value: str) -> str:
        # refused here (the action's answer is a BadPayload), not inside the append's transaction
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"date_time must be an ISO 8601 date and time, not {value[:40]!r}") from None
        return value


class ReminderCancelled(_Event):
    """An action cancelled the reminder ``name`` (Rasa's ``cancel_reminder``)."""

    event: Literal["cancel_reminder"] = "cancel_reminder"
    name: str | None = None
    intent: str | None = None
    entities: dict[str, Any] | list[dict[str, Any]] | None = None


class ActionExecuted(_Event):
    """An action ran; ``policy`` and ``confidence`` say who chose it."""

    event: Literal["action"] = "action"
    name: str
    policy: str | None = None
    confidence: float | None = None
    action_text: str | None = None


class SlotSet(_Event):
    event: Literal["slot"] = "slot"
    name: str
    value: Any = None


class ActiveLoop(_Event):
    """A form (loop) was activated, or deactivated with ``name=None``."""

    event: Literal["active_loop"] = "active_loop"
    name: str | None = None


class LoopInterrupted(_Event):
    event: Literal["loop_interrupted"] = "loop_interrupted"
    is_interrupted: bool = False


class ActionExecutionRejected(_Event):
    """An action (typically a form) refused to run on this turn."""

    event: Literal["action_execution_rejected"] = "action_execution_rejected"
    name: str
    policy: str | None = None
    confidence: float | None = None


class SessionStarted(_Event):
    event: Literal["session_started"] = "session_started"


class Restarted(_Event):
    event: Literal["restart"] = "restart"


class AllSlotsReset(_Event):
    event: Literal["reset_slots"] = "reset_slots"


class FollowupAction(_Event):
    event: Literal["followup"] = "followup"
    name: str


class UserUtteranceReverted(_Event):
    """Undo everything back to and including the last user message."""

    event: Literal["rewind"] = "rewind"


class ActionReverted(_Event):
    """Undo the last action."""

    event: Literal["undo"] = "undo"


class ConversationPaused(_Event):
    """The bot stops answering (Rasa's pause; also set while a human owns the chat)."""

    event: Literal["pause"] = "pause"


class ConversationResumed(_Event):
    event: Literal["resume"] = "resume"


class EntitiesAdded(_Event):
    event: Literal["entities"] = "entities"
    entities: list[EntityValue] = Field(default_factory=list)


class HandoffRequested(_Event):
    """The bot or the client asked for a human. ``reason`` is machine-readable
    (``client_request``, ``sentiment``, ``repeated_fallback``, ``rule:<name>``)."""

    event: Literal["handoff_requested"] = "handoff_requested"
    reason: str
    detail: str | None = None


class HandoffStatus(StrEnum):
    """Who owns a conversation: the bot, the queue, an agent, or nobody (resolved).

    Defined with the events that carry it; the transition table is :mod:`handoff.state`."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class HandoffStatusChanged(_Event):
    """A handoff ticket moved between states (``bot``, ``queued``, ``assigned``,
    ``resolved``); written only through the handoff transition table."""

    event: Literal["handoff_status"] = "handoff_status"
    from_status: HandoffStatus
    to_status: HandoffStatus
    actor: str
    reason: str | None = None


class AgentNoteAdded(_Event):
    """An agent's internal note on a conversation (console only: never shown to the client)."""

    event: Literal["agent_note"] = "agent_note"
    text: str
    author: str


class CsatRequested(_Event):
    """The client was asked to rate the help they got (after resolution or return to the bot);
    ``agent_id`` is the agent who handled the conversation, if one did."""

    event: Literal["csat_requested"] = "csat_requested"
    agent_id: str | None = None


class CsatRecorded(_Event):
    """The client's satisfaction score (1-5) and optional comment; ``agent_id`` as in the request."""

    event: Literal["csat_recorded"] = "csat_recorded"
    score: int = Field(ge=1, le=5)
    comment: str | None = None
    agent_id: str | None = None


class KnowledgeGapNoted(_Event):
    """A client's question the knowledge base could not answer well (``no_answer``,
    ``low_confidence``; ``handoff`` when it ended with a person), with its score and what was
    tried. Written by the knowledge action in the turn's own append; the knowledge gaps read
    model (:mod:`knowledge.gaps`) is projected from these events."""

    event: Literal["knowledge_gap"] = "knowledge_gap"
    question: str = Field(min_length=1, max_length=2000)
    language: str = Field(max_length=8)
    reason: Literal["no_answer", "low_confidence", "handoff"]
    score: float | None = None
    tried: str | None = Field(default=None, max_length=1000)


_ActionEventTypes = (
    UserUttered
    | BotUttered
    | ActionExecuted
    | SlotSet
    | ActiveLoop
    | LoopInterrupted
    | ActionExecutionRejected
    | SessionStarted
    | Restarted
    | AllSlotsReset
    | FollowupAction
    | UserUtteranceReverted
    | ActionReverted
    | EntitiesAdded
    | HandoffRequested
    | ReminderScheduled
    | ReminderCancelled
)
_SystemEventTypes = (
    ConversationPaused
    | ConversationResumed
    | HandoffStatusChanged
    | AgentNoteAdded
    | CsatRequested
    | CsatRecorded
    | KnowledgeGapNoted
)

#: What an action may return (Rasa's action-server events we keep, and a handoff request).
ActionEvent = Annotated[_ActionEventTypes, Field(discriminator="event")]
#: What only Concierge's services write: who owns the conversation, notes, CSAT.
SystemEvent = Annotated[_SystemEventTypes, Field(discriminator="event")]
#: Every event a conversation's log can hold.
Event = Annotated[_ActionEventTypes | _SystemEventTypes, Field(discriminator="event")]


def _kinds(union: Any) -> frozenset[str]:
    return frozenset(model.model_fields["event"].default for model in get_args(union))


#: ``event`` names of :data:`ActionEvent` and :data:`SystemEvent`
ACTION_EVENT_TYPES = _kinds(_ActionEventTypes)
SYSTEM_EVENT_TYPES = _kinds(_SystemEventTypes)
#: the system event classes, for grants (:class:`WritesSystemEvents`)
SystemEventType = type[_SystemEventTypes]

_adapter: TypeAdapter[Event] = TypeAdapter(Event)
_list_adapter: TypeAdapter[list[Event]] = TypeAdapter(list[Event])

# Rasa also accepts "form" (pre-2.0 name of active_loop); map it on the way in.
_ALIASES = {"form": "active_loop"}


def _normalise(raw: dict[str, Any]) -> dict[str, Any]:
    kind = raw.get("event")
    if kind in _ALIASES:
        raw = {**raw, "event": _ALIASES[kind]}
    if raw.get("event") in ("user", "bot") and raw.get("metadata") is None:
        raw = {**raw, "metadata": {}}
    if raw.get("event") == "bot" and raw.get("data") is None:
        raw = {**raw, "data": {}}
    return raw


def event_from_dict(raw: dict[str, Any]) -> Event:
    """Parse one event from Rasa's wire format; raises ``pydantic.ValidationError``."""
    return _adapter.validate_python(_normalise(raw))


def events_from_dicts(raws: list[dict[str, Any]]) -> list[Event]:
    return _list_adapter.validate_python([_normalise(r) for r in raws])


class SystemEventRefused(ValueError):
    """An action sent an event only Concierge's services may write (a handoff move, a
    pause or resume, a note, CSAT). Says which action and which event type, nothing more:
    the event's contents may hold personal data."""

    def __init__(self, action_name: str, kind: str) -> None:
        super().__init__(
            f"action {action_name!r} returned a {kind!r} event, which only Concierge's services "
            "may write; refused (an action asks for a person with handoff_requested)"
        )
        self.action_name = action_name
        self.kind = kind


def is_system_event(event: Event) -> bool:
    """True for an event only Concierge's services may write."""
    return event.event in SYSTEM_EVENT_TYPES


def action_event_from_dict(raw: dict[str, Any], action_name: str) -> Event:
    """Parse one event an action returned (Rasa's wire format); a system event's type raises
    :class:`SystemEventRefused` before anything else is read, a malformed event
    ``pydantic.ValidationError``."""
    kind = _ALIASES.get(str(raw.get("event")), raw.get("event"))
    if kind in SYSTEM_EVENT_TYPES:
        raise SystemEventRefused(action_name, str(kind))
    return event_from_dict(raw)


@runtime_checkable
class WritesSystemEvents(Protocol):
    """A native in-process action that is part of the system (built by the app, never loaded
    from an actions module or called on an action server), granted the system event types
    it may return, e.g. the CSAT action recording the client's score."""

    system_events: frozenset[SystemEventType]


def admit_action_events(action_name: str, events: Sequence[Event], action: object = None) -> list[Event]:
    """The events an action returned, without the system events it may not write.

    Each refused event is logged as an error (the action and the event type only) and
    dropped; the rest of the turn goes on. ``action`` grants its
    :attr:`WritesSystemEvents.system_events`, when it has them.
    """
    granted = action.system_events if isinstance(action, WritesSystemEvents) else frozenset()
    admitted: list[Event] = []
    for event in events:
        if is_system_event(event) and type(event) not in granted:
            log.error("%s", SystemEventRefused(action_name, event.event))
            continue
        admitted.append(event)
    return admitted


def events_to_dicts(events: list[Event]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in events]
