"""What the agent does: claim, assign, transfer, resolve, return to the bot, reply, note, presence.

Every handoff move goes through the runtime's :class:`~handoff.service.HandoffService` (the
one transition table; an illegal move is refused and writes nothing). A reply is stored
(``BotUttered`` with ``sender: agent``, appended through the engine so the widget and other
consoles see it live) together with its outbox row on a push channel, in one transaction
(:mod:`bot.channels.outbox_projection`); a channel that refuses (the WhatsApp 24-hour
window, no outbox running) is checked before storing and reported back to the agent, never
swallowed (the line is stored marked not sent). After a resolution or a return to the bot
the client is asked for CSAT in their language (:func:`actions.csat.csat_question`).

A resolved conversation is closed straight away (``resolved -> bot``): the transition table
keeps the bot silent while a conversation is resolved, and the client's CSAT tap and any
later message must reach the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from actions.csat import csat_question
from bot.channels.base import ChannelAdapter, PushChannel
from bot.channels.outbox_projection import NOT_SENT
from bot.engine import Engine
from bot.errors import ChannelError, OutsideWindow
from bot.events import AgentNoteAdded, BotUttered, Event
from bot.models import OutboundMessage
from bot.redact import conversation_ref
from bot.store.event_store import split_conversation_id
from bot.transcript import outbound_from_bot_event
from console.security.models import ConsoleUser
from console.services.workspace.access import actor_id, can_assign
from console.services.workspace.errors import (
    AgentNotAvailable,
    AlreadyHeld,
    ConversationNotFound,
    NoAgentProfile,
    NotAvailable,
    NotYours,
    WrongState,
)
from console.services.workspace.mentions import MENTIONS_KEY, mentioned_agents
from console.services.workspace.models import DeliveryView
from handoff.agents import AgentStatus
from handoff.assignment import AgentUnavailable, check_target
from handoff.clients import ClientNotFound
from handoff.presence import PresenceUnavailable
from handoff.roster import UnknownAgent
from handoff.runtime import HandoffRuntime
from handoff.service import HandoffService
from handoff.state import HandoffStatus, HandoffTicket, IllegalTransition

log = logging.getLogger(__name__)

#: channels whose clients see new log lines by themselves (no push needed)
LIVE_FROM_LOG = frozenset({"widget"})
CLOSED_AFTER_RESOLUTION = "closed after resolution"
CSAT_TEMPLATE = "csat"


def _not_sent(event: BotUttered, why: str) -> BotUttered:
    """The line as stored when it cannot go out: marked so it gets no outbox row."""
    return event.model_copy(update={"metadata": {**event.metadata, NOT_SENT: why}})


class WorkspaceActions:
    """Mutations of the workspace; each returns what the routes report and audit."""

    def __init__(
        self, engine: Engine, runtime: HandoffRuntime, channels: Mapping[str, ChannelAdapter]
    ) -> None:
        self.engine = engine
        self.runtime = runtime
        self.channels = channels

    @property
    def service(self) -> HandoffService:
        """The one write path for handoff moves."""
        return self.runtime.service

    # ---- reading what we act on ------------------------------------------------------
    async def ticket(self, conversation_id: str) -> HandoffTicket:
        """The conversation's handoff ticket; :class:`ConversationNotFound` for an unknown id."""
        if await self.engine.store.latest_seq(conversation_id) == 0:
            raise ConversationNotFound(f"no conversation {conversation_id!r}")
        return await self.service.ticket(conversation_id)

    def _check_agent(self, agent_id: str) -> None:
        if self.runtime.roster.get(agent_id) is None:
            raise WrongState(f"{agent_id!r} is not an agent on the roster")

    def _holder_or_supervisor(self, current: HandoffTicket, user: ConsoleUser, doing: str) -> None:
        if current.status != HandoffStatus.ASSIGNED:
            raise WrongState(
                f"only a conversation with an agent can be {doing}; this one is {current.status}"
            )
        if current.assigned_to != actor_id(user) and not can_assign(user):
            raise NotYours(f"{self.name_of(current.assigned_to)} holds this conversation")

    def name_of(self, agent_id: str | None) -> str:
        """An agent's roster name (ids not on the roster as given)."""
        if agent_id is None:
            return "nobody"
        profile = self.runtime.roster.get(agent_id)
        return profile.name if profile else agent_id

    # ---- handoff moves ----------------------------------------------------------------
    async def claim(self, conversation_id: str, user: ConsoleUser, agent_id: str | None = None) -> str:
        """Take a waiting conversation (or, for managers and admins, give it to ``agent_id``)."""
        me = actor_id(user)
        target = agent_id or me
        if target != me:
            if not can_assign(user):
                raise NotYours("only managers and admins may assign conversations to other agents")
            self._check_agent(target)
        current = await self.ticket(conversation_id)
        if current.status != HandoffStatus.QUEUED:
            holder = current.assigned_to if current.status == HandoffStatus.ASSIGNED else None
            raise self._already_held(current.status, holder)
        try:
            await self.service.claim(conversation_id, target, by=me if target != me else None)
        except IllegalTransition as exc:  # another agent got there first, here or on another server
            raise self._already_held(exc.current, exc.holder) from None
        return target

    def _already_held(self, status: HandoffStatus, holder: str | None) -> AlreadyHeld:
        return AlreadyHeld(str(status), holder, self.name_of(holder) if holder else None)

    async def transfer(
        self,
        conversation_id: str,
        user: ConsoleUser,
        reason: str,
        to_agent: str | None = None,
        *,
        override: bool = False,
    ) -> str | None:
        """Back to the queue with ``reason``, or on to ``to_agent`` (two moves: queued, then
        assigned), who must be online with a free slot unless ``override`` (then the returned
        sentence says what was overridden; None when nothing was)."""
        current = await self.ticket(conversation_id)
        self._holder_or_supervisor(current, user, "transferred")
        overridden = None
        if to_agent is not None:
            self._check_agent(to_agent)
            if to_agent == current.assigned_to:
                raise WrongState(f"{self.name_of(to_agent)} already holds this conversation")
            try:
                overridden = await check_target(self.runtime, to_agent, override=override)
            except AgentUnavailable as exc:
                raise AgentNotAvailable(to_agent, exc.why) from None
        me = actor_id(user)
        await self.service.transfer(conversation_id, me, reason)
        if to_agent is not None:
            await self.service.claim(conversation_id, to_agent, by=me)
        return overridden

    async def resolve(
        self, conversation_id: str, user: ConsoleUser, reason: str | None, ask_csat: bool
    ) -> DeliveryView | None:
        """Mark resolved, hand the conversation back to the bot, ask for CSAT; the question's
        delivery (None when not asked)."""
        current = await self.ticket(conversation_id)
        self._holder_or_supervisor(current, user, "resolved")
        me = actor_id(user)
        await self.service.resolve(conversation_id, me, reason or "resolved")
        await self.service.return_to_bot(conversation_id, me, CLOSED_AFTER_RESOLUTION)
        return await self._ask_csat(conversation_id, current.assigned_to) if ask_csat else None

    async def return_to_bot(
        self, conversation_id: str, user: ConsoleUser, reason: str | None, ask_csat: bool
    ) -> DeliveryView | None:
        """Hand the conversation back to the bot; CSAT is asked when an agent had it (the
        question's delivery, or None when not asked)."""
        current = await self.ticket(conversation_id)
        if current.status == HandoffStatus.BOT:
            raise WrongState("the bot already has this conversation")
        if current.status == HandoffStatus.ASSIGNED:
            self._holder_or_supervisor(current, user, "returned")
        elif current.status == HandoffStatus.RESOLVED and not (
            can_assign(user) or current.assigned_to == actor_id(user)
        ):
            raise NotYours("only the agent who resolved it or a manager may hand it back to the bot")
        await self.service.return_to_bot(conversation_id, actor_id(user), reason or "returned to bot")
        helped = current.status == HandoffStatus.ASSIGNED
        return await self._ask_csat(conversation_id, current.assigned_to) if ask_csat and helped else None

    # ---- talking to the client -------------------------------------------------------------
    async def reply(self, conversation_id: str, user: ConsoleUser, text: str) -> DeliveryView:
        """Store the agent's reply, then push it through the client's channel."""
        current = await self.ticket(conversation_id)
        if current.status != HandoffStatus.ASSIGNED:
            raise WrongState("claim the conversation before replying")
        me = actor_id(user)
        if current.assigned_to != me:
            raise NotYours(f"{self.name_of(current.assigned_to)} holds this conversation; only they reply")
        profile = self.runtime.roster.get(me)
        event = BotUttered(
            text=text,
            metadata={
                "sender": "agent",
                "agent_id": me,
                "agent_name": profile.name if profile else user.display_name,
            },
            timestamp=self.runtime.clock(),
        )
        (delivery,) = await self.store_and_send(conversation_id, [event])
        return delivery

    async def store_and_send(self, conversation_id: str, events: list[Event]) -> list[DeliveryView]:
        """Append ``events``; each ``BotUttered`` among them reaches the client's channel: a
        push channel's outbox row is written in the same transaction as the line
        (:mod:`bot.channels.outbox_projection`), so a crash cannot keep one without the other.
        One :class:`DeliveryView` per line, in order.

        The channel's checks run first (the service window: a template stands in, or the line
        is stored marked not sent and the agent is told why).
        """
        channel, _ = split_conversation_id(conversation_id)
        prepared: list[Event] = []
        refusals: list[tuple[str, str] | None] = []
        for event in events:
            if isinstance(event, BotUttered):
                event, refusal = await self._prepared(conversation_id, event)
                refusals.append(refusal)
            prepared.append(event)
        seqs = await self.engine.append(conversation_id, prepared)
        adapter = self.channels.get(channel)
        if isinstance(adapter, PushChannel) and adapter.outbox is not None:
            adapter.outbox.wake()  # the rows are committed: deliver now, not at the next poll
        lines = [(e, seq) for e, seq in zip(prepared, seqs, strict=True) if isinstance(e, BotUttered)]
        views = []
        for (line, seq), refusal in zip(lines, refusals, strict=True):
            if refusal is None and adapter is not None and not isinstance(adapter, PushChannel):
                refusal = await self._push_now(conversation_id, adapter, line)
            views.append(self._delivery(channel, seq, refusal))
        return views

    async def _push_now(
        self, conversation_id: str, adapter: ChannelAdapter, line: BotUttered
    ) -> tuple[str, str] | None:
        """A channel without an outbox (``rest``: request/response) is asked to push a stored
        line directly; most cannot, and the agent is told so."""
        channel, sender_id = split_conversation_id(conversation_id)
        if channel in LIVE_FROM_LOG:
            return None
        try:
            await adapter.send(outbound_from_bot_event(line, channel, sender_id))
        except ChannelError as exc:
            log.warning("%s: pushing a reply failed: %s", conversation_ref(conversation_id), exc)
            return ("channel_error", str(exc))
        return None

    async def _prepared(
        self, conversation_id: str, event: BotUttered
    ) -> tuple[BotUttered, tuple[str, str] | None]:
        """``event`` as it should be stored for its channel, and ``(error_kind, error)`` when it
        cannot go out (then it is stored marked :data:`NOT_SENT`, and gets no outbox row)."""
        channel, sender_id = split_conversation_id(conversation_id)
        adapter = self.channels.get(channel)
        if channel in LIVE_FROM_LOG or not isinstance(adapter, PushChannel):
            return event, None  # the log is the delivery, or no outbox (see _push_now)
        message: OutboundMessage = outbound_from_bot_event(event, channel, sender_id)
        # what a channel with a service window needs to pick an approved template (bot/channels/
        # service_window.py): the CSAT question's purpose, the agent's name for their replies
        custom = dict(message.custom or {})
        if event.metadata.get("csat"):
            custom.setdefault("template", CSAT_TEMPLATE)
        if event.metadata.get("agent_name"):
            custom.setdefault("agent_name", str(event.metadata["agent_name"]))
        message = message.model_copy(update={"custom": custom or None})
        try:
            message = await adapter.prepare(message)
        except OutsideWindow as exc:
            log.info("%s: reply outside the channel's window", conversation_ref(conversation_id))
            return _not_sent(event, "outside_window"), ("outside_window", str(exc))
        except ChannelError as exc:
            log.warning("%s: pushing a reply failed: %s", conversation_ref(conversation_id), exc)
            return _not_sent(event, "channel_error"), ("channel_error", str(exc))
        if adapter.outbox is None:
            refusal = ("channel_error", f"channel {channel}: the outbox is not running yet")
            log.warning("%s: pushing a reply failed: %s", conversation_ref(conversation_id), refusal[1])
            return _not_sent(event, refusal[0]), refusal
        if message.custom:
            # the outbox row is built from the stored line: it carries what the channel chose
            event = event.model_copy(update={"data": {**event.data, "custom": message.custom}})
        return event, None

    def _delivery(self, channel: str, seq: int, refusal: tuple[str, str] | None) -> DeliveryView:
        if refusal is not None:
            kind, error = refusal
            return DeliveryView(seq=seq, channel=channel, delivered=False, error=error, error_kind=kind)
        if channel in LIVE_FROM_LOG:
            return DeliveryView(seq=seq, channel=channel, delivered=True)
        if channel not in self.channels:
            return DeliveryView(
                seq=seq,
                channel=channel,
                delivered=False,
                error=f"the {channel or 'unknown'} channel is not running on this server; "
                "the reply is stored but did not reach the client",
                error_kind="no_channel",
            )
        return DeliveryView(seq=seq, channel=channel, delivered=True, queued=True)

    async def _ask_csat(self, conversation_id: str, agent_id: str | None) -> DeliveryView:
        """Append the CSAT question and push it to channels that need a push; how that went."""
        channel, _ = split_conversation_id(conversation_id)
        tracker = await self.engine.tracker(conversation_id)
        events = csat_question(tracker, self.engine.domain, self.engine.nlg, channel, agent_id=agent_id)
        stamped: list[Event] = [e.model_copy(update={"timestamp": self.runtime.clock()}) for e in events]
        outcome = (await self.store_and_send(conversation_id, stamped))[0]
        if not outcome.delivered:
            log.warning(
                "%s: the CSAT question was stored but not delivered: %s", conversation_id, outcome.error
            )
        return outcome

    # ---- notes and presence ------------------------------------------------------------------
    async def note(self, conversation_id: str, user: ConsoleUser, text: str, to_client: bool) -> bool:
        """An internal note on the conversation (never shown to the client); with ``to_client``
        also kept on the client's profile. Returns True when it went to the profile too."""
        await self.ticket(conversation_id)
        client = await self.runtime.client_for(conversation_id) if to_client else None
        if to_client and client is None:
            raise WrongState("this conversation's client is not known; add the note to the conversation only")
        mentions = mentioned_agents(text, self.runtime.roster.profiles)  # told live by the hub
        note = AgentNoteAdded(
            text=text,
            author=user.display_name,
            timestamp=self.runtime.clock(),
            metadata={MENTIONS_KEY: mentions} if mentions else {},
        )
        await self.engine.append(conversation_id, [note])
        if client is None:
            return False
        try:
            await self.runtime.clients.add_note(client.id, user.display_name, text)
        except ClientNotFound as exc:
            raise WrongState(str(exc)) from None
        return True

    async def set_presence(self, user: ConsoleUser, status: AgentStatus) -> None:
        """Set the agent's own status (online, away, offline) for the router."""
        if user.agent_id is None:
            raise NoAgentProfile("only users linked to an agent profile have a status")
        try:
            await self.runtime.set_agent_status(user.agent_id, status)
        except UnknownAgent:
            raise NoAgentProfile(f"{user.agent_id!r} is not on this project's agent roster") from None
        except PresenceUnavailable:
            raise NotAvailable("your status cannot be changed right now; try again in a moment") from None
