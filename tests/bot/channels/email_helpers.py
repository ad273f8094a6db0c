"""Test support for the email channel: fixture mails, its credentials section, the app serving it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from bot.channels.credentials import Credentials, parse_credentials
from bot.channels.email import EmailChannel
from bot.channels.registry import CHANNELS
from bot.engine import Engine
from bot.settings import Settings
from console.app import create_app

from .email_servers import Dovecot
from .helpers import serving

FIXTURES = Path(__file__).resolve().parent / "email_fixtures"
ADDRESS = "hello@mariia-hub.test"
WEBHOOK_USER = "inbound"
WEBHOOK_PASSWORD = "webhook-secret-1234"
SENT_AT = datetime(2026, 11, 23, 8, 16, tzinfo=UTC)


def fixture_mail(name: str, **replacements: str) -> bytes:
    """A fixture ``.eml`` with ``{KEY}`` placeholders replaced."""
    raw = (FIXTURES / name).read_bytes()
    for key, value in replacements.items():
        raw = raw.replace(b"{" + key.encode() + b"}", value.encode())
    return raw


def our_id(number: int) -> str:
    """The Message-ID the channel makes for its ``number``-th mail in tests."""
    return f"<concierge.{number:032x}@mariia-hub.test>"


def email_credentials(
    *,
    smtp_port: int,
    imap: Dovecot | None = None,
    webhook: bool = True,
    **options: Any,
) -> Credentials:
    """A ``credentials.yml`` with an ``email:`` section for local servers and a fast outbox."""
    section: dict[str, Any] = {
        "address": ADDRESS,
        "from_name": "Mariia Hub",
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "timeout": 5},
        **options,
    }
    if imap is not None:
        section["imap"] = {
            "host": imap.host,
            "port": imap.port,
            "ssl": False,
            "username": imap.user,
            "password": imap.password,
            "poll_interval": 0.2,
            "timeout": 5,
        }
    if webhook:
        section["inbound_webhook"] = {"username": WEBHOOK_USER, "password": WEBHOOK_PASSWORD}
    data = {"email": section, "outbox": {"base_delay": 0.05, "max_delay": 0.2, "poll_interval": 0.05}}
    return parse_credentials(data, CHANNELS, environ={})


@asynccontextmanager
async def email_app(
    trained: Settings, engine: Engine, state_dir: Path, credentials: Credentials
) -> AsyncIterator[tuple[str, FastAPI, EmailChannel]]:
    """The app with the email channel, served on a free port; its Message-IDs and Date are fixed."""
    settings = trained.model_copy(update={"state_dir": state_dir})
    app = create_app(settings, engine=engine, credentials=credentials)
    channel = app.state.channels["email"]
    assert isinstance(channel, EmailChannel)
    numbers = itertools.count(1)
    channel.make_message_id = lambda _key: our_id(next(numbers))
    channel.clock = lambda: SENT_AT
    async with serving(app) as url:
        yield url, app, channel


async def post_mail(
    url: str, raw: bytes, *, auth: tuple[str, str] | None = (WEBHOOK_USER, WEBHOOK_PASSWORD)
) -> httpx.Response:
    """POST ``raw`` like SendGrid Inbound Parse (raw MIME on): a multipart form, ``email`` field."""
    fields = {
        "to": (None, ADDRESS.encode()),
        "from": (None, b"someone"),
        "envelope": (None, b'{"to":["hello@mariia-hub.test"],"from":"someone@example.com"}'),
        "email": (None, raw),
    }
    async with httpx.AsyncClient(base_url=url, auth=auth) as client:
        return await client.post("/webhooks/email/webhook", files=fields)


async def wait_until(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Poll ``check`` until true; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def settle(channel: EmailChannel) -> None:
    """Wait until accepted mails are processed and their replies sent (or given up)."""
    await channel.idle()
    assert channel.outbox is not None
    await channel.outbox.drain(within=30)
