"""Conversation state as a fold over events (Rasa's ``DialogueStateTracker`` semantics).

The tracker never owns truth: it is rebuilt from the stored event log, and every
change to it is an event appended through :meth:`Tracker.update`.

One addition to Rasa's fold: a handoff boundary (a handoff move, or the pause or resume
written with it) is a floor that rewinds and undos never reach below. What came before it
belongs to a turn the handoff already answered, or to the person who owned the
conversation; a client message received meanwhile is no message for the bot to answer.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass, field
from typing import Any

from bot.domain import ACTION_LISTEN, ACTION_SESSION_START, REQUESTED_SLOT, Domain
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    EntitiesAdded,
    Event,
    FollowupAction,
    HandoffStatus,
    HandoffStatusChanged,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)

#: a handoff move and the pause or resume written with it: the floor of rewinds and undos
HANDOFF_BOUNDARY: tuple[type, ...] = (HandoffStatusChanged, ConversationPaused, ConversationResumed)


@dataclass
class LoopState:
    """The active form: its name, whether its input is validated this turn, whether
    it rejected execution, and the message that triggered it."""

    name: str | None = None
    validate: bool = True
    rejected: bool = False
    trigger_message: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.name is None:
            return {}
        return {
            "name": self.name,
            "validate": self.validate,
            "rejected": self.rejected,
            "trigger_message": self.trigger_message or {},
        }


@dataclass
class Tracker:
    """The state of one conversation, derived from its events."""

    sender_id: str
    initial_slots: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    latest_message: UserUttered | None = None
    latest_action_name: str | None = None
    active_loop: LoopState = field(default_factory=LoopState)
    followup_action: str | None = ACTION_LISTEN
    paused: bool = False
    handoff_status: HandoffStatus = HandoffStatus.BOT
    #: each event's wire dict, dumped once: (event, dict) pairs aligned with ``events`` as far
    #: as they are known; an entry whose event is not the one at its index is dumped again
    _wire: list[tuple[Event, dict[str, Any]]] = field(default_factory=list, repr=False, compare=False)

    # ---- construction -------------------------------------------------
    @classmethod
    def for_domain(cls, sender_id: str, domain: Domain, events: list[Event] | None = None) -> Tracker:
        """A tracker with the domain's slots (at their initial values) and ``events`` applied."""
        initial = {name: s.initial_value for name, s in domain.slots.items()}
        initial.setdefault(REQUESTED_SLOT, None)
        tracker = cls(sender_id=sender_id, initial_slots=initial, slots=dict(initial))
        for event in events or []:
            tracker.update(event)
        return tracker

    def copy(self) -> Tracker:
        return copy.deepcopy(self)

    def fork(self) -> Tracker:
        """A tracker in this one's state that goes its own way: what either is given later
        never shows in the other. Its events are this one's (events are frozen); its slots,
        loop and event list are its own. Far cheaper than :meth:`copy` on a long log."""
        return Tracker(
            sender_id=self.sender_id,
            initial_slots=dict(self.initial_slots),
            events=list(self.events),
            slots=copy.deepcopy(self.slots),
            latest_message=self.latest_message,
            latest_action_name=self.latest_action_name,
            active_loop=copy.deepcopy(self.active_loop),
            followup_action=self.followup_action,
            paused=self.paused,
            handoff_status=self.handoff_status,
            _wire=list(self._wire),
        )

    # ---- the fold -----------------------------------------------------
    def update(self, event: Event) -> None:
        """Append ``event`` and apply it to the state."""
        self.events.append(event)
        self._apply(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, UserUttered):
            self.latest_message = event
            self.followup_action = None
        elif isinstance(event, ActionExecuted):
            self.latest_action_name = event.name
            self.followup_action = None
            if self.active_loop.name and self.active_loop.name == event.name:
                self.active_loop.validate = True
                self.active_loop.rejected = False
        elif isinstance(event, SlotSet):
            self.slots[event.name] = event.value
        elif isinstance(event, ActiveLoop):
            if event.name is None:
                self.active_loop = LoopState()
            else:
                trigger = self.latest_message.parse_data.model_dump() if self.latest_message else None
                self.active_loop = LoopState(name=event.name, trigger_message=trigger)
        elif isinstance(event, LoopInterrupted):
            if self.active_loop.name:
                self.active_loop.validate = not event.is_interrupted
        elif isinstance(event, ActionExecutionRejected):
            if self.active_loop.name:
                self.active_loop.rejected = True
        elif isinstance(event, Restarted):
            self._reset()
            self.followup_action = ACTION_SESSION_START
        elif isinstance(event, SessionStarted):
            self._reset()
        elif isinstance(event, AllSlotsReset):
            self.slots = dict(self.initial_slots)
        elif isinstance(event, FollowupAction):
            self.followup_action = event.name
        elif isinstance(event, (UserUtteranceReverted, ActionReverted)):
            self._replay_applied()
        elif isinstance(event, ConversationPaused):
            self.paused = True
        elif isinstance(event, ConversationResumed):
            self.paused = False
        elif isinstance(event, EntitiesAdded):
            if self.latest_message is not None:
                data = self.latest_message.parse_data.model_copy(
                    update={"entities": [*self.latest_message.parse_data.entities, *event.entities]}
                )
                self.latest_message = self.latest_message.model_copy(update={"parse_data": data})
        elif isinstance(event, HandoffStatusChanged):
            self.handoff_status = event.to_status

    def _reset(self) -> None:
        self.slots = dict(self.initial_slots)
        self.latest_message = None
        self.latest_action_name = None
        self.active_loop = LoopState()
        self.followup_action = ACTION_LISTEN
        # A new session or a restart does not hand the conversation back to the bot:
        # while a human owns it (queued or assigned) the bot stays silent.
        self.paused = self.handoff_status != HandoffStatus.BOT

    def _replay_applied(self) -> None:
        # A rewind or an undo takes back what the client and the bot said, never who owns the
        # conversation: the applied events keep every handoff boundary (the floor below), and
        # ownership is restored as it was in any case, so no replay brings an old pause back.
        applied = self.applied_events()
        handoff, paused = self.handoff_status, self.paused
        self._reset()
        for event in applied:
            self._apply(event)
        self.handoff_status, self.paused = handoff, paused

    # ---- views --------------------------------------------------------
    def applied_events(self) -> list[Event]:
        """Events that still count: restarts, rewinds and undos applied, and repeated
        executions of a form on its happy path collapsed into one (as Rasa does, so
        that live conversations look like the stories they were trained on)."""
        loop_names = {e.name for e in self.events if isinstance(e, ActiveLoop) and e.name}
        applied: list[Event] = []
        floor = 0  # nothing at or before the latest handoff boundary is ever taken back
        for event in self.events:
            if isinstance(event, (Restarted, SessionStarted)):
                applied, floor = [], 0
            elif isinstance(event, ActionReverted):
                _undo_till_previous(ActionExecuted, applied, floor)
            elif isinstance(event, UserUtteranceReverted):
                _undo_till_previous(UserUttered, applied, floor)
                _undo_till_previous(ActionExecuted, applied, floor)
            elif (
                isinstance(event, ActionExecuted)
                and event.name in loop_names
                and not _first_loop_execution_or_unhappy_path(event.name, applied)
            ):
                _undo_till_previous_loop_execution(event.name, applied, floor)
            else:
                applied.append(event)
                if isinstance(event, HANDOFF_BOUNDARY):
                    floor = len(applied)
        return applied

    def awaiting_reply(self) -> bool:
        """Whether the latest client message that still counts is one the bot has not acted
        on: no action ran after it and no handoff boundary closed its turn.

        False after a rewind that took the client's message back (Rasa's tracker is then
        where it was before the bot listened); the engine then listens instead of letting
        the policies answer an older message again.
        """
        for event in reversed(self.applied_events()):
            if isinstance(event, UserUttered):
                return True
            if isinstance(event, (ActionExecuted, *HANDOFF_BOUNDARY)):
                return False
        return False

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)

    @property
    def active_loop_name(self) -> str | None:
        return self.active_loop.name

    @property
    def latest_intent(self) -> str | None:
        return self.latest_message.intent_name if self.latest_message else None

    @property
    def latest_bot_utterance(self) -> BotUttered | None:
        for event in reversed(self.events):
            if isinstance(event, BotUttered):
                return event
        return None

    @property
    def latest_event_time(self) -> float | None:
        return self.events[-1].timestamp if self.events else None

    def wire_events(self) -> list[dict[str, Any]]:
        """Every event in Rasa's wire format, each dumped once in this tracker's life (a turn
        hands the state to several actions; the log grows by a few events a turn). The dicts
        are shared with later calls: read them, never change them (:meth:`current_state`
        gives dicts of the caller's own)."""
        wire = self._wire
        events = self.events
        if len(wire) > len(events):
            del wire[len(events) :]
        for index, (event, _) in enumerate(wire):
            if events[index] is not event:  # the list was changed under us: dump from here
                del wire[index:]
                break
        for event in events[len(wire) :]:
            wire.append((event, event.to_dict()))
        return [raw for _, raw in wire]

    def current_state(self) -> dict[str, Any]:
        """The tracker as the rasa_sdk action server expects it; the caller owns every dict
        in it (the events are copies of :meth:`wire_events`)."""
        latest = self.latest_message
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": latest.parse_data.model_dump(mode="json") if latest else {},
            "latest_event_time": self.latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": _own_copy(self.wire_events()),
            "latest_input_channel": latest.input_channel if latest else None,
            "active_loop": self.active_loop.as_dict(),
            "latest_action": {"action_name": self.latest_action_name} if self.latest_action_name else {},
            "latest_action_name": self.latest_action_name,
        }


def _own_copy(raws: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # a deep copy of JSON data; pickle's C implementation is several times faster than
    # copy.deepcopy and a little faster than dumping the events again
    return pickle.loads(pickle.dumps(raws, pickle.HIGHEST_PROTOCOL))


def _undo_till_previous(kind: type, done: list[Event], floor: int = 0) -> None:
    """Remove events from the end up to and including the last one of ``kind``, never
    the first ``floor`` events (a handoff boundary and what came before it)."""
    while len(done) > floor:
        if isinstance(done.pop(), kind):
            return


def _first_loop_execution_or_unhappy_path(loop_name: str, applied: list[Event]) -> bool:
    next_action: str | None = None
    for event in reversed(applied):
        if isinstance(event, ActiveLoop) and event.name is None:
            return True
        if _within_unhappy_path(loop_name, event, next_action):
            return True
        if isinstance(event, ActionExecuted):
            if event.name == loop_name:
                return False
            next_action = event.name
    return True


def _within_unhappy_path(loop_name: str, event: Event, next_action: str | None) -> bool:
    rejected = isinstance(event, ActionExecutionRejected) and event.name == loop_name
    other_action_after_user = (
        isinstance(event, UserUttered) and next_action is not None and next_action != loop_name
    )
    return rejected or other_action_after_user


def _undo_till_previous_loop_execution(loop_name: str, done: list[Event], floor: int = 0) -> None:
    offset = 0
    for event in reversed(done[floor:]):
        if isinstance(event, ActionExecuted) and event.name == loop_name:
            break
        if isinstance(event, (ActionExecuted, UserUttered)):
            del done[-1 - offset]
        else:
            offset += 1
