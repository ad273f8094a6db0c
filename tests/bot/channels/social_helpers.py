"""Test support for the Telegram, Messenger and Instagram channels.

The real app (``create_app``) on the real engine, with the channel configured the way a
project's ``credentials.yml`` would configure it and an outbox fast enough for tests; the
provider's stand-in served on its own loopback port; payload fixtures from ``fixtures/``.
:class:`MetaAccount` is what Messenger's and Instagram's tests share: the section, signing
and posting a webhook the way Meta does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from bot.channels.credentials import parse_credentials
from bot.channels.outbox import Outbox, OutboxRow
from bot.channels.registry import CHANNELS
from bot.channels.webhook import WebhookChannel
from bot.engine import Engine
from bot.settings import Settings
from console.app import create_app

from .helpers import serving
from .standins.graph import GraphStandIn

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# retries within a fraction of a second, so "fails twice then succeeds" runs quickly
FAST_OUTBOX = {"base_delay": 0.05, "max_delay": 0.3, "poll_interval": 0.05, "max_attempts": 5}


def fixture(provider: str, name: str) -> dict[str, Any]:
    """A provider payload from ``fixtures/<provider>/<name>.json``."""
    return json.loads((FIXTURES / provider / f"{name}.json").read_text(encoding="utf-8"))


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes a provider would post (what a signature covers)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


@dataclass
class Served:
    """The app on a loopback port, and ways to reach its channel and outbox."""

    app: FastAPI
    url: str
    engine: Engine

    def channel(self, name: str) -> WebhookChannel:
        channel = self.app.state.channels[name]
        assert isinstance(channel, WebhookChannel)
        return channel

    @property
    def outbox(self) -> Outbox:
        outbox = self.app.state.outbox
        assert outbox is not None, "the outbox did not start"
        return outbox

    async def settle(self, name: str) -> None:
        """Wait until accepted messages are processed and every queued reply is delivered or failed."""
        await self.channel(name).idle(30)
        await self.outbox.drain(within=30)

    async def rows(self, conversation_id: str) -> list[OutboxRow]:
        return await self.outbox.rows(conversation_id=conversation_id)


@asynccontextmanager
async def app_with(trained: Settings, engine: Engine, sections: dict[str, Any]) -> AsyncIterator[Served]:
    """The app with ``sections`` as its credentials.yml (plus a fast outbox), served."""
    credentials = parse_credentials({**sections, "outbox": FAST_OUTBOX}, CHANNELS, environ={})
    app = create_app(trained, engine=engine, credentials=credentials)
    async with serving(app) as url:
        yield Served(app, url, engine)


@asynccontextmanager
async def graph_served(access_token: str, platform: str) -> AsyncIterator[tuple[GraphStandIn, str]]:
    """The Send API stand-in for ``platform`` (``messenger`` or ``instagram``) and its URL."""
    standin = GraphStandIn(access_token, platform=platform)
    async with serving(standin.app) as url:
        yield standin, url


def sent_texts(standin: GraphStandIn) -> list[str]:
    """The text of every successful Send API call, in order (``""`` for attachments)."""
    return [body["message"].get("text", "") for body in standin.delivered]


@dataclass(frozen=True)
class MetaAccount:
    """A Messenger page or Instagram account as a test configures it and Meta calls it."""

    channel: str  # "messenger" or "instagram"
    access_token: str
    app_secret: str
    verify_token: str
    sender_id: str
    token_key: str = "access_token"  # Messenger's tests use Rasa's "page_access_token"

    @property
    def webhook(self) -> str:
        return f"/webhooks/{self.channel}/webhook"

    def section(self, api_url: str, **extra: Any) -> dict[str, Any]:
        """The channel's credentials.yml section, sending to the stand-in at ``api_url``."""
        return {
            self.token_key: self.access_token,
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
            "sender_id": self.sender_id,
            "api_base_url": api_url,
            **extra,
        }

    def sign(self, body: bytes, secret: str | None = None) -> str:
        """Meta's documented algorithm: HMAC-SHA256 of the raw body with the app secret, hex."""
        key = (secret if secret is not None else self.app_secret).encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    async def post(
        self, served: Served, payload: dict[str, Any], signature: str | None = "sign"
    ) -> httpx.Response:
        """POST ``payload`` to the channel's webhook, signed (or with ``signature``, or unsigned: None)."""
        body = body_of(payload)
        headers = {"content-type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = self.sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with httpx.AsyncClient(base_url=served.url) as client:
            return await client.post(self.webhook, content=body, headers=headers)
