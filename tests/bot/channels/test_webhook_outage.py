"""A webhook acknowledged while Redis is away is answered once Redis is back: the message was
stored before the 200, and the server's recovery sweep runs its turn when the conversation
locks work again. Telegram against its Bot API stand-in, with the test's own redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.channels.addresses import AddressBook
from bot.channels.credentials import parse_credentials
from bot.channels.registry import CHANNELS
from bot.events import UserUttered
from bot.settings import Settings
from bot.store import EventStore
from concierge.serve import create_app
from tests.redis_server import own_redis

from .helpers import WELCOME, serving
from .social_helpers import FAST_OUTBOX, body_of, fixture
from .standins.telegram import TelegramStandIn

pytestmark = [pytest.mark.redis, pytest.mark.timeout(600)]

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cr3t-token_for-our-webhook"
CHAT = "111222333"  # the fixture's chat: its conversation id is derived (bot.channels.addresses)
GUARD = 90.0  # seconds to wait for the recovery sweep (every 5 s, for messages older than 10 s)


@pytest.fixture
async def telegram_api() -> AsyncIterator[tuple[TelegramStandIn, str]]:
    standin = TelegramStandIn(TOKEN)
    async with serving(standin.app) as url:
        yield standin, url


async def test_an_update_acknowledged_during_a_redis_outage_is_answered_after_it(
    trained: Settings, tmp_path: Path, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, api_url = telegram_api
    section = {
        "access_token": TOKEN,
        "secret_token": SECRET,
        "base_url": f"{api_url}/bot",
        "base_file_url": f"{api_url}/file/bot",
    }
    credentials = parse_credentials({"telegram": section, "outbox": FAST_OUTBOX}, CHANNELS, environ={})
    async with own_redis() as redis:
        settings = trained.model_copy(update={"state_dir": tmp_path, "redis_url": redis.url})
        async with (
            serving(create_app(settings, credentials=credentials)) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            await redis.stop()
            assert (await client.get("/health")).status_code == 503
            headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
            posted = await client.post(
                "/webhooks/telegram/webhook", content=body_of(fixture("telegram", "text")), headers=headers
            )
            assert posted.status_code == 200  # stored durably: Telegram will not send it again
            await asyncio.sleep(1.0)  # the background turn fails meanwhile: no lock without Redis
            assert standin.sent("sendMessage") == []

            await redis.start()
            async with asyncio.timeout(GUARD):
                while not standin.sent("sendMessage"):  # noqa: ASYNC110  # another server's record
                    await asyncio.sleep(0.2)
            assert [p["text"] for p in standin.sent("sendMessage")] == [WELCOME]
            assert (await client.get("/health")).status_code == 200
    store = EventStore.from_url(settings.resolved_database_url())
    try:
        conversation = await AddressBook(store.engine).conversation_id("telegram", CHAT)
        stored = [e for e in await store.events(conversation) if isinstance(e, UserUttered)]
        assert [e.text for e in stored] == ["hello"]  # stored once, answered once
    finally:
        await store.close()
