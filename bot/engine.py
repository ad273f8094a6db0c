"""The processor: one inbound message in, the bot's replies out (Rasa's MessageProcessor).

Order of a turn: the message is stored durably (and deduplicated by its provider id)
before anything else; then, holding the conversation's lock, the engine rebuilds the
tracker from the event log, starts a session if needed, parses the text (intent,
entities, language, sentiment), extracts slots and runs predicted actions until
``action_listen``. With handoff (``engine.handoff``, see :mod:`handoff.runtime`) the
turn also recognises the client (tier slots), may hand off before the bot answers
(immediate triggers, a VIP asking for their concierge) or after it (the handoff
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
from bot.errors import ActionRejected
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    SessionStarted,
    UserUttered,
    admit_action_events,
)
from bot.live import InProcessFeed, LiveFeed, Subscription
from bot.modelpool import ModelPool
from bot.models import ComponentHealth, InboundMessage, OutboundMessage, TranscriptEntry
from bot.recovery import already_answered, earlier_unanswered
from bot.redact import conversation_ref
from bot.store.snapshots import TrackerSnapshots
from bot.tracker import Tracker
from bot.transcript import outbound_from_bot_event, transcript_entry

if TYPE_CHECKING:
    from pathlib import Path

    from actions.registry import ActionRegistry
    from bot.agent import Agent
    from bot.locks import LockStore
    from bot.nlg import ResponseRenderer
    from bot.settings import Settings
    from bot.store import EventStore, InboundStatus
    from handoff.packet import Summariser
    from handoff.runtime import HandoffRuntime
    from knowledge.settings import KnowledgeServices

log = logging.getLogger(__name__)

SAFE_REPLY = (
    "Sorry, something went wrong on our side and I couldn't finish that. "
    "Please try again in a moment, or ask for a person and one of our team will help."
)
MAX_PREDICTIONS = 10
KNOWLEDGE_ACTION = "action_answer_from_knowledge"
NO_PREDICT_AFTER = {ACTION_LISTEN, ACTION_SESSION_START}


class Engine:
    """Handles messages for every conversation; safe to share across channels and tasks."""

    def __init__(
        self,
        agent: Agent,
        store: EventStore,
        locks: LockStore,
        actions: ActionRegistry,
        nlg: ResponseRenderer,
        *,
        clock: Callable[[], float] = time.time,
        live: LiveFeed | None = None,
    ) -> None:
        self.agent = agent
        self.store = store
        self.locks = locks
        self.actions = actions
        self.nlg = nlg
        self.clock = clock
        self.live: LiveFeed = live if live is not None else InProcessFeed()  # Redis across processes
        self.knowledge: KnowledgeServices | None = None
        self.handoff: HandoffRuntime | None = None
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
        conversation_id = message.conversation_id
        events: list[Event] = []
        status: InboundStatus
        error: str | None
        try:
            await self._turn(message, events)
            status, error = "processed", None
        except Exception as exc:  # the client gets a safe reply, the log gets the cause
            log.exception("turn failed for %s", conversation_ref(conversation_id))
            events = [
                *_through_last_user_message(events),
                BotUttered(text=SAFE_REPLY, metadata={"sender": "system"}),
                ActionExecuted(name=ACTION_LISTEN, policy="error"),
            ]
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        seqs = await self.store.append(conversation_id, events, outcome=(message.message_id, status, error))
        self.snapshots.checkin(conversation_id, seqs if status == "processed" else None)
        return events, seqs

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

    def subscribe(self, conversation_id: str) -> Subscription:
        """Batches of a conversation's new transcript lines as they are stored, from any
        process sharing the feed (an empty batch: catch up from the log); see :mod:`bot.live`."""
        return self.live.subscribe(conversation_id)

    async def append(
        self, conversation_id: str, events: list[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        """Append events from outside a turn (agents, handoff), under the conversation's lock
        (so they land between turns, never inside one). With ``expected_seq`` they are written
        only if the conversation's last seq is still that, else ``ConcurrencyConflict``."""
        async with self.locks.lock(conversation_id):
            seqs = await self.store.append(conversation_id, events, expected_seq=expected_seq)
        await self._publish(conversation_id, seqs, events)
        return seqs

    async def close(self) -> None:
        """Release connections: the knowledge base's LLM client, the action server client,
        the lock store and the database."""
        if self.knowledge is not None:
            await self.knowledge.aclose()
        await self.actions.aclose()
        if self.handoff is not None:
            await self.handoff.close()
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
        if self.handoff is not None:
            result["handoff"] = await self.handoff.health()
        return result

    # ---- one turn ------------------------------------------------------------
    async def _turn(self, message: InboundMessage, new: list[Event]) -> None:
        """Run the turn, appending every event it produces to ``new`` as it goes."""
        tracker = await self.snapshots.checkout(message.conversation_id, self.domain)

        def apply(events: list[Event]) -> None:
            for event in events:
                tracker.update(event)
                new.append(event)

        if self._session_expired(tracker):
            await self._run(
                ACTION_SESSION_START, tracker, message.channel, apply, policy=None, confidence=1.0
            )

        text = message.text or ""
        handoff = self.handoff.turn(message, tracker, apply) if self.handoff is not None else None
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
        entries = [transcript_entry(seq, event) for seq, event in zip(seqs, events, strict=True)]
        await self.live.publish(conversation_id, [e for e in entries if e is not None])


def _through_last_user_message(events: list[Event]) -> list[Event]:
    """The events of a failed turn worth keeping: the session start and the client's message."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[: index + 1]
    return []


async def build_engine(settings: Settings) -> Engine:
    """Wire the object graph for a project: model, store, locks, actions, responses and,
    when the project has articles, the knowledge base."""
    from actions.registry import ActionRegistry
    from bot.agent import Agent
    from bot.live import live_feed_from_url
    from bot.loaders import load_endpoints
    from bot.locks import lock_store_from_url
    from bot.nlg import ResponseRenderer
    from bot.store import EventStore

    project_dir = settings.project_dir.resolve()
    agent = await asyncio.to_thread(Agent.load_or_train, project_dir, settings.resolved_model_dir())
    settings.resolved_state_dir().mkdir(parents=True, exist_ok=True)
    store = EventStore.from_url(settings.resolved_database_url())
    try:
        await store.migrate()
    except BaseException:
        await store.close()  # a failed start must not leave connections behind
        raise
    endpoints = load_endpoints(project_dir / "endpoints.yml")
    action_url = settings.action_endpoint or (
        endpoints.action_endpoint.url if endpoints.action_endpoint else None
    )
    modules = (
        [endpoints.action_endpoint.actions_module]
        if endpoints.action_endpoint and endpoints.action_endpoint.actions_module
        else []
    )
    nlg = ResponseRenderer(agent.domain)
    token = endpoints.action_endpoint.token if endpoints.action_endpoint else None
    knowledge = await _build_knowledge(project_dir, settings, store, agent.domain)
    native = {}
    if knowledge is not None:
        from actions.knowledge import ActionAnswerFromKnowledge

        answer = ActionAnswerFromKnowledge(knowledge.kb)
        native[answer.name] = answer
    if "action_record_csat" in agent.domain.actions:  # CSAT after a person helped (actions/csat.py)
        from actions.csat import ActionRecordCsat

        native[ActionRecordCsat.name] = ActionRecordCsat()  # type: ignore[assignment]
    # the registry makes (and closes) its own HTTP client when an action server is configured
    registry = ActionRegistry(
        agent.domain, nlg, modules=modules, action_endpoint=action_url, token=token, native=native
    )
    locks, live = lock_store_from_url(settings.redis_url), live_feed_from_url(settings.redis_url)
    engine = Engine(agent, store, locks, registry, nlg, live=live)
    engine.knowledge = knowledge
    try:
        engine.handoff = await _build_handoff(engine, project_dir, knowledge, settings.redis_url)
    except BaseException:
        await engine.close()  # a bad handoff.yml must not leave connections behind
        raise
    return engine


async def _build_handoff(
    engine: Engine, project_dir: Path, knowledge: KnowledgeServices | None, redis_url: str | None
) -> HandoffRuntime | None:
    """Handoff for a project with handoff data; its packets are summarised by the knowledge
    base's LLM when one is configured; agents' presence is in Redis when one is configured."""
    from handoff.presence import presence_from_url
    from handoff.runtime import build_handoff

    def summariser() -> Summariser | None:
        if knowledge is None or knowledge.llm_client is None:
            return None
        from handoff.summary import LLMSummariser
        from knowledge.settings import KnowledgeSettings

        kb_settings = KnowledgeSettings()
        return LLMSummariser(knowledge.llm_client, kb_settings.llm_model, timeout=kb_settings.llm_timeout)

    from console.audit import AuditLog  # client merges are audited where managers read them

    presence = presence_from_url(redis_url)
    try:
        return await build_handoff(
            engine,
            project_dir,
            summariser_factory=summariser,
            presence=presence,
            audit=AuditLog(engine.store.engine),
        )
    except BaseException:
        await presence.close()
        raise


async def _build_knowledge(
    project_dir: Path, settings: Settings, store: EventStore, domain: Domain
) -> KnowledgeServices | None:
    """The knowledge base, when the project has articles and its domain uses the answer action.

    Shipped articles are imported at start-up (only new or changed ones are embedded),
    so an editor's published change in the database is never overwritten.
    """
    from knowledge.settings import KnowledgeSettings

    kb_settings = KnowledgeSettings()
    articles_dir = project_dir / kb_settings.articles_dir
    if not articles_dir.is_dir() or KNOWLEDGE_ACTION not in domain.actions:
        return None
    from bot.nlu.embeddings import SentenceEncoder
    from bot.nlu.language import LanguageDetector
    from knowledge.markdown import load_articles
    from knowledge.settings import build_knowledge

    encoder = await asyncio.to_thread(SentenceEncoder)
    services = await build_knowledge(
        kb_settings,
        encoder,
        project_dir=project_dir,
        state_dir=settings.resolved_state_dir(),
        engine=store.engine,
        detector=LanguageDetector(kb_settings.default_language, kb_settings.languages),
        follow=True,  # articles published through other processes reach this one's index
    )
    if services.sync is not None:
        await services.sync.mark_current()  # before the import: a change meanwhile is caught
    if services.editor is not None:
        await services.editor.bootstrap(load_articles(articles_dir))
    if services.sync is not None:
        services.sync.start()
    return services
