"""Telegram on the real engine against a Bot API stand-in: secret token, parsing, inline keyboards,
retries, Telegram's errors, polling mode."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, Table, inspect, select

from bot.channels.base import PushChannel
from bot.channels.credentials import parse_credentials
from bot.channels.media import MediaNotFound
from bot.channels.registry import CHANNELS
from bot.channels.telegram import TelegramChannel, TelegramSection, callback_data
from bot.channels.telegram_updates import FILE_SCHEME, parse_update
from bot.engine import Engine
from bot.errors import BadPayload, ChannelError, ConfigError
from bot.events import BotUttered
from bot.models import Attachment, Button, OutboundMessage, VerifiedIdentity
from bot.settings import Settings

from .helpers import (
    HOURS,
    WELCOME,
    attachment_of,
    content_of,
    conversation_of,
    sender_of,
    serving,
    user_messages,
)
from .social_helpers import Served, app_with, body_of, fixture
from .standins.telegram import TelegramStandIn

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cr3t-token_for-our-webhook"
CHAT = "111222333"


async def conversation(engine: Engine) -> str:
    """The conversation of CHAT: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "telegram", CHAT)


WEBHOOK = "/webhooks/telegram/webhook"
KEYBOARD = {"inline_keyboard": [[{"text": "Opening hours", "callback_data": "/ask_hours"}]]}


@pytest.fixture
async def telegram_api() -> AsyncIterator[tuple[TelegramStandIn, str]]:
    standin = TelegramStandIn(TOKEN)
    async with serving(standin.app) as url:
        yield standin, url


def section(api_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "access_token": TOKEN,
        "secret_token": SECRET,
        "base_url": f"{api_url}/bot",
        "base_file_url": f"{api_url}/file/bot",
        **extra,
    }


@pytest.fixture
async def served(
    trained: Settings, engine: Engine, telegram_api: tuple[TelegramStandIn, str]
) -> AsyncIterator[Served]:
    async with app_with(trained, engine, {"telegram": section(telegram_api[1])}) as served:
        yield served


async def post(served: Served, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with httpx.AsyncClient(base_url=served.url) as client:
        return await client.post(WEBHOOK, content=body_of(update), headers=headers)


def sent_texts(standin: TelegramStandIn) -> list[str]:
    return [params["text"] for params in standin.sent("sendMessage")]


# ---- the must-shows ------------------------------------------------------------------------
async def test_an_update_with_the_secret_reaches_the_bot_and_the_reply_has_an_inline_keyboard(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    response = await post(served, fixture("telegram", "text"))
    assert response.status_code == 200
    await served.settle("telegram")

    # the exact Bot API call python-telegram-bot made: form fields, the keyboard JSON-encoded
    assert standin.sent("sendMessage") == [{"chat_id": CHAT, "text": WELCOME, "reply_markup": KEYBOARD}]
    call = next(c for c in standin.calls if c.method == "sendMessage")
    assert call.token == TOKEN and call.content_type.startswith("application/x-www-form-urlencoded")
    (stored,) = await user_messages(engine, await conversation(engine))
    assert stored.text == "hello" and stored.message_id == "update:840001"
    assert stored.metadata["unverified_contact"] == {"name": "Olena Koval"}  # a claim, not proof
    assert stored.metadata["telegram_username"] == "olena_k"
    (row,) = await served.rows(await conversation(engine))
    assert row.status == "sent" and row.provider_message_id == "101"


@pytest.mark.parametrize("secret", [None, "wrong-secret", SECRET + "x", ""])
async def test_a_request_without_the_right_secret_is_refused_and_changes_nothing(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine, secret: str | None
) -> None:
    standin, _ = telegram_api
    response = await post(served, fixture("telegram", "text"), secret=secret)
    assert response.status_code == 403
    assert "signature" in response.json()["message"]
    await served.settle("telegram")
    assert await engine.history(await conversation(engine)) == []
    assert standin.sent("sendMessage") == []
    assert served.channel("telegram").stats.refused == 1


async def test_the_same_update_delivered_twice_is_answered_once(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    update = fixture("telegram", "text")
    first, again = await post(served, update), await post(served, update)
    assert first.status_code == again.status_code == 200
    await served.settle("telegram")
    assert sent_texts(standin) == [WELCOME]
    assert [m.message_id for m in await user_messages(engine, await conversation(engine))] == [
        "update:840001"
    ]


async def test_a_send_that_fails_twice_then_succeeds_is_delivered_once(
    served: Served, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, _ = telegram_api
    standin.fail("sendMessage", 2, 500)
    await post(served, fixture("telegram", "text"))
    await served.settle("telegram")
    attempts = standin.sent("sendMessage")
    assert len(attempts) == 3 and all(a == attempts[0] for a in attempts)
    assert sent_texts(standin)[-1:] == [WELCOME]
    (row,) = await served.rows(await conversation(served.engine))
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert row.provider_message_id == "101"  # only the third call produced a message


async def test_a_429_waits_for_retry_after_before_sending_again(
    served: Served, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, _ = telegram_api
    standin.fail("sendMessage", 1, 429, retry_after=1)
    await post(served, fixture("telegram", "text"))
    started = time.monotonic()
    await served.settle("telegram")
    assert time.monotonic() - started >= 0.9
    (row,) = await served.rows(await conversation(served.engine))
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_client_who_blocked_the_bot_is_not_retried(
    served: Served, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, _ = telegram_api
    standin.fail("sendMessage", 5, 403)
    await post(served, fixture("telegram", "text"))
    await served.settle("telegram")
    assert len(standin.sent("sendMessage")) == 1
    (row,) = await served.rows(await conversation(served.engine))
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error is not None and "blocked" in row.last_error
    assert served.channel("telegram").health().status == "degraded"


async def test_a_round_trip_leaves_the_chat_id_only_where_addresses_live(
    served: Served,
    telegram_api: tuple[TelegramStandIn, str],
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The chat id is the client's address: it is in ``channel_addresses`` (and, as Telegram's
    proof of the sender, in the inbound journal and the client's identities), never in outbox
    rows, events, read models or the logs."""
    caplog.set_level(logging.DEBUG)
    standin, _ = telegram_api
    for name in ("text", "edited_message", "callback_query"):
        assert (await post(served, fixture("telegram", name))).status_code == 200
        await served.settle("telegram")
    assert sent_texts(standin) == [WELCOME, HOURS]
    rows = await served.rows(await conversation(engine))
    assert [r.provider_message_id for r in rows] == ["101", "102"] and all(r.status == "sent" for r in rows)
    original, edit, _press = await user_messages(engine, await conversation(engine))
    assert (original.metadata["telegram_message_id"], edit.metadata["edit_of"]) == ("17", "17")

    def tables(sync) -> list[Table]:  # type: ignore[no-untyped-def]
        metadata = MetaData()
        return [Table(name, metadata, autoload_with=sync) for name in inspect(sync).get_table_names()]

    holding: set[str] = set()
    async with engine.store.engine.connect() as conn:
        for table in await conn.run_sync(tables):
            for row in (await conn.execute(select(table))).all():
                if CHAT in json.dumps([str(v) for v in row]):
                    holding.add(table.name)
    # the journal keeps the raw message with Telegram's proof of the sender (recovery re-reads it;
    # retention: inbound_payload_days); profiles keep proven identities; nothing else has it
    assert "channel_addresses" in holding
    assert holding <= {"channel_addresses", "client_identities", "inbound_messages"}
    assert CHAT not in caplog.text and all(CHAT not in r.getMessage() for r in caplog.records)


# ---- inbound kinds -------------------------------------------------------------------------
async def test_an_inline_keyboard_press_is_acknowledged_and_answered(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    assert (await post(served, fixture("telegram", "callback_query"))).status_code == 200
    await served.settle("telegram")
    assert standin.sent("answerCallbackQuery") == [{"callback_query_id": "4382bfdwdsb323b2d9"}]
    assert sent_texts(standin) == [HOURS]
    (stored,) = await user_messages(engine, await conversation(engine))
    assert stored.text == "/ask_hours" and stored.metadata["title"] == "Opening hours"
    assert stored.parse_data.intent_name == "ask_hours"


async def test_an_edit_is_recorded_as_an_edit_and_not_answered_again(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    await post(served, fixture("telegram", "text"))
    await served.settle("telegram")
    await post(served, fixture("telegram", "edited_message"))
    await served.settle("telegram")
    assert sent_texts(standin) == [WELCOME]
    original, edit = await user_messages(engine, await conversation(engine))
    assert edit.text == "hello there"
    assert edit.metadata["edit_of"] == original.metadata["telegram_message_id"] == "17"
    assert edit.metadata["kind"] == "edit"
    assert [(e.sender, e.text) for e in await engine.history(await conversation(engine))][-1] == (
        "client",
        "hello there",
    )


async def test_a_sticker_gets_a_polite_reply_and_no_bot_turn(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    assert (await post(served, fixture("telegram", "sticker"))).status_code == 200
    await post(served, fixture("telegram", "sticker"))  # Telegram retrying it
    await served.settle("telegram")
    (reply,) = sent_texts(standin)
    assert reply.startswith("Sorry, I can't open this kind of message")
    assert await user_messages(engine, await conversation(engine)) == []


async def test_updates_that_are_not_messages_are_acknowledged_and_ignored(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    assert (await post(served, fixture("telegram", "my_chat_member"))).status_code == 200
    await served.settle("telegram")
    assert standin.sent("sendMessage") == [] and await engine.history(await conversation(engine)) == []


@pytest.mark.parametrize(
    ("name", "text", "attachment"),
    [
        (
            "photo",
            "is this shade available?",
            Attachment(kind="image", url=f"{FILE_SCHEME}AgACAgIAAxkBAAMLarge", mime_type="image/jpeg"),
        ),
        (
            "voice",
            None,
            Attachment(kind="audio", url=f"{FILE_SCHEME}AwACAgIAAxkBAAMVoice", mime_type="audio/ogg"),
        ),
        (
            "document",
            None,
            Attachment(
                kind="document",
                url=f"{FILE_SCHEME}BQACAgIAAxkBAAMDoc",
                mime_type="application/pdf",
                name="gift-voucher.pdf",
            ),
        ),
        (
            "video",
            None,
            Attachment(
                kind="video",
                url=f"{FILE_SCHEME}BAACAgIAAxkBAAMVideo",
                mime_type="video/mp4",
                name="nails.mp4",
            ),
        ),
        ("location", None, Attachment(kind="location", latitude=50.4501, longitude=30.5234)),
        ("contact", None, Attachment(kind="contact", name="Olena Koval", url="tel:+380671234567")),
    ],
)
def test_media_locations_and_contacts_become_attachments(
    name: str, text: str | None, attachment: Attachment
) -> None:
    (message,) = parse_update(fixture("telegram", name)).messages
    assert message.channel == "telegram" and message.sender_id == CHAT
    assert message.text == text
    assert message.attachments == [attachment]


def test_a_shared_contact_is_the_clients_phone_only_when_it_is_their_own() -> None:
    (own,) = parse_update(fixture("telegram", "contact")).messages
    (other,) = parse_update(fixture("telegram", "contact_of_someone_else")).messages
    sender = VerifiedIdentity(kind="telegram", value=CHAT, proof="provider")
    assert own.identities == [sender, VerifiedIdentity(kind="phone", value="+380671234567", proof="provider")]
    assert other.identities == [sender]  # someone else's card proves nothing about the sender
    assert other.attachments[0].url == "tel:+380501112233"


@pytest.mark.parametrize("payload", [[], {"message": {}}, {"update_id": "7"}, {"update_id": 1, "message": 5}])
def test_a_body_that_is_not_an_update_is_a_bad_payload(payload: object) -> None:
    with pytest.raises(BadPayload):
        parse_update(payload)


async def test_a_malformed_but_authentic_body_gets_400_and_nothing_is_stored(
    served: Served, engine: Engine
) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        response = await client.post(
            WEBHOOK, content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert response.status_code == 400 and "JSON" in response.json()["message"]
    assert await engine.history(await conversation(engine)) == []


async def test_the_console_can_fetch_an_attachment_through_get_file(
    served: Served, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, api_url = telegram_api
    standin.files["BQACAgIAAxkBAAMDoc"] = b"%PDF-1.4 voucher"
    channel = served.channel("telegram")
    assert isinstance(channel, TelegramChannel)
    url = await channel.file_url(f"{FILE_SCHEME}BQACAgIAAxkBAAMDoc")
    assert url == f"{api_url}/file/bot{TOKEN}/documents/BQACAgIAAxkBAAMDoc"
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).content == b"%PDF-1.4 voucher"
    assert standin.sent("getFile") == [{"file_id": "BQACAgIAAxkBAAMDoc"}]


async def test_a_client_s_photo_is_fetched_for_the_console_with_get_file_and_the_download(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    standin.files["AgACAgIAAxkBAAMLarge"] = b"\xff\xd8\xff\xe0 nails, large"
    await post(served, fixture("telegram", "photo"))
    await served.settle("telegram")
    (photo,) = await user_messages(engine, await conversation(engine))
    channel = served.channel("telegram")
    assert isinstance(channel, TelegramChannel)
    fetched = await channel.fetch_media(attachment_of(photo))
    assert (await content_of(fetched), fetched.mime_type) == (b"\xff\xd8\xff\xe0 nails, large", "image/jpeg")
    assert standin.sent("getFile") == [{"file_id": "AgACAgIAAxkBAAMLarge"}]
    with pytest.raises(ChannelError, match="Invalid file_id"):
        await channel.fetch_media(Attachment(kind="audio", url=f"{FILE_SCHEME}AwACAgIAAxkBAAMGone"))
    with pytest.raises(MediaNotFound):
        await channel.fetch_media(Attachment(kind="image", url="https://example.com/photo.jpg"))


# ---- outbound rendering --------------------------------------------------------------------
async def test_an_image_goes_as_send_photo_with_the_text_as_caption_and_the_buttons(
    served: Served, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, _ = telegram_api
    channel = served.channel("telegram")
    await channel.send(
        OutboundMessage(
            channel="telegram",
            recipient_id=await sender_of(served.engine, "telegram", CHAT),
            text="Our new studio",
            image="https://example.com/studio.jpg",
            buttons=[Button(title="Opening hours", payload="/ask_hours")],
            sender="agent",
        )
    )
    await served.settle("telegram")
    assert standin.sent("sendPhoto") == [
        {
            "chat_id": CHAT,
            "photo": "https://example.com/studio.jpg",
            "caption": "Our new studio",
            "reply_markup": KEYBOARD,
        }
    ]
    assert standin.sent("sendMessage") == []


async def test_a_long_text_after_a_photo_is_its_own_send_so_a_retry_never_repeats_the_photo(
    served: Served, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, _ = telegram_api
    standin.fail("sendMessage", 2, 500)
    text = "Our new studio. " * 100  # longer than a caption may be
    await served.channel("telegram").send(
        OutboundMessage(
            channel="telegram",
            recipient_id=await sender_of(served.engine, "telegram", CHAT),
            text=text,
            image="https://example.com/studio.jpg",
            buttons=[Button(title="Opening hours", payload="/ask_hours")],
            sender="agent",
        )
    )
    await served.settle("telegram")
    assert standin.sent("sendPhoto") == [{"chat_id": CHAT, "photo": "https://example.com/studio.jpg"}]
    assert standin.sent("sendMessage") == [{"chat_id": CHAT, "text": text, "reply_markup": KEYBOARD}] * 3
    rows = await served.rows(await conversation(served.engine))
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 3)]


async def test_a_payload_longer_than_64_bytes_travels_hashed_and_comes_back_whole(
    served: Served, telegram_api: tuple[TelegramStandIn, str], engine: Engine
) -> None:
    standin, _ = telegram_api
    long_payload = '/ask_hours{"studio": "Podil, Kyiv", "service": "manicure and pedicure deluxe"}'
    assert len(long_payload.encode()) > 64 and callback_data(long_payload) != long_payload
    assert len(callback_data(long_payload).encode()) <= 64
    # the bot offered the button earlier (it is in the conversation's log)
    await post(served, fixture("telegram", "text"))
    await served.settle("telegram")
    await engine.append(
        await conversation(engine),
        [BotUttered(text="Pick one", data={"buttons": [{"title": "Book", "payload": long_payload}]})],
    )
    press = fixture("telegram", "callback_query")
    press["update_id"] = 840099
    press["callback_query"]["data"] = callback_data(long_payload)
    await post(served, press)
    await served.settle("telegram")
    stored = (await user_messages(engine, await conversation(engine)))[-1]
    assert stored.text == long_payload
    assert sent_texts(standin)[-1] == HOURS


# ---- configuration and lifecycle -----------------------------------------------------------
def test_webhook_mode_needs_a_secret_token() -> None:
    credentials = parse_credentials({"telegram": {"access_token": TOKEN}}, CHANNELS, environ={})
    with pytest.raises(ConfigError, match="secret_token"):
        TelegramChannel.from_credentials(credentials.section("telegram"), None)
    polling = TelegramChannel.from_credentials({"access_token": TOKEN, "mode": "polling"}, None)
    assert isinstance(polling, PushChannel) and polling.config.mode == "polling"


def test_an_unset_token_leaves_the_channel_off() -> None:
    credentials = parse_credentials(
        {"telegram": {"access_token": "${TELEGRAM_TOKEN}", "secret_token": "${TELEGRAM_SECRET}"}},
        CHANNELS,
        environ={},
    )
    assert credentials.enabled() == []
    assert "TELEGRAM_TOKEN" in credentials.disabled()["telegram"]


async def test_with_a_public_url_the_webhook_is_registered_with_the_secret(
    trained: Settings, engine: Engine, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, api_url = telegram_api
    hook = "https://bot.mariia-hub.example/webhooks/telegram/webhook"
    public = {"public_url": "https://bot.mariia-hub.example/"}
    async with app_with(trained, engine, {"telegram": section(api_url, **public)}):
        for _ in range(200):
            if standin.sent("setWebhook"):
                break
            await asyncio.sleep(0.02)
    (params,) = standin.sent("setWebhook")
    assert params == {
        "url": hook,
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }


async def test_polling_mode_reads_updates_and_confirms_them_only_once_stored(
    trained: Settings, engine: Engine, telegram_api: tuple[TelegramStandIn, str]
) -> None:
    standin, api_url = telegram_api
    standin.webhook_url = "https://old.example/hook"  # polling must delete it first
    sections = {"telegram": {**section(api_url, mode="polling", poll_timeout=1), "secret_token": ""}}
    async with app_with(trained, engine, sections) as served:
        standin.push_update(fixture("telegram", "text"))
        for _ in range(500):
            if standin.sent("sendMessage"):
                break
            await asyncio.sleep(0.02)
        await served.settle("telegram")
        assert sent_texts(standin) == [WELCOME]
        assert standin.webhook_url == "" and len(standin.sent("deleteWebhook")) == 1
        # the next long poll confirms the update (offset = its id + 1), so Telegram forgets it
        for _ in range(200):
            if any(p.get("offset") == "840002" for p in standin.sent("getUpdates")):
                break
            await asyncio.sleep(0.02)
        assert standin.sent("getUpdates")[0].get("offset") is None
        assert any(p.get("offset") == "840002" for p in standin.sent("getUpdates"))
        # with no secret configured, nobody can post updates to the webhook route
        assert (await post(served, fixture("telegram", "text"), secret="")).status_code == 403
    (stored,) = await user_messages(engine, await conversation(engine))
    assert stored.message_id == "update:840001"


def test_telegram_defaults_follow_its_documented_rate() -> None:
    config = TelegramSection(access_token=TOKEN, secret_token=SECRET)
    assert config.rate_limit.per_second <= 30
