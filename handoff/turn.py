"""Handoff inside the engine's turn: recognise the client, pre-empt the bot, hand off, tell the client.

The engine calls four hooks of a :class:`HandoffTurn` (see ``bot/engine.py``):

1. :meth:`~HandoffTurn.recognise` after the client's message is stored in the turn:
   the client behind it, as slots (tier, first name, client id).
2. :meth:`~HandoffTurn.while_paused` when a person owns the conversation: the bot stays
   silent, except for one acknowledgement when the client adds details to a request
   made outside business hours.
3. :meth:`~HandoffTurn.before_bot` after NLU: a VIP asking for their concierge, or an
   immediate trigger (an allergic reaction, a refund, a VIP complaint, a falling
   sentiment), goes to a person at once, with a short message instead of the bot's answer.
4. :meth:`~HandoffTurn.after_bot` after the bot's actions: a ``handoff_requested`` event
   from an action (``action_handoff_to_human``), or a trigger only visible now (repeated
   fallbacks, a request in so many words the NLU missed), hands off.

Every move goes through :class:`~handoff.service.HandoffService` (the one transition
table) over a :class:`TurnLog`, so the status events join the turn's own events and are
written in the turn's single commit, under the conversation's lock the turn already holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.events import BotUttered, Event, HandoffRequested, HandoffStatusChanged, UserUttered
from bot.models import InboundMessage
from bot.redact import conversation_ref
from bot.tracker import Tracker
from handoff.clients import ClientProfile
from handoff.config import Tier
from handoff.hours import describe_when
from handoff.messages import RESPONSES, MessageKind
from handoff.recognition import client_slots, recognised_client, slot_events
from handoff.routing import Assignment
from handoff.service import HandoffService
from handoff.state import HandoffStatus
from handoff.triggers import TriggerHit, evaluate_triggers

if TYPE_CHECKING:
    from handoff.runtime import HandoffRuntime

log = logging.getLogger(__name__)

#: triggers left to the bot's own turn: the client's request (the bot's handoff action
#: answers it) and fallbacks (only known once the bot has tried)
AFTER_BOT_ONLY = {"client_request", "repeated_fallback"}
OUT_OF_HOURS_RESPONSE = "utter_handoff_out_of_hours"
LANGUAGE_SLOT = "language"

Apply = Callable[[list[Event]], None]


class TurnLog:
    """A conversation log over the turn in progress: reads the tracker (stored events plus
    this turn's so far), appends into the turn. Lets :class:`HandoffService` run inside a
    turn without taking the conversation's lock a second time."""

    def __init__(self, tracker: Tracker, apply: Apply) -> None:
        self.tracker = tracker
        self.apply = apply

    async def append(self, conversation_id: str, events: list[Event]) -> None:
        """Add the events to the turn (stored with it, in one commit)."""
        self.apply(list(events))

    async def events(self, conversation_id: str) -> list[Event]:
        """Everything the conversation holds so far, this turn included."""
        return list(self.tracker.events)


class HandoffTurn:
    """The handoff side of one turn of one conversation."""

    def __init__(
        self, runtime: HandoffRuntime, message: InboundMessage, tracker: Tracker, apply: Apply
    ) -> None:
        self.runtime = runtime
        self.message = message
        self.tracker = tracker
        self.apply = apply
        self.profile: ClientProfile | None = None
        self.service = HandoffService(TurnLog(tracker, apply), clock=runtime.clock)

    # ---- what the turn knows -------------------------------------------------------
    @property
    def conversation_id(self) -> str:
        """The conversation this turn belongs to."""
        return self.message.conversation_id

    @property
    def tier(self) -> Tier:
        """The client's tier (the default tier for a client nobody knows)."""
        return self.profile.tier if self.profile else self.runtime.config.tiers.default

    @property
    def language(self) -> str:
        """The language to answer in: the bot's ``language`` slot, the message's, the client's."""
        slot = self.tracker.slots.get(LANGUAGE_SLOT) if LANGUAGE_SLOT in self.runtime.domain.slots else None
        latest = self.tracker.latest_message
        detected = latest.parse_data.language if latest else None
        profile = self.profile.language if self.profile else None
        return str(slot or detected or profile or self.runtime.config.default_language)

    def now(self) -> datetime:
        """The turn's clock as an aware datetime."""
        return datetime.fromtimestamp(self.runtime.clock(), UTC)

    def _this_turn(self) -> list[Event]:
        events = self.tracker.events
        for index in range(len(events) - 1, -1, -1):
            if isinstance(events[index], UserUttered):
                return list(events[index:])
        return []

    # ---- hooks -----------------------------------------------------------------------------
    async def recognise(self) -> None:
        """Find the client from what the channel proved (or the client an earlier message of
        this conversation proved) and set the conversation's client slots that changed; an
        anonymous sender stays unknown, whatever contact details it claims.

        A client database failure leaves the client unrecognised for this turn (logged)
        rather than failing the turn: the bot still answers.
        """
        known = recognised_client(self.tracker.events)
        try:
            self.profile = await self.runtime.recognition.recognise(self.message, known)
        except Exception:
            log.exception(
                "client recognition failed for %s; answering as for an unknown client", self.conversation_id
            )
            return
        if self.profile is not None:
            wanted = client_slots(self.profile, self.runtime.domain)
            self.apply(slot_events(wanted, self.tracker.slots, self.runtime.clock()))

    async def while_paused(self) -> None:
        """Outside business hours, acknowledge the first details a waiting client adds."""
        if self.tracker.handoff_status != HandoffStatus.QUEUED:
            return
        events = self.tracker.events
        index = next(
            (i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], HandoffStatusChanged)), None
        )
        if index is None:
            return
        status = events[index]
        assert isinstance(status, HandoffStatusChanged)
        expected = status.metadata.get("expected_reply_at")
        if not status.metadata.get("out_of_hours") or not isinstance(expected, str):
            return
        if any(
            isinstance(e, BotUttered) and e.metadata.get("handoff") == "details_received"
            for e in events[index:]
        ):
            return
        when = describe_when(datetime.fromisoformat(expected), self.now(), self.language)
        self._say("details_received", when=when)

    async def before_bot(self) -> bool:
        """Hand off before the bot answers when the client must reach a person now; True if so."""
        latest = self.tracker.latest_message
        intent = latest.intent_name if latest else None
        config = self.runtime.config
        if intent in config.concierge_intents and self.tier in config.concierge_tiers:
            detail = f"{self.tier} client asked for their concierge (intent {intent})"
            await self._hand_off("client_request", detail, notice="concierge")
            return True
        hits = evaluate_triggers(self.tracker.events, config.triggers, tier=self.tier)
        if any(h.immediate and h.reason not in AFTER_BOT_ONLY for h in hits):
            await self._hand_off(hits[0].reason, hits[0].explanation, also=hits[1:], notice="escalated")
            return True
        return False

    async def after_bot(self) -> None:
        """Hand off for an action's ``handoff_requested`` or a trigger the bot's turn revealed."""
        if self.tracker.handoff_status != HandoffStatus.BOT:
            return
        requested = next((e for e in reversed(self._this_turn()) if isinstance(e, HandoffRequested)), None)
        if requested is not None:
            await self._hand_off(requested.reason, requested.detail, requested=True, notice=None)
            return
        hits = evaluate_triggers(self.tracker.events, self.runtime.config.triggers, tier=self.tier)
        if hits:
            await self._hand_off(hits[0].reason, hits[0].explanation, also=hits[1:], notice="escalated")

    # ---- handing off -------------------------------------------------------------------------
    async def _hand_off(
        self,
        reason: str,
        detail: str | None,
        *,
        also: Sequence[TriggerHit] = (),
        requested: bool = False,
        notice: MessageKind | str | None,
    ) -> None:
        """Queue the conversation (with why and the router's view), give a VIP their named
        concierge when online, and tell the client what happens next."""
        assignment = await self.runtime.plan(self.conversation_id, self.profile, self.language, self.now())
        metadata: dict[str, Any] = {"tier": self.tier, "routing": assignment.explanation}
        if also:
            metadata["also"] = [h.reason for h in also]
        if assignment.out_of_hours and assignment.expected_reply_at is not None:
            metadata["out_of_hours"] = True
            metadata["expected_reply_at"] = assignment.expected_reply_at.isoformat()
        elif assignment.agent_id and not assignment.concierge:
            metadata["suggested_agent"] = assignment.agent_id
        if requested:  # the action's handoff_requested event already says why
            await self.service.move(
                self.conversation_id, HandoffStatus.QUEUED, actor="bot", reason=reason, metadata=metadata
            )
        else:
            await self.service.request(self.conversation_id, reason, detail, metadata=metadata)
        log.info("%s handed off: %s", conversation_ref(self.conversation_id), reason)
        if assignment.concierge and assignment.agent_id:
            await self.service.move(
                self.conversation_id,
                HandoffStatus.ASSIGNED,
                actor="system",
                reason="named concierge",
                metadata={"agent_id": assignment.agent_id, "explanation": assignment.explanation},
            )
            self._say("concierge_connected", agent=self._first_name(assignment))
        elif assignment.out_of_hours:
            self._say_out_of_hours(assignment)
        elif notice == "concierge" and self.profile is not None and self.profile.concierge_agent_id:
            agent = self.runtime.roster.get(self.profile.concierge_agent_id)
            name = agent.first_name if agent else self.profile.concierge_agent_id
            self._say("concierge_unavailable", agent=name)
        elif notice is not None:
            self._say("escalated")

    @staticmethod
    def _first_name(assignment: Assignment) -> str:
        return (assignment.agent_name or assignment.agent_id or "").split(" ")[0]

    # ---- telling the client ----------------------------------------------------------------
    def _say(self, kind: MessageKind, **values: str) -> None:
        """The domain's ``utter_handoff_<kind>`` when it has one, else the configured text."""
        self._utter(
            RESPONSES[kind],
            kind,
            lambda: self.runtime.config.messages.text(kind, self.language, **values),
            values,
        )

    def _say_out_of_hours(self, assignment: Assignment) -> None:
        opening = assignment.expected_reply_at
        when = describe_when(opening, self.now(), self.language) if opening else ""
        self._utter(
            OUT_OF_HOURS_RESPONSE, "out_of_hours", lambda: assignment.client_message or "", {"when": when}
        )

    def _utter(self, response: str, kind: str, fallback: Callable[[], str], values: dict[str, str]) -> None:
        event: BotUttered | None = None
        nlg = self.runtime.nlg
        if nlg is not None and nlg.has(response):
            event = nlg.render(response, self.tracker, self.message.channel, **values)
        if event is None:
            event = BotUttered(text=fallback())
        metadata = {**event.metadata, "sender": "bot", "handoff": kind}
        self.apply([event.model_copy(update={"metadata": metadata, "timestamp": self.runtime.clock()})])
