"""The processor: one inbound message in, the bot's replies out (Rasa's MessageProcessor).

Order of a turn: the message is stored durably (and deduplicated by its provider id)
before anything else; then, holding the conversation's lock, the engine rebuilds the
tracker from the event log, starts a session if needed, parses the text (intent,
entities, language, sentiment), extracts slots and runs predicted actions until
``action_listen``. With turn hooks (:class:`bot.hooks.TurnHooks`: human handoff, wired
by :mod:`concierge.compose`) the turn also recognises the client (tier slots), may hand off
before the bot answers (immediate triggers, a VIP asking for their concierge) or after it (the handoff
action, repeated fallbacks), and stays silent while a person owns the conversation.
The turn's events are appended to the log in one transaction, and subscribers (the
widget, the console) are pushed the new transcript lines.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.domain import (
    ACTION_EXTRACT_SLOTS,
    ACTION_LISTEN,
    ACTION_SESSION_START,
    Domain,
)
from bot.errors import ActionRejected, ConcurrencyConflict
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
    admit_action_events,
)
from bot.hooks import ActionSource, AsyncCloseable, TurnHook, TurnHooks
from bot.live import InProcessFeed, LiveFeed, Subscription
from bot.modelpool import ModelPool
from bot.models import ComponentHealth, InboundMessage, OutboundMessage, TranscriptEntry
from bot.recovery import already_answered, earlier_unanswered
from bot.redact import conversation_ref
from bot.store.snapshots import TrackerSnapshots
from bot.tracker import Tracker
from bot.transcript import outbound_from_bot_event, transcript_entry
from bot.writer import ConversationWriter

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.agent import Agent
    from bot.locks import LockStore
    from bot.nlg import ResponseRenderer
    from bot.store import EventStore, InboundStatus

log = logging.getLogger(__name__)

SAFE_REPLY = (
    "Sorry, something went wrong on our side and I couldn't finish that. "
    "Please try again in a moment, or ask for a person and one of our team will help."
)
MAX_PREDICTIONS = 10
#: a turn whose append finds that the conversation moved on is decided again on the new log,
#: this many times in all (two holders of a lost lock: the second one's turn goes again)
TURN_ATTEMPTS = 3
KNOWLEDGE_ACTION = "action_answer_from_knowledge"
NO_PREDICT_AFTER = {ACTION_LISTEN, ACTION_SESSION_START}


class Engine:
    """Handles messages for every conversation; safe to share across channels and tasks.

    Everything it uses comes through the constructor (:mod:`concierge.compose` builds the
    graph): ``hooks`` run around each turn, ``closing`` is released with the engine.
    """

    def __init__(
        self,
        agent: Agent,
        store: EventStore,
        locks: LockStore,
        actions: ActionSource,
        nlg: ResponseRenderer,
        *,
        clock: Callable[[], float] = time.time,
        live: LiveFeed | None = None,
        hooks: TurnHooks | None = None,
        closing: Sequence[AsyncCloseable] = (),
    ) -> None:
        self.agent = agent
        self.store = store
        self.locks = locks
        self.actions = actions
        self.nlg = nlg
        self.clock = clock
        self.live: LiveFeed = live if live is not None else InProcessFeed()  # Redis across processes
        self.writer = ConversationWriter(store, locks, self.live)
        self.hooks = hooks
        self._closing = tuple(closing)
        # each turn folds only the events it has not seen (bot/store/snapshots.py)
        self.snapshots = TrackerSnapshots(store)
        self.models = ModelPool()  # NLU + sentiment threads of their own (bot/modelpool.py)

    @property
    def domain(self) -> Domain:
        return self.agent.domain

    # ---- the public seam -------------------------------------------------
    async def receive(self, message: InboundMessage) -> bool:
        """Store the message durably; False if this message id was seen before.

        Channels acknowledge a message to the provider only after this returns.
        """
        return await self.store.record_inbound(message)

    async def process(self, message: InboundMessage) -> list[OutboundMessage]:
        """Run the bot's turn for an already stored message, in order within its conversation;
        no replies when its turn already committed (another process or a recovery sweep ran it).
        Earlier messages of the conversation still unanswered (a crash left them) are answered
        first, so the replies keep the order of the client's messages."""
        async with self.locks.lock(message.conversation_id):
            if await already_answered(self.store, message):
                return []
            for earlier in await earlier_unanswered(self.store, message):  # a crash left them: first
                await self._deliver(earlier, *await self._process_locked(earlier))
            events, seqs = await self._process_locked(message)
        return await self._deliver(message, events, seqs)

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]:
        """Store, then process, in arrival order; a duplicate delivery returns no replies.

        The conversation's lock is taken first, so messages of one conversation are
        stored and answered in the order they reached us.
        """
        async with self.locks.lock(message.conversation_id):
            if not await self.receive(message):
                log.info("duplicate message %s ignored", message.message_id)
                return []
            events, seqs = await self._process_locked(message)
        return await self._deliver(message, events, seqs)

    async def _process_locked(self, message: InboundMessage) -> tuple[list[Event], list[int]]:
        """Decide the turn on the log as read, and append it only if the log is still that.

        The lock keeps turns of one conversation apart, but a lock can be lost (Redis
        restarted without persistence mid-turn) and two holders overlap: the append's
        ``expected_seq`` is what keeps their turns from interleaving. On a conflict nothing
        was written (the events, the message's outcome and the outbox rows are one
        transaction, so nothing is sent either); the turn is decided again on the new log,
        or not at all when the other holder answered this very message. Actions may run
        again then; the client still gets one answer.
        """
        conversation_id = message.conversation_id
        for attempt in range(1, TURN_ATTEMPTS + 1):
            events, expected, status, error = await self._decide(message)
            try:
                seqs = await self.store.append(
                    conversation_id,
                    events,
                    expected_seq=expected,
                    outcome=(message.message_id, status, error),
                )
            except ConcurrencyConflict as conflict:
                self.snapshots.checkin(conversation_id, None)  # the tracker is stale: never kept
                log.warning(
                    "%s moved on during a turn (seq %d, not %d): attempt %d of %d",
                    conversation_ref(conversation_id),
                    conflict.actual_seq,
                    conflict.expected_seq,
                    attempt,
                    TURN_ATTEMPTS,
                )
                if attempt == TURN_ATTEMPTS:
                    raise  # still "received": the recovery sweep runs it again later
                if await already_answered(self.store, message):
                    return [], []
                continue
            self.snapshots.checkin(conversation_id, seqs if status == "processed" else None)
            return events, seqs
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _decide(
        self, message: InboundMessage
    ) -> tuple[list[Event], int | None, InboundStatus, str | None]:
        """The turn's events, the seq of the log they were decided on (None: it could not be
        read), and the message's outcome: processed, or failed with a safe reply."""
        events: list[Event] = []
        expected: int | None = None
        try:
            tracker, expected = await self.snapshots.checkout_at(message.conversation_id, self.domain)
            await self._turn(message, tracker, events)
            return events, expected, "processed", None
        except Exception as exc:  # the client gets a safe reply, the log gets the cause
            log.exception("turn failed for %s", conversation_ref(message.conversation_id))
            safe = [
                *_through_last_user_message(events),
                BotUttered(text=SAFE_REPLY, metadata={"sender": "system"}),
                ActionExecuted(name=ACTION_LISTEN, policy="error"),
            ]
            return safe, expected, "failed", f"{type(exc).__name__}: {exc}"

    async def _deliver(
        self, message: InboundMessage, events: list[Event], seqs: list[int]
    ) -> list[OutboundMessage]:
        await self._publish(message.conversation_id, seqs, events)
        return [
            outbound_from_bot_event(e, message.channel, message.sender_id)
            for e in events
            if isinstance(e, BotUttered)
        ]

    async def recover(self) -> int:
        """Process messages stored but never processed (e.g. after a crash); returns how many."""
        pending = await self.store.pending_inbound()
        for message in pending:
            await self.process(message)
        return len(pending)

    async def tracker(self, conversation_id: str) -> Tracker:
        sender_id = conversation_id.split(":", 1)[-1]
        return Tracker.for_domain(sender_id, self.domain, await self.store.events(conversation_id))

    async def history(self, conversation_id: str, after_seq: int | None = None) -> list[TranscriptEntry]:
        """The conversation's transcript (client, bot and agent lines) after ``after_seq``."""
        stored = await self.store.load(conversation_id, after_seq=after_seq)
        entries = (transcript_entry(s.seq, s.event) for s in stored)
        return [e for e in entries if e is not None]

    def subscribe(
        self, conversation_id: str, on_batch: Callable[[list[TranscriptEntry]], object] | None = None
    ) -> Subscription:
        """Batches of a conversation's new transcript lines as they are stored, from any
        process sharing the feed (an empty batch: catch up from the log), iterated or handed
        to ``on_batch``; see :mod:`bot.live`."""
        return self.live.subscribe(conversation_id, on_batch)

    async def append(
        self, conversation_id: str, events: list[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        """Append events from outside a turn (agents, handoff), under the conversation's lock
        (so they land between turns, never inside one). With ``expected_seq`` they are written
        only if the conversation's last seq is still that, else ``ConcurrencyConflict``."""
        return await self.writer.append(conversation_id, events, expected_seq=expected_seq)

    async def close(self) -> None:
        """Release connections: what it was given to close (the knowledge base), the action
        server client, the turn hooks, the live feed, the lock store and the database."""
        for resource in self._closing:
            await resource.aclose()
        await self.actions.aclose()
        if self.hooks is not None:
            await self.hooks.close()
        await self.live.close()
        await self.locks.close()
        await self.store.close()
        self.models.close()

    async def health(self) -> dict[str, ComponentHealth]:
        """Each component's state, for ``GET /health``."""
        result: dict[str, ComponentHealth] = {}
        try:
            await self.store.ping()
            result["database"] = ComponentHealth(status="ok", detail=self.store.dialect)
        except Exception as exc:
            result["database"] = ComponentHealth(status="down", detail=type(exc).__name__)
        intents = len(self.domain.intent_names)
        result["nlu"] = ComponentHealth(status="ok", detail=f"{intents} intents")
        result["policies"] = ComponentHealth(status="ok", detail=", ".join(self.agent.policies.policy_names))
        result["locks"] = await self.locks.health()
        result["live"] = await self.live.health()
        if self.hooks is not None:
            result["handoff"] = await self.hooks.health()
        return result

    # ---- one turn ------------------------------------------------------------
    async def _turn(self, message: InboundMessage, tracker: Tracker, new: list[Event]) -> None:
        """Run the turn on ``tracker``, appending every event it produces to ``new`` as it goes."""

        def apply(events: list[Event]) -> None:
            for event in events:
                tracker.update(event)
                new.append(event)

        if self._session_expired(tracker):
            await self._run(
                ACTION_SESSION_START, tracker, message.channel, apply, policy=None, confidence=1.0
            )

        text = message.text or ""
        handoff: TurnHook | None = (
            self.hooks.turn(message, tracker, apply) if self.hooks is not None else None
        )
        # NLU + sentiment is CPU work in a thread; recognising the client (its slots go just
        # before the message, so slot validation does not repeat them) is I/O meanwhile
        parsing = asyncio.ensure_future(self.models.run(self.agent.parse, text))
        try:
            if handoff is not None:
                await handoff.recognise()
        finally:
            parse = await parsing
        metadata: dict[str, Any] = {"sender": "client", **message.metadata}
        if not message.hints.is_empty():  # what the sender claims, kept for agents as unverified
            metadata["unverified_contact"] = message.hints.model_dump(exclude_none=True)
        apply(
            [
                UserUttered(
                    text=text,
                    parse_data=parse,
                    input_channel=message.channel,
                    message_id=message.message_id,
                    metadata=metadata,
                    timestamp=self.clock(),
                )
            ]
        )
        if tracker.paused:  # a human owns the conversation: store, never answer
            if handoff is not None:
                await handoff.while_paused()
            return
        if message.record_only:  # a reaction or an edit: kept, not answered
            return

        await self._run(
            ACTION_EXTRACT_SLOTS,
            tracker,
            message.channel,
            apply,
            policy=None,
            confidence=1.0,
            log_action=False,
        )
        if handoff is not None and await handoff.before_bot():  # straight to a person
            apply([ActionExecuted(name=ACTION_LISTEN, policy="handoff", timestamp=self.clock())])
            return
        for _ in range(MAX_PREDICTIONS):
            hide = False
            if tracker.followup_action and tracker.followup_action != ACTION_LISTEN:
                name, policy, confidence = tracker.followup_action, "followup", 1.0
            else:
                prediction = self.agent.policies.predict(tracker, self.domain)
                name, policy, confidence = prediction.action, prediction.policy, prediction.confidence
                hide = prediction.hide_rule_turn
                apply(list(prediction.events))
            before = len(tracker.events)
            ran = await self._run(
                name,
                tracker,
                message.channel,
                apply,
                policy=policy,
                confidence=confidence,
                hide_rule_turn=hide,
            )
            if ran and name in NO_PREDICT_AFTER:
                break
            if ran and _rewound(tracker.events[before:]) and not tracker.awaiting_reply():
                # The rewind took the client's message back and left none to answer (a core
                # fallback): the bot listens, as Rasa's policies predict after a rewound turn.
                # Asking them instead could answer an older message again (the one that
                # triggered a handoff, one stored while a person owned the conversation) or
                # fall back again and again at the start of a session.
                await self._run(
                    ACTION_LISTEN, tracker, message.channel, apply, policy="rewind", confidence=1.0
                )
                break
        else:
            log.warning(
                "%s: stopped after %d predictions", conversation_ref(message.conversation_id), MAX_PREDICTIONS
            )
            apply([ActionExecuted(name=ACTION_LISTEN, policy="limit")])
        if handoff is not None:
            await handoff.after_bot()

    async def _run(
        self,
        name: str,
        tracker: Tracker,
        channel: str,
        apply: Callable[[list[Event]], None],
        *,
        policy: str | None,
        confidence: float | None,
        log_action: bool = True,
        hide_rule_turn: bool = False,
    ) -> bool:
        """Run one action; False when it rejected execution (the policies then choose again)."""
        action = self.actions.get(name)
        try:
            events = await action.run(tracker, self.domain, self.nlg, channel)
        except ActionRejected:
            apply([ActionExecutionRejected(name=name, policy=policy, confidence=confidence)])
            return False
        events = admit_action_events(name, events, action)  # system events are the services'
        if any(isinstance(e, ActionExecutionRejected) for e in events):
            apply(list(events))
            return False
        if log_action:
            meta = {"hide_rule_turn": True} if hide_rule_turn else {}
            apply([ActionExecuted(name=name, policy=policy, confidence=confidence, metadata=meta)])
        apply(list(events))
        return True

    def _session_expired(self, tracker: Tracker) -> bool:
        if not any(isinstance(e, SessionStarted) for e in tracker.events):
            return True
        minutes = self.domain.session_config.session_expiration_time
        if minutes <= 0:
            return False
        last_user = next((e for e in reversed(tracker.events) if isinstance(e, UserUttered)), None)
        return last_user is not None and self.clock() - last_user.timestamp > minutes * 60

    async def _publish(self, conversation_id: str, seqs: list[int], events: list[Event]) -> None:
        await self.writer.publish(conversation_id, seqs, events)


def _rewound(events: Sequence[Event]) -> bool:
    """Whether an action's events take a client message back (Rasa's rewind)."""
    return any(isinstance(e, UserUtteranceReverted) for e in events)


def _through_last_user_message(events: list[Event]) -> list[Event]:
    """The events of a failed turn worth keeping: the session start and the client's message."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[: index + 1]
    return []
