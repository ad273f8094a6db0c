"""Wires the running bot's object graph from settings: the composition root.

``bot`` defines the seams (:class:`bot.hooks.TurnHooks`, :class:`bot.hooks.ActionSource`) and
imports nothing above it; this module builds the implementations (the action registry, the
knowledge base, the handoff runtime) and passes them to the :class:`bot.engine.Engine`'s
constructor. :class:`Services` is what the app's lifespan, the CLI, the benchmarks and the
tests hold: each part typed, none reached through ``getattr`` chains.

Build order (no part needs one built after it): model, store (migrated), responses,
knowledge base, actions, locks and live feed, the conversation writer, handoff, engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actions.registry import ActionRegistry
from automation.service import register_inbox
from bot.agent import Agent
from bot.domain import Domain
from bot.engine import KNOWLEDGE_ACTION, Engine
from bot.live import LiveFeed, live_feed_from_url
from bot.loaders import load_endpoints
from bot.locks import LockStore, lock_store_from_url
from bot.nlg import ResponseRenderer
from bot.settings import Settings
from bot.store import EventStore
from bot.writer import ConversationWriter
from handoff.packet import Summariser
from handoff.runtime import HandoffRuntime
from knowledge.settings import KnowledgeServices
from proactive.service import register_proactive


@dataclass(frozen=True)
class Services:
    """The running bot's parts, built once by :func:`build_services` and closed together.

    ``knowledge`` is None for a project without articles (or whose domain does not use the
    answer action); ``handoff`` is None for a project without handoff data. The engine owns
    the closing of what it was given (see :meth:`close`).
    """

    settings: Settings
    store: EventStore
    locks: LockStore
    live: LiveFeed
    writer: ConversationWriter
    agent: Agent
    nlg: ResponseRenderer
    actions: ActionRegistry
    knowledge: KnowledgeServices | None
    handoff: HandoffRuntime | None
    engine: Engine

    async def close(self) -> None:
        """Release everything: the engine closes the knowledge base, the action client, the
        handoff runtime (presence), the live feed, the locks and the database."""
        await self.engine.close()


async def build_services(settings: Settings, *, clock: Callable[[], float] = time.time) -> Services:
    """The object graph for ``settings``' project; ``clock`` is shared by the engine and
    handoff (tests pass one they move). On failure nothing is left open."""
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
    try:
        knowledge = await build_knowledge(project_dir, settings, store, agent.domain)
    except BaseException:
        await store.close()
        raise
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
    writer = ConversationWriter(store, locks, live)
    register_inbox(store)  # rule triggers queued with every append, whichever process writes
    register_proactive(store, project_dir)  # reminders, stops and proactive sends, in each append
    closing = [knowledge] if knowledge is not None else []
    try:
        handoff = await build_handoff_runtime(
            writer, project_dir, agent, nlg, knowledge, settings.redis_url, clock=clock
        )
    except BaseException:
        # a bad handoff.yml must not leave connections behind: the engine closes them all
        await Engine(agent, store, locks, registry, nlg, live=live, closing=closing).close()
        raise
    engine = Engine(
        agent, store, locks, registry, nlg, clock=clock, live=live, hooks=handoff, closing=closing
    )
    return Services(
        settings=settings,
        store=store,
        locks=locks,
        live=live,
        writer=writer,
        agent=agent,
        nlg=nlg,
        actions=registry,
        knowledge=knowledge,
        handoff=handoff,
        engine=engine,
    )


async def build_engine(settings: Settings, *, clock: Callable[[], float] = time.time) -> Engine:
    """Only the engine of :func:`build_services` (it closes everything it was built with),
    for callers that need no handoff or knowledge service directly."""
    return (await build_services(settings, clock=clock)).engine


async def build_handoff_runtime(
    writer: ConversationWriter,
    project_dir: Path,
    agent: Agent,
    nlg: ResponseRenderer,
    knowledge: KnowledgeServices | None,
    redis_url: str | None,
    *,
    clock: Callable[[], float] = time.time,
) -> HandoffRuntime | None:
    """Handoff for a project with handoff data; its packets are summarised by the knowledge
    base's LLM when one is configured; agents' presence is in Redis when one is configured."""
    from console.audit import AuditLog  # client merges are audited where managers read them
    from handoff.presence import presence_from_url
    from handoff.runtime import build_handoff

    def summariser() -> Summariser | None:
        if knowledge is None or knowledge.llm_client is None:
            return None
        from handoff.summary import LLMSummariser
        from knowledge.settings import KnowledgeSettings

        kb_settings = KnowledgeSettings()
        return LLMSummariser(knowledge.llm_client, kb_settings.llm_model, timeout=kb_settings.llm_timeout)

    presence = presence_from_url(redis_url)
    try:
        return await build_handoff(
            writer,
            project_dir,
            domain=agent.domain,
            nlg=nlg,
            sentiment=agent.sentiment,
            clock=clock,
            summariser_factory=summariser,
            presence=presence,
            audit=AuditLog(writer.store.engine),
        )
    except BaseException:
        await presence.close()
        raise


async def build_knowledge(
    project_dir: Path, settings: Settings, store: EventStore, domain: Domain
) -> KnowledgeServices | None:
    """The knowledge base, when the project has articles and its domain uses the answer action.

    Shipped articles are imported at start-up (only new or changed ones are embedded),
    so an editor's published change in the database is never overwritten.
    """
    from bot.nlu.embeddings import SentenceEncoder
    from bot.nlu.language import LanguageDetector
    from knowledge.gaps import register_gap_projection
    from knowledge.markdown import load_articles
    from knowledge.settings import KnowledgeSettings, build_knowledge

    kb_settings = KnowledgeSettings()
    articles_dir = project_dir / kb_settings.articles_dir
    if not articles_dir.is_dir() or KNOWLEDGE_ACTION not in domain.actions:
        return None
    await register_gap_projection(store)  # the knowledge action's gap events, clustered
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
