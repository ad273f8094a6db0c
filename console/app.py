"""The FastAPI app factory: channels, static widget, demo page, console shell, health.

``create_app(settings)`` wires nothing at import time. Given an ``engine`` (tests, the
CLI's own), the app uses it; otherwise its lifespan builds one with
``bot.engine.build_engine(settings)``, processes messages left unprocessed by a crash,
and closes the engine at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.channels.base import ChannelAdapter, MessageHandler
from bot.channels.registry import mount_channels
from bot.models import ComponentHealth, InboundMessage, OutboundMessage, TranscriptEntry
from bot.settings import Settings
from console.errors import install_error_handlers
from console.routes import health, pages

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_CHANNELS = ("rest", "widget")


class EngineSlot:
    """The engine the routes talk to, filled by the lifespan when the app builds its own.

    Channels are mounted when the app is created, before an engine exists; they hold
    this slot and reach the engine through it.
    """

    def __init__(self, engine: MessageHandler | None = None) -> None:
        self.engine = engine

    def _get(self) -> MessageHandler:
        if self.engine is None:
            raise RuntimeError("the engine is not started yet")
        return self.engine

    async def receive(self, message: InboundMessage) -> bool:
        """See :meth:`MessageHandler.receive`."""
        return await self._get().receive(message)

    async def process(self, message: InboundMessage) -> list[OutboundMessage]:
        """See :meth:`MessageHandler.process`."""
        return await self._get().process(message)

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]:
        """See :meth:`MessageHandler.handle`."""
        return await self._get().handle(message)

    async def history(self, conversation_id: str, after_seq: int | None = None) -> list[TranscriptEntry]:
        """See :meth:`MessageHandler.history`."""
        return await self._get().history(conversation_id, after_seq=after_seq)

    def subscribe(self, conversation_id: str) -> AsyncIterator[TranscriptEntry]:
        """See :meth:`MessageHandler.subscribe`."""
        return self._get().subscribe(conversation_id)

    async def health(self) -> dict[str, ComponentHealth]:
        """See :meth:`MessageHandler.health`; ``down`` while no engine is set."""
        if self.engine is None:
            return {"engine": ComponentHealth(status="down", detail="not started")}
        return await self.engine.health()


def create_app(
    settings: Settings,
    *,
    engine: MessageHandler | None = None,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> FastAPI:
    """The whole web app for ``settings``; pass ``engine`` to use one built elsewhere."""
    slot = EngineSlot(engine)
    adapters: dict[str, ChannelAdapter] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = None
        if slot.engine is None:
            from bot.engine import build_engine  # heavy (models); only when serving

            built = await build_engine(settings)
            slot.engine = built
            recovered = await built.recover()
            if recovered:
                log.warning("processed %d message(s) stored before a restart", recovered)
        try:
            yield
        finally:
            for adapter in adapters.values():
                await adapter.close()
            if built is not None:
                await built.close()
                slot.engine = None

    app = FastAPI(title="Concierge", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    adapters.update(mount_channels(app, slot, channels, settings))
    app.state.settings = settings
    app.state.handler = slot
    app.state.channels = adapters
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health.router())
    app.include_router(pages.router())
    return app
