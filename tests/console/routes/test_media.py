"""``GET /api/media/...``: a client's files, fetched from the provider for a signed-in agent.

The real app and engine (the small channel test bot) with WhatsApp (Cloud API) and Telegram
configured against their stand-ins, which serve media the way the providers document; the
client's messages arrive through the signed webhooks, as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.channels.media import MAX_MEDIA_BYTES, MediaTooLarge
from bot.engine import Engine
from bot.settings import Settings
from console.routes.media import capped
from tests.bot.channels.helpers import conversation_of, real_engine, serving, train_widget_bot
from tests.bot.channels.social_helpers import MetaAccount, Served, app_with, body_of, fixture
from tests.bot.channels.standins.graph import MediaFile
from tests.bot.channels.standins.telegram import TelegramStandIn
from tests.bot.channels.standins.whatsapp_cloud import CloudApiStandIn
from tests.console.conftest import add_user, sign_in

TOKEN = "EAAG-cloud-api-token-for-tests"
WHATSAPP = MetaAccount("whatsapp_cloud", TOKEN, "meta-app-secret-for-tests", "verify-token-for-tests", "")
PHONE_ID = "106540352242922"
CLIENT = "48601234567"  # the fixtures' wa_id


async def conversation(engine: Engine) -> str:
    """The conversation of CLIENT: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "whatsapp_cloud", CLIENT)


PHOTO, VOUCHER = "1003383421387256", "1303383421388111"  # the media ids in the fixtures
JPEG = b"\xff\xd8\xff\xe0 my nails after the visit"
TELEGRAM_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM_SECRET = "s3cr3t-token_for-our-webhook"


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


@pytest.fixture
async def engine(trained: Settings, tmp_path: Path) -> AsyncIterator[Engine]:
    async with real_engine(trained, tmp_path) as engine:
        yield engine


@pytest.fixture
async def providers() -> AsyncIterator[tuple[CloudApiStandIn, TelegramStandIn, str, str]]:
    meta, telegram = CloudApiStandIn(TOKEN, PHONE_ID), TelegramStandIn(TELEGRAM_TOKEN)
    async with serving(meta.app) as meta_url, serving(telegram.app) as telegram_url:
        yield meta, telegram, meta_url, telegram_url


@pytest.fixture
async def served(
    trained: Settings, engine: Engine, providers: tuple[CloudApiStandIn, TelegramStandIn, str, str]
) -> AsyncIterator[Served]:
    _, _, meta_url, telegram_url = providers
    sections: dict[str, Any] = {
        "whatsapp_cloud": {
            "phone_number_id": PHONE_ID,
            "access_token": TOKEN,
            "app_secret": WHATSAPP.app_secret,
            "verify_token": WHATSAPP.verify_token,
            "api_base_url": meta_url,
        },
        "telegram": {
            "access_token": TELEGRAM_TOKEN,
            "secret_token": TELEGRAM_SECRET,
            "base_url": f"{telegram_url}/bot",
            "base_file_url": f"{telegram_url}/file/bot",
        },
    }
    async with app_with(trained, engine, sections) as served:
        platform = await served.app.state.console.ready()
        await add_user(platform, "anna.kowalska", "agent", agent_id="anna.kowalska")
        await add_user(platform, "ewa", "editor")
        yield served


async def client_seqs(engine: Engine, conversation_id: str) -> list[int]:
    return [e.seq for e in await engine.history(conversation_id) if e.sender == "client"]


@asynccontextmanager
async def signed_in(served: Served, username: str = "anna.kowalska") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url) as client:
        await sign_in(client, username)
        yield client


async def test_an_agent_sees_a_photo_inline_and_gets_a_document_as_a_download(
    served: Served, engine: Engine, providers: tuple[CloudApiStandIn, TelegramStandIn, str, str]
) -> None:
    meta = providers[0]
    meta.media[PHOTO] = MediaFile(JPEG, "image/jpeg")
    meta.media[VOUCHER] = MediaFile(b"%PDF-1.4 gift voucher", "application/pdf")
    for name in ("image", "document"):
        assert (await WHATSAPP.post(served, fixture("whatsapp_cloud", name))).status_code == 200
    await served.settle("whatsapp_cloud")
    photo, voucher = await client_seqs(engine, await conversation(engine))
    async with signed_in(served) as client:
        image = await client.get(f"/api/media/whatsapp_cloud/{await conversation(engine)}/{photo}/0")
        document = await client.get(f"/api/media/whatsapp_cloud/{await conversation(engine)}/{voucher}/0")
    assert image.status_code == 200 and image.content == JPEG
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["content-disposition"] == "inline"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in image.headers["content-security-policy"]
    assert document.status_code == 200 and document.content == b"%PDF-1.4 gift voucher"
    assert document.headers["content-type"] == "application/pdf"
    assert document.headers["content-disposition"].startswith('attachment; filename="voucher.pdf"')
    assert TOKEN not in image.text + document.text + str(image.headers) + str(document.headers)


async def test_a_file_that_could_run_script_is_never_shown_inline(
    served: Served, engine: Engine, providers: tuple[CloudApiStandIn, TelegramStandIn, str, str]
) -> None:
    providers[0].media[PHOTO] = MediaFile(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"
    )
    await WHATSAPP.post(served, fixture("whatsapp_cloud", "image"))
    await served.settle("whatsapp_cloud")
    [seq] = await client_seqs(engine, await conversation(engine))
    async with signed_in(served) as client:
        response = await client.get(f"/api/media/whatsapp_cloud/{await conversation(engine)}/{seq}/0")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_telegram_files_come_through_get_file_with_the_type_recorded_with_the_message(
    served: Served, engine: Engine, providers: tuple[CloudApiStandIn, TelegramStandIn, str, str]
) -> None:
    telegram = providers[1]
    telegram.files["AwACAgIAAxkBAAMVoice"] = b"OggS voice note"
    headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    async with httpx.AsyncClient(base_url=served.url) as client:
        posted = await client.post(
            "/webhooks/telegram/webhook", content=body_of(fixture("telegram", "voice")), headers=headers
        )
    assert posted.status_code == 200
    await served.settle("telegram")
    chat = await conversation_of(engine, "telegram", "111222333")
    [seq] = await client_seqs(engine, chat)
    async with signed_in(served) as client:
        response = await client.get(f"/api/media/telegram/{chat}/{seq}/0")
    assert response.status_code == 200 and response.content == b"OggS voice note"
    assert response.headers["content-type"] == "audio/ogg"  # Telegram itself says octet-stream
    assert response.headers["content-disposition"].startswith('attachment; filename="telegram-')


async def test_what_is_not_there_is_404_and_a_provider_failure_is_502_with_a_reason(
    served: Served, engine: Engine, providers: tuple[CloudApiStandIn, TelegramStandIn, str, str]
) -> None:
    meta = providers[0]
    await WHATSAPP.post(served, fixture("whatsapp_cloud", "image"))
    await WHATSAPP.post(served, fixture("whatsapp_cloud", "location"))
    await served.settle("whatsapp_cloud")
    photo, place = await client_seqs(engine, await conversation(engine))
    bot_line = next(e.seq for e in await engine.history(await conversation(engine)) if e.sender == "bot")
    async with signed_in(served) as client:
        for path in (
            f"whatsapp_cloud/{await conversation(engine)}/{photo}/1",  # the message has one file
            f"whatsapp_cloud/{await conversation(engine)}/{bot_line}/0",  # not a client message
            f"whatsapp_cloud/{await conversation(engine)}/{place}/0",  # a location is not a file
            f"whatsapp_cloud/{await conversation(engine)}/999/0",
            f"whatsapp_cloud/telegram:111222333/{photo}/0",  # another channel's conversation
            f"widget/widget:abc/{photo}/0",  # the widget fetches nothing
        ):
            response = await client.get(f"/api/media/{path}")
            assert response.status_code == 404, path
            assert response.json()["error"] == "not_found"

        expired = await client.get(
            f"/api/media/whatsapp_cloud/{await conversation(engine)}/{photo}/0"
        )  # Meta forgot it
        assert expired.status_code == 502 and expired.json()["error"] == "provider_error"
        assert "does not exist" in expired.json()["message"]

        meta.media[PHOTO] = MediaFile(b"\0" * (25 * 1024 * 1024 + 1), "image/jpeg")
        huge = await client.get(f"/api/media/whatsapp_cloud/{await conversation(engine)}/{photo}/0")
        assert huge.status_code == 502 and huge.json()["error"] == "media_too_large"
        assert "25 MB" in huge.json()["message"]


async def test_only_the_workspace_roles_may_fetch_files(served: Served) -> None:
    path = f"/api/media/whatsapp_cloud/{await conversation(served.engine)}/1/0"
    async with httpx.AsyncClient(base_url=served.url) as anonymous:
        assert (await anonymous.get(path)).status_code == 401
    async with signed_in(served, "ewa") as editor:
        assert (await editor.get(path)).status_code == 403


async def test_a_stream_longer_than_it_declared_is_cut_off_at_the_cap_and_closed() -> None:
    closed: list[bool] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"\0" * (1024 * 1024)
        finally:
            closed.append(True)

    received = 0
    with pytest.raises(MediaTooLarge):
        async for chunk in capped(endless(), "Twilio"):
            received += len(chunk)
    assert received == MAX_MEDIA_BYTES and closed == [True]
