"""Shared test support for the WhatsApp channels: fixtures on disk, credentials, a served app,
and what the console does when an agent takes a conversation over and answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.requests import Request

from bot.channels.credentials import Credentials, parse_credentials
from bot.channels.registry import CHANNELS
from bot.channels.webhook import WebhookChannel
from bot.engine import Engine
from bot.events import UserUttered
from bot.loaders.yaml_io import parse_yaml_text
from bot.settings import Settings
from console.app import create_app
from handoff.service import EngineLog, HandoffService

from .helpers import agent_replies, conversation_of, serving

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAST_OUTBOX = """
outbox:
  base_delay: 0.05
  max_delay: 0.3
  poll_interval: 0.05
  max_attempts: 5
"""


def fixture_text(*parts: str) -> str:
    """A payload fixture's exact text (without the trailing newline editors add)."""
    return FIXTURES.joinpath(*parts).read_text(encoding="utf-8").strip()


def credentials_from(yaml_text: str, environ: Mapping[str, str]) -> Credentials:
    """Parse a credentials.yml text the way the app does, with ``environ`` for ``${VAR}``."""
    return parse_credentials(parse_yaml_text(yaml_text, "credentials.yml"), CHANNELS, environ=environ)


@dataclass
class Running:
    """The app on a real port, and what tests look at."""

    url: str
    app: FastAPI
    engine: Engine
    http: httpx.AsyncClient

    def channel(self, name: str) -> WebhookChannel:
        channel = self.app.state.channels[name]
        assert isinstance(channel, WebhookChannel)
        return channel

    async def settle(self, name: str) -> None:
        """Wait until accepted messages are processed and every queued reply is delivered or failed."""
        await self.channel(name).idle(within=60)
        await self.app.state.outbox.drain(within=30)

    async def client_texts(self, conversation_id: str) -> list[UserUttered]:
        return [e for e in await self.engine.store.events(conversation_id) if isinstance(e, UserUttered)]


@asynccontextmanager
async def running_app(trained: Settings, engine: Engine, credentials: Credentials) -> AsyncIterator[Running]:
    """``create_app`` with these credentials, served with its lifespan (outbox worker included)."""
    app = create_app(trained, engine=engine, credentials=credentials)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield Running(url, app, engine, http)


def blank_request(path: str) -> Request:
    """A bodiless POST to ``path``, for calling an adapter's ``parse`` directly."""
    return Request({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""})


async def claimed_by_agent(running: Running, conversation_id: str) -> None:
    """The conversation goes to the queue and agent Ola claims it."""
    service = HandoffService(EngineLog(running.engine))
    await service.request(conversation_id, "client asked for a person")
    await service.claim(conversation_id, "agent-ola")


async def agent_reply(running: Running, channel: str, client: str, text: str, **custom: object) -> None:
    """What the console does when Ola answers: the channel's checks, then her line and its outbox
    row in one transaction (:func:`agent_replies`)."""
    conversation = await conversation_of(running.engine, channel, client)
    await agent_replies(running.engine, running.app.state.channels, conversation, text, **custom)
