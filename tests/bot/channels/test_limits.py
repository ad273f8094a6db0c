"""Bounded input on every channel: text length, body size, rates, webhook freshness.

The real engine on the small test bot, inside the real app (``create_app``); REST with its
bearer token, the widget over a real socket, provider webhooks signed (or carrying the
secret) exactly as the providers send them, with the dates rewritten to the case at hand.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.channels.limits import TRUNCATED, ChatGuard, guess_language, pseudonym, too_long_notice
from bot.engine import Engine
from bot.models import InboundMessage
from bot.settings import Settings
from console.app import create_app

from .helpers import WELCOME, conversation_of, serving, user_messages
from .social_helpers import MetaAccount, app_with, body_of, fixture, graph_served
from .standins.telegram import TelegramStandIn
from .standins.whatsapp_cloud import CloudApiStandIn

TOKEN = "rest-token-for-the-limits-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
REST = "/webhooks/rest/webhook"
LONG_WORD = "a" * 150_000
WORD_60K = "a" * 60_000
TEN_MB = 10 * 1024 * 1024
STALE = datetime(2019, 6, 1, 12, 0, tzinfo=UTC)  # a signed body from 2019, with a new id


def chat_settings(trained: Settings, **changes: Any) -> Settings:
    """The test bot's settings with the REST token and the production limits unless changed."""
    defaults = Settings(project_dir=trained.project_dir)
    values: dict[str, Any] = {
        "rest_token": SecretStr(TOKEN),
        "webhook_max_age_hours": defaults.webhook_max_age_hours,
        "chat_per_ip_per_minute": defaults.chat_per_ip_per_minute,
        "chat_per_sender_per_minute": defaults.chat_per_sender_per_minute,
    }
    return trained.model_copy(update={**values, **changes})


@asynccontextmanager
async def served_app(settings: Settings, engine: Engine) -> AsyncIterator[tuple[FastAPI, str]]:
    app = create_app(settings, engine=engine)
    async with serving(app) as url:
        yield app, url


def in_process(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=30)


async def say(client: httpx.AsyncClient, sender: str, text: str) -> httpx.Response:
    return await client.post(REST, json={"sender": sender, "message": text}, headers=BEARER)


# ---- the guard itself ----------------------------------------------------------------------
def test_a_long_text_is_cut_marked_and_the_notice_speaks_the_clients_language() -> None:
    guard = ChatGuard(max_chars=10)
    short = InboundMessage(channel="rest", sender_id="a", text="hello")
    assert guard.bound(short) == (short, False)
    cut, was_cut = guard.bound(InboundMessage(channel="rest", sender_id="a", text="x" * 25))
    assert was_cut and cut.text == "x" * 10 and cut.metadata[TRUNCATED] == "25"
    assert guess_language("Dzień dobry, chciałabym") == "pl"
    assert guess_language("Добрий день, скільки") == "uk"
    assert guess_language("Добрый день, сколько") == "ru"
    assert "4,000" in too_long_notice("hello " * 1000, 4000)
    assert too_long_notice("Dzień dobry " * 500, 4000).startswith("Twoja wiadomość")


def test_freshness_window_refuses_old_and_future_dates() -> None:
    guard = ChatGuard(max_age=timedelta(hours=24))
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert not guard.stale(now - timedelta(hours=23), now)
    assert guard.stale(now - timedelta(hours=25), now)
    assert guard.stale(STALE, now)
    assert guard.stale(now + timedelta(hours=1), now)  # beyond the clock skew we allow
    assert not guard.stale(now + timedelta(minutes=1), now)


# ---- REST: text length and body size ---------------------------------------------------------
async def test_a_long_word_is_stored_cut_and_the_client_is_told(trained: Settings, engine: Engine) -> None:
    """A 60k-character word (a 60 KB body, under REST's 64 KB) is cut to 4,000 characters."""
    app = create_app(chat_settings(trained), engine=engine)
    async with in_process(app) as client:
        response = await say(client, "long-word", WORD_60K)
    assert response.status_code == 200, response.text
    replies = response.json()
    assert replies[0]["text"] == too_long_notice(WORD_60K, 4000)
    assert len(replies) > 1  # the bot still answers what it could read
    [stored] = await user_messages(engine, "rest:long-word")
    assert stored.text == "a" * 4000
    assert stored.metadata[TRUNCATED] == "60000"


async def test_a_150k_character_word_over_rest_is_refused_with_413(trained: Settings, engine: Engine) -> None:
    app = create_app(chat_settings(trained), engine=engine)
    async with in_process(app) as client:
        response = await say(client, "longer-word", LONG_WORD)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert response.json()["message"] == "The request body is over the limit of 64 KB for this address."
    assert await user_messages(engine, "rest:longer-word") == []


async def test_a_10_mb_body_is_refused_with_413_and_nothing_is_stored(
    trained: Settings, engine: Engine
) -> None:
    app = create_app(chat_settings(trained), engine=engine)
    body = json.dumps({"sender": "big-body", "message": "b" * TEN_MB}).encode()

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    async with in_process(app) as client:
        headers = {**BEARER, "content-type": "application/json"}
        declared = await client.post(REST, content=body, headers=headers)
        chunked = await client.post(REST, content=streamed(), headers=headers)
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"
        assert "64 KB" in response.json()["message"]
    assert await user_messages(engine, "rest:big-body") == []


async def test_a_bystanders_hello_is_answered_while_huge_messages_arrive(
    trained: Settings, engine: Engine
) -> None:
    """Six 60k-character words (cut and answered), six 150k-character ones and two 10 MB
    bodies (refused) at once; an unrelated "hello" still gets its answer (a generous
    timeout, no speed assertion)."""
    settings = chat_settings(trained, chat_per_ip_per_minute=0, chat_per_sender_per_minute=0)
    async with served_app(settings, engine) as (_app, url):
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:

            async def huge_body(n: int) -> int:
                body = json.dumps({"sender": f"flood-body-{n}", "message": "c" * TEN_MB}).encode()
                try:
                    r = await client.post(
                        REST, content=body, headers={**BEARER, "content-type": "application/json"}
                    )
                except httpx.TransportError:
                    return 413  # the server answered 413 and closed while the client still wrote
                return r.status_code

            floods = [asyncio.create_task(say(client, f"flood-{n}", WORD_60K)) for n in range(6)]
            refusals = [asyncio.create_task(say(client, f"flood-150k-{n}", LONG_WORD)) for n in range(6)]
            bodies = [asyncio.create_task(huge_body(n)) for n in range(2)]
            await asyncio.sleep(0.05)  # the floods are on their way
            async with asyncio.timeout(10):
                bystander = await say(client, "bystander", "hello")
            assert bystander.status_code == 200
            assert bystander.json()[-1]["text"] == WELCOME
            flooded = await asyncio.gather(*floods)
            assert {r.status_code for r in flooded} == {200}
            assert all(r.json()[0]["text"] == too_long_notice(WORD_60K, 4000) for r in flooded)
            assert {r.status_code for r in await asyncio.gather(*refusals)} == {413}
            assert await asyncio.gather(*bodies) == [413, 413]


async def test_a_10_mb_message_stored_before_the_limits_is_answered_not_stuck(engine: Engine) -> None:
    """A row like the ones stored before the channels cut texts (a 10 MB message in the
    inbound journal, as recovery after a restart finds it): its turn completes and answers,
    because the NLU reads a bounded window (generous timeout, no speed assertion)."""
    poisoned = InboundMessage(channel="rest", sender_id="poisoned", text="x" * TEN_MB)
    assert await engine.receive(poisoned)
    async with asyncio.timeout(60):
        replies = await engine.process(poisoned)
    assert [r.text for r in replies] == [WELCOME]
    async with asyncio.timeout(10):
        bystander = await engine.handle(InboundMessage(channel="rest", sender_id="after", text="hello"))
    assert [r.text for r in bystander] == [WELCOME]


# ---- REST: rates -----------------------------------------------------------------------------
async def test_rest_sender_over_its_budget_gets_429_with_retry_after(
    trained: Settings, engine: Engine
) -> None:
    app = create_app(chat_settings(trained, chat_per_sender_per_minute=2), engine=engine)
    async with in_process(app) as client:
        statuses = [(await say(client, "chatty", "hello")).status_code for _ in range(2)]
        refused = await say(client, "chatty", "hello")
        other = await say(client, "someone-else", "hello")
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"] == "rate_limited"
    assert "wait" in refused.json()["message"]
    assert other.status_code == 200
    assert len(await user_messages(engine, "rest:chatty")) == 2  # the refused one is not stored


async def test_rest_address_over_its_budget_gets_429_with_retry_after(
    trained: Settings, engine: Engine
) -> None:
    app = create_app(chat_settings(trained, chat_per_ip_per_minute=3), engine=engine)
    async with in_process(app) as client:
        statuses = [(await say(client, f"visitor-{n}", "hello")).status_code for n in range(4)]
        refused = await say(client, "visitor-new", "hello")
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


async def test_rest_sender_budget_is_shared_through_redis(
    trained: Settings, engine: Engine, redis_url: str
) -> None:
    """Two app processes over one Redis count the same sender together."""
    settings = chat_settings(
        trained, redis_url=redis_url, chat_per_ip_per_minute=0, chat_per_sender_per_minute=2
    )
    sender = "redis-" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:12])  # no digit runs
    async with served_app(settings, engine) as (_, url_a), served_app(settings, engine) as (_, url_b):
        async with httpx.AsyncClient(base_url=url_a) as a, httpx.AsyncClient(base_url=url_b) as b:
            assert (await say(a, sender, "hello")).status_code == 200
            assert (await say(b, sender, "hello")).status_code == 200
            refused = await say(a, sender, "hello")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # the counters in Redis name the sender and the address by pseudonyms only
    client = Redis.from_url(redis_url)
    try:
        keys = [key.decode() async for key in client.scan_iter(match="concierge:rate:chat:*", count=1000)]
    finally:
        await client.aclose()
    assert f"concierge:rate:chat:sender:rest:{pseudonym(sender)}" in keys
    assert [key for key in keys if sender in key or "127.0.0.1" in key] == []


# ---- the widget -----------------------------------------------------------------------------
@asynccontextmanager
async def widget_socket(url: str) -> AsyncIterator[websockets.ClientConnection]:
    async with websockets.connect(url.replace("http", "ws") + "/webhooks/widget/ws") as ws:
        yield ws


async def frame(ws: websockets.ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[no-any-return]


async def hello(ws: websockets.ClientConnection, session: str) -> None:
    await ws.send(json.dumps({"type": "hello", "session_id": session, "last_seq": None}))
    assert (await frame(ws))["type"] == "history"


async def test_widget_refuses_a_text_over_the_limit_and_says_why(trained: Settings, engine: Engine) -> None:
    session = uuid.uuid4().hex
    async with served_app(chat_settings(trained), engine) as (_app, url), widget_socket(url) as ws:
        await hello(ws, session)
        await ws.send(json.dumps({"type": "message", "client_id": "toolong-0001", "text": "z" * 5000}))
        error = await frame(ws)
        huge = json.dumps({"type": "message", "client_id": "toolong-0002", "text": LONG_WORD})
        await ws.send(huge)
        frame_error = await frame(ws)
    assert error["type"] == "error" and error["client_id"] == "toolong-0001" and error["retry"] is False
    assert error["message"] == "Your message is too long: please keep it under 4,000 characters."
    assert frame_error["type"] == "error" and "too long" in frame_error["message"]
    assert await user_messages(engine, f"widget:{session}") == []


async def test_widget_sender_over_its_budget_is_told_to_wait(trained: Settings, engine: Engine) -> None:
    session = uuid.uuid4().hex
    settings = chat_settings(trained, chat_per_sender_per_minute=1, chat_per_ip_per_minute=0)
    async with served_app(settings, engine) as (_app, url), widget_socket(url) as ws:
        await hello(ws, session)
        await ws.send(json.dumps({"type": "message", "client_id": "rate-00001", "text": "hello"}))
        frames = [await frame(ws)]
        while not (frames[-1]["type"] == "typing" and frames[-1]["on"] is False):
            frames.append(await frame(ws))
        await ws.send(json.dumps({"type": "message", "client_id": "rate-00002", "text": "hello again"}))
        refused = await frame(ws)
    assert frames[0] == {"type": "ack", "client_id": "rate-00001"}
    assert refused["type"] == "error" and refused["client_id"] == "rate-00002"
    assert refused["retry_after"] >= 1 and "wait" in refused["message"]
    assert [m.text for m in await user_messages(engine, f"widget:{session}")] == ["hello"]


async def test_widget_connections_over_the_address_budget_are_refused(
    trained: Settings, engine: Engine
) -> None:
    settings = chat_settings(trained, chat_per_ip_per_minute=2)
    async with served_app(settings, engine) as (_app, url):
        async with widget_socket(url), widget_socket(url):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with widget_socket(url):
                    pass
    assert refused.value.response.status_code == 403


# ---- webhook freshness per provider -----------------------------------------------------------
TELEGRAM_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM_SECRET = "s3cr3t-token_for-our-webhook"


def telegram_update(sent_at: datetime, update_id: int) -> dict[str, Any]:
    update = fixture("telegram", "text")
    update["update_id"] = update_id
    update["message"]["date"] = int(sent_at.timestamp())
    return update


async def test_telegram_update_dated_outside_the_window_is_dropped_and_acknowledged(
    trained: Settings, engine: Engine
) -> None:
    standin = TelegramStandIn(TELEGRAM_TOKEN)
    section = {
        "access_token": TELEGRAM_TOKEN,
        "secret_token": TELEGRAM_SECRET,
        "base_url": "",
        "base_file_url": "",
    }
    async with serving(standin.app) as api:
        section.update(base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")
        async with app_with(chat_settings(trained), engine, {"telegram": section}) as served:
            headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
            async with httpx.AsyncClient(base_url=served.url) as client:
                old = await client.post(
                    "/webhooks/telegram/webhook",
                    content=body_of(telegram_update(STALE, 990001)),
                    headers=headers,
                )
                await served.settle("telegram")
                assert (
                    await user_messages(engine, await conversation_of(engine, "telegram", "111222333")) == []
                )
                fresh = await client.post(
                    "/webhooks/telegram/webhook",
                    content=body_of(telegram_update(datetime.now(UTC), 990002)),
                    headers=headers,
                )
                await served.settle("telegram")
    assert old.status_code == 200  # acknowledged, so Telegram stops redelivering it
    assert fresh.status_code == 200
    assert [
        m.text for m in await user_messages(engine, await conversation_of(engine, "telegram", "111222333"))
    ] == ["hello"]
    assert served.channel("telegram").stats.refused == 1


async def test_a_provider_message_over_the_limit_is_stored_cut_and_the_client_told_first(
    trained: Settings, engine: Engine
) -> None:
    """Telegram (the shared webhook flow): a 150k-character text is stored cut to 4,000,
    the notice goes out before the bot's answer, and a redelivery sends it only once."""
    standin = TelegramStandIn(TELEGRAM_TOKEN)
    update = telegram_update(datetime.now(UTC), 990010)
    update["message"]["text"] = "Dzień dobry " + LONG_WORD
    headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    async with serving(standin.app) as api:
        section = {
            "access_token": TELEGRAM_TOKEN,
            "secret_token": TELEGRAM_SECRET,
            "base_url": f"{api}/bot",
            "base_file_url": f"{api}/file/bot",
        }
        async with app_with(chat_settings(trained), engine, {"telegram": section}) as served:
            async with httpx.AsyncClient(base_url=served.url) as client:
                for _ in range(2):  # Telegram redelivering the same update
                    response = await client.post(
                        "/webhooks/telegram/webhook", content=body_of(update), headers=headers
                    )
                    assert response.status_code == 200
            await served.settle("telegram")
    [stored] = await user_messages(engine, await conversation_of(engine, "telegram", "111222333"))
    assert stored.text == ("Dzień dobry " + LONG_WORD)[:4000]
    assert stored.metadata[TRUNCATED] == str(len("Dzień dobry ") + 150_000)
    texts = [params["text"] for params in standin.sent("sendMessage")]
    assert texts[0] == too_long_notice("Dzień dobry", 4000)  # in Polish, before the answer
    assert texts[0].startswith("Twoja wiadomość była bardzo długa")
    assert texts.count(texts[0]) == 1 and len(texts) >= 2


async def test_whatsapp_cloud_signed_body_from_2019_is_dropped(trained: Settings, engine: Engine) -> None:
    account = MetaAccount(
        "whatsapp_cloud", "EAAG-cloud-api-token-for-tests", "meta-app-secret-for-tests", "v", "x"
    )
    standin = CloudApiStandIn(account.access_token, "106540352242922")
    payload = fixture("whatsapp_cloud", "text")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    section = {
        "phone_number_id": "106540352242922",
        "access_token": account.access_token,
        "app_secret": account.app_secret,
        "verify_token": "verify-token-for-tests",
    }
    async with serving(standin.app) as api:
        async with app_with(
            chat_settings(trained), engine, {"whatsapp_cloud": {**section, "api_base_url": api}}
        ) as served:
            message.update(id="wamid.from-2019-with-a-new-id", timestamp=str(int(STALE.timestamp())))
            old = await account.post(served, payload)
            message.update(id="wamid.fresh-one", timestamp=str(int(time.time())))
            fresh = await account.post(served, payload)
            await served.settle("whatsapp_cloud")
    assert old.status_code == fresh.status_code == 200  # Meta retries failures for days: acknowledged
    assert [
        m.text
        for m in await user_messages(engine, await conversation_of(engine, "whatsapp_cloud", "48601234567"))
    ] == ["hello"]


async def test_messenger_signed_event_dated_outside_the_window_is_dropped(
    trained: Settings, engine: Engine
) -> None:
    account = MetaAccount(
        "messenger",
        "EAAGm0PX4ZCpsBAOpageaccesstokenZDZD",
        "5f1d0a9e0c6b4c1f9a7e2d3c4b5a6978",
        "mariia-verify-7Qx",
        "104857392011234",
        token_key="page_access_token",
    )
    payload = fixture("messenger", "text")
    entry = payload["entry"][0]
    event = entry["messaging"][0]
    async with graph_served(account.access_token, "messenger") as (_standin, api):
        async with app_with(chat_settings(trained), engine, {"messenger": account.section(api)}) as served:
            stale_ms = int(STALE.timestamp() * 1000)
            entry["time"] = event["timestamp"] = stale_ms
            event["message"]["mid"] = "m_from_2019_with_a_new_id"
            old = await account.post(served, payload)
            now_ms = int(time.time() * 1000)
            entry["time"] = event["timestamp"] = now_ms
            event["message"]["mid"] = "m_fresh_one"
            fresh = await account.post(served, payload)
            await served.settle("messenger")
    assert old.status_code == fresh.status_code == 200
    assert [
        m.text
        for m in await user_messages(engine, await conversation_of(engine, "messenger", "6712345098765432"))
    ] == ["hello"]
