"""The FastAPI app factory: channels, static widget, demo page, console shell, health.

``create_app(settings)`` wires nothing at import time. Given ``services`` (tests, the
CLI's own; :class:`console.running.AppServices`) or only an ``engine`` (chat tests), the app
uses them; otherwise its lifespan builds them with ``build(settings)`` (the composition
root's ``concierge.compose.build_services``, passed in by :mod:`concierge.serve`: the
console never imports the root), answers messages left unprocessed by a crash or an
outage in the background (:class:`bot.recovery.RecoveryLoop`; start-up never waits for
it), and closes them at shutdown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.channels.base import ChannelAdapter, MessageHandler
from bot.channels.credentials import Credentials, load_credentials
from bot.channels.limits import ChatGuard
from bot.channels.registry import mount_channels
from bot.channels.runtime import start_outbox
from bot.channels.webhook import WebhookChannel
from bot.engine import Engine
from bot.live import Subscription
from bot.models import ComponentHealth, InboundMessage, OutboundMessage, TranscriptEntry
from bot.ratelimit import rate_limiter_from_url
from bot.recovery import RecoveryLoop
from bot.settings import Settings
from console.deps import WORKSPACE_ROLES, require_roles
from console.errors import ERROR_RESPONSES, install_error_handlers
from console.limits import install_limits
from console.routes import health, pages
from console.routes.workspace_live import close_workspace
from console.running import AppServices, EngineOnly
from console.security.http import install_security
from console.security.platform import ConsolePlatform
from console.services.analytics.scheduled import start_app_reports
from console.services.automation import start_automation
from console.services.operations import TurnMetrics
from console.services.proactive import start_app_proactive
from privacy.logs import install as install_log_redaction
from privacy.scheduler import start_retention

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_CHANNELS = ("rest", "widget")


ServicesFactory = Callable[[Settings], Awaitable[AppServices]]
"""Builds the running bot's services from settings (``concierge.compose.build_services``)."""


class EngineSlot:
    """The services the routes talk to, filled by the lifespan when the app builds its own.

    Channels are mounted when the app is created, before an engine exists; they hold
    this slot and reach the engine through it.
    """

    def __init__(self, services: AppServices | None = None, turns: TurnMetrics | None = None) -> None:
        self.services = services
        self.turns = turns  # /metrics: turns and their latency, counted at this edge

    @property
    def engine(self) -> Engine | None:
        """The running engine, None while the bot is starting (or stopped)."""
        return self.services.engine if self.services is not None else None

    def _get(self) -> MessageHandler:
        if self.engine is None:
            raise RuntimeError("the engine is not started yet")
        return self.engine

    async def receive(self, message: InboundMessage) -> bool:
        """See :meth:`MessageHandler.receive`."""
        return await self._get().receive(message)

    async def process(self, message: InboundMessage) -> list[OutboundMessage]:
        """See :meth:`MessageHandler.process`."""
        started, ok = time.perf_counter(), False
        try:
            replies = await self._get().process(message)
            ok = True
            return replies
        finally:
            if self.turns is not None:
                self.turns.observe(message.channel, time.perf_counter() - started, ok=ok)

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]:
        """See :meth:`MessageHandler.handle`."""
        started, ok = time.perf_counter(), False
        try:
            replies = await self._get().handle(message)
            ok = True
            return replies
        finally:
            if self.turns is not None:
                self.turns.observe(message.channel, time.perf_counter() - started, ok=ok)

    async def history(self, conversation_id: str, after_seq: int | None = None) -> list[TranscriptEntry]:
        """See :meth:`MessageHandler.history`."""
        return await self._get().history(conversation_id, after_seq=after_seq)

    def subscribe(
        self, conversation_id: str, on_batch: Callable[[list[TranscriptEntry]], object] | None = None
    ) -> Subscription:
        """See :meth:`MessageHandler.subscribe`."""
        return self._get().subscribe(conversation_id, on_batch)

    async def health(self) -> dict[str, ComponentHealth]:
        """See :meth:`MessageHandler.health`; ``down`` while no engine is set."""
        if self.engine is None:
            return {"engine": ComponentHealth(status="down", detail="not started")}
        return await self.engine.health()


def create_app(
    settings: Settings,
    *,
    services: AppServices | None = None,
    engine: Engine | None = None,
    build: ServicesFactory | None = None,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    credentials: Credentials | None = None,
) -> FastAPI:
    """The whole web app for ``settings``; pass ``services`` (or only an ``engine``) built
    elsewhere, or ``build`` for the lifespan to build them (without either, the app serves
    its pages and reports the bot as not started).

    Besides ``channels``, the channels enabled in ``credentials`` (default: the project's
    ``credentials.yml``) are mounted; push channels send through an outbox started with
    the app (``app.state.outbox``) on the engine's database.
    """
    if services is None and engine is not None:
        services = EngineOnly(engine)
    slot = EngineSlot(services, TurnMetrics())
    adapters: dict[str, ChannelAdapter] = {}
    if credentials is None:
        credentials = load_credentials(settings.project_dir / "credentials.yml")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built: AppServices | None = None
        if slot.services is None and build is not None:
            from bot.startup import startup_lock

            async with startup_lock(settings):  # migrations and first-run imports: one process at a time
                built = await build(settings)  # heavy (models); only when serving
            slot.services = built
        running = slot.engine
        app.state.outbox = await start_outbox(running, adapters, credentials.outbox) if running else None
        recovery = None
        if built is not None:  # messages left unanswered (a crash, an outage), in the background

            def wake(message: InboundMessage) -> None:  # the recovered turn's replies are outbox rows
                channel = adapters.get(message.channel)
                if isinstance(channel, WebhookChannel):
                    channel.replies_stored()

            recovery = RecoveryLoop(built.engine, after=wake)
            recovery.start()
        retention = start_retention(settings, built.engine.store.engine) if built is not None else None
        reports = start_app_reports(settings, built, credentials) if built is not None else None
        automation = (  # rules' replies go out through the channels' outbox
            start_automation(settings, built, credentials, adapters, app.state.outbox)
            if built is not None
            else None
        )
        proactive = (  # reminders, greetings: sent first, once across processes
            start_app_proactive(settings, built, adapters, app.state.outbox) if built is not None else None
        )
        try:
            await app.state.console.start()  # console accounts; demo users in demo mode
            yield
        finally:
            if recovery is not None:
                await recovery.stop()
            if retention is not None:
                await retention.stop()
            if reports is not None:
                await reports.stop()
            if automation is not None:
                await automation.stop()
            if proactive is not None:
                await proactive.stop()
            await app.state.console.close()
            await close_workspace(app)  # the agent workspace's live poller
            for adapter in adapters.values():
                await adapter.close()
            if app.state.outbox is not None:
                await app.state.outbox.stop()
                app.state.outbox = None
            if built is not None:
                await built.engine.close()  # the engine closes everything it was built with
                slot.services = None
            await limiter.close()

    install_log_redaction()  # no phone, e-mail or search term in any log line (privacy/logs.py)
    app = FastAPI(
        title="Concierge", lifespan=lifespan, docs_url=None, redoc_url=None, responses=ERROR_RESPONSES
    )
    install_error_handlers(app)
    install_security(app)  # security headers, CSRF, sign-in redirects
    limiter = rate_limiter_from_url(settings.redis_url)  # Redis client: lazy, closed at shutdown
    install_limits(app, settings, limiter)  # client address, body sizes, rates per address (first)
    guard = ChatGuard.from_settings(settings, limiter)  # text length, sender rate, freshness
    adapters.update(
        mount_channels(
            app,
            slot,
            [*channels, *credentials.enabled()],
            settings,
            credentials,
            guard,
            staff=require_roles(*WORKSPACE_ROLES),  # staff-only channel routes (email attachments)
        )
    )
    app.state.disabled_channels = credentials.disabled()
    app.state.outbox = None
    app.state.settings = settings
    app.state.handler = slot
    app.state.turn_metrics = slot.turns
    app.state.channels = adapters
    app.state.console = ConsolePlatform(settings, slot)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health.router())
    app.include_router(pages.router())
    _include_console_routes(app)
    return app


def _include_console_routes(app: FastAPI) -> None:
    """The console's own routers (sign-in, users, audit, knowledge, analytics, workspace, clients)."""
    from console.routes import (
        analytics,
        audit,
        auth,
        automation,
        clients,
        home,
        knowledge_pages,
        media,
        metrics,
        privacy,
        proactive,
        users,
        workspace,
    )

    app.include_router(auth.router())
    app.include_router(home.router())
    app.include_router(users.router())
    app.include_router(audit.router())
    knowledge_pages.include(app)
    app.include_router(analytics.router())
    app.include_router(workspace.router())
    app.include_router(media.router())
    app.include_router(clients.router())
    app.include_router(privacy.router())
    app.include_router(metrics.router())
    app.include_router(automation.router())
    app.include_router(proactive.router())
