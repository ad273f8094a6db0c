"""Rasa's REST channel on the real engine: request and response shapes, idempotent retries, 400s,
the callers' bearer token, and contact details that stay unverified hints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from bot.channels.credentials import parse_credentials
from bot.channels.registry import CHANNELS
from bot.channels.rest import RestChannel
from bot.engine import Engine
from bot.errors import ConfigError
from bot.settings import Settings
from console.app import create_app

from .helpers import HOURS, WELCOME, journal, serving, table_missing, user_messages

WEBHOOK = "/webhooks/rest/webhook"
TOKEN = "a-token-the-calling-system-holds"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(engine: Engine, trained: Settings) -> FastAPI:
    """The app as deployed outside demo mode: REST callers must bring the token."""
    return create_app(trained.model_copy(update={"rest_token": SecretStr(TOKEN)}), engine=engine)


async def post(
    base_url: str,
    body: object = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = BEARER if headers is None else headers
    async with httpx.AsyncClient(base_url=base_url) as client:
        if content is not None:
            return await client.post(
                WEBHOOK, content=content, headers={"content-type": "application/json", **sent}
            )
        return await client.post(WEBHOOK, json=body, headers=sent)


@asynccontextmanager
async def app_served(
    trained: Settings, engine: Engine, rest: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[str]:
    """The app with these settings (and a ``rest:`` credentials section), served."""
    credentials = parse_credentials({"rest": rest} if rest is not None else {}, CHANNELS, environ={})
    app = create_app(trained.model_copy(update=settings), engine=engine, credentials=credentials)
    async with serving(app) as url:
        yield url


async def test_replies_come_back_in_rasa_format(base_url: str) -> None:
    response = await post(base_url, {"sender": "ana", "message": "hello"})
    assert response.status_code == 200
    assert response.json() == [
        {
            "recipient_id": "ana",
            "text": WELCOME,
            "buttons": [{"title": "Opening hours", "payload": "/ask_hours"}],
        }
    ]
    # keys Rasa leaves out when empty are left out
    plain = (await post(base_url, {"sender": "ana", "message": "/ask_hours"})).json()
    assert plain == [{"recipient_id": "ana", "text": HOURS}]


async def test_each_sender_has_its_own_stored_conversation(base_url: str, engine: Engine) -> None:
    await post(base_url, {"sender": "bo", "message": "hello"})
    await post(base_url, {"sender": "cy", "message": "/ask_hours"})
    bo = [(e.sender, e.text) for e in await engine.history("rest:bo")]
    cy = [(e.sender, e.text) for e in await engine.history("rest:cy")]
    assert bo == [("client", "hello"), ("bot", WELCOME)]
    assert cy == [("client", "/ask_hours"), ("bot", HOURS)]


async def test_metadata_is_stored_with_the_message(base_url: str, engine: Engine) -> None:
    await post(
        base_url,
        {
            "sender": "dee",
            "message": "hello",
            "metadata": {"tier": "gold", "visits": 3},
            "input_channel": "kiosk",
        },
    )
    (stored,) = await user_messages(engine, "rest:dee")
    assert stored.input_channel == "rest"
    assert {k: stored.metadata[k] for k in ("tier", "visits", "input_channel")} == {
        "tier": "gold",
        "visits": "3",
        "input_channel": "kiosk",
    }


async def test_a_retried_request_with_the_same_message_id_is_answered_once(
    base_url: str, engine: Engine
) -> None:
    body = {"sender": "eve", "message": "hello", "message_id": "req-1"}
    first = await post(base_url, body)
    again = await post(base_url, body)
    assert [r["text"] for r in first.json()] == [WELCOME]
    assert again.status_code == 200 and again.json() == []
    assert [m.message_id for m in await user_messages(engine, "rest:eve")] == ["req-1"]


async def test_without_message_id_every_request_is_a_new_message(base_url: str, engine: Engine) -> None:
    for _ in range(2):
        assert len((await post(base_url, {"sender": "fay", "message": "hello"})).json()) == 1
    assert [m.text for m in await user_messages(engine, "rest:fay")] == ["hello", "hello"]


@pytest.mark.parametrize(
    ("content", "mentions"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'["hello"]', "JSON object"),
        (json.dumps({"message": "hello"}).encode(), "sender"),
        (json.dumps({"sender": "gil"}).encode(), "message"),
        (json.dumps({"sender": "gil", "message": 5}).encode(), "message"),
        (json.dumps({"sender": "", "message": "hi"}).encode(), "sender"),
        (json.dumps({"sender": 7, "message": "hi"}).encode(), "sender"),
        (json.dumps({"sender": "gil", "message": "hi", "metadata": "x"}).encode(), "metadata"),
        # the sender is half of the conversation id (URLs, logs): never a phone or an e-mail
        (json.dumps({"sender": "+48 601 234 567", "message": "hi"}).encode(), "not a phone number"),
        (json.dumps({"sender": "ana@example.com", "message": "hi"}).encode(), "not a phone number"),
    ],
)
async def test_bad_requests_get_a_400_that_says_why(
    base_url: str, engine: Engine, content: bytes, mentions: str
) -> None:
    response = await post(base_url, content=content)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_payload"
    assert mentions in body["message"]
    assert "Traceback" not in response.text
    assert await engine.store.conversations() == []  # nothing half-stored


async def test_status_route_answers_like_rasa(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/webhooks/rest/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_a_database_failure_gives_a_500_without_internals(base_url: str, engine: Engine) -> None:
    async with table_missing(engine, "inbound_messages"):
        response = await post(base_url, {"sender": "hal", "message": "hello"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "Something went wrong on our side. Please try again in a moment.",
    }
    assert "inbound_messages" not in response.text and "Traceback" not in response.text
    # the database is back: the same request now works
    healed = await post(base_url, {"sender": "hal", "message": "hello"})
    assert [r["text"] for r in healed.json()] == [WELCOME]


# ---- who may call ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},  # no token
        {"Authorization": "Bearer wrong-token-of-the-same-length!!"},
        {"Authorization": f"Basic {TOKEN}"},  # not a bearer token
        {"Authorization": "Bearer"},  # no token after the scheme
    ],
)
async def test_without_the_token_a_request_is_refused_with_401_and_nothing_is_stored(
    base_url: str, engine: Engine, headers: dict[str, str]
) -> None:
    response = await post(base_url, {"sender": "ivy", "message": "hello"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert TOKEN not in response.text
    assert await engine.store.conversations() == []


async def test_outside_demo_mode_rest_without_a_configured_token_refuses_everyone(
    trained: Settings, engine: Engine
) -> None:
    async with app_served(trained, engine) as url:
        response = await post(url, {"sender": "jo", "message": "hello"}, headers={})
    assert response.status_code == 401
    assert "CONCIERGE_REST_TOKEN" in response.json()["message"]
    assert await engine.store.conversations() == []


async def test_demo_mode_and_an_explicit_opt_out_leave_rest_open(trained: Settings, engine: Engine) -> None:
    async with app_served(trained, engine, demo=True) as url:
        demo = await post(url, {"sender": "kim", "message": "hello"}, headers={})
    async with app_served(trained, engine, rest={"require_token": False}) as url:
        opted_out = await post(url, {"sender": "lou", "message": "hello"}, headers={})
    assert [r["text"] for r in demo.json()] == [WELCOME]
    assert [r["text"] for r in opted_out.json()] == [WELCOME]


async def test_a_token_in_credentials_yml_is_required_even_in_demo_mode(
    trained: Settings, engine: Engine
) -> None:
    async with app_served(trained, engine, rest={"token": TOKEN}, demo=True) as url:
        refused = await post(url, {"sender": "max", "message": "hello"}, headers={})
        answered = await post(url, {"sender": "max", "message": "hello"})
    assert refused.status_code == 401
    assert [r["text"] for r in answered.json()] == [WELCOME]


def test_a_short_token_or_an_unknown_option_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        RestChannel.from_credentials({"token": "short"}, None)
    with pytest.raises(ConfigError, match="tokn"):
        RestChannel.from_credentials({"tokn": TOKEN}, None)


# ---- who is writing -------------------------------------------------------------------------------
async def test_contact_details_in_metadata_are_unverified_hints_never_an_identity(
    base_url: str, engine: Engine
) -> None:
    metadata = {
        "contact_phone": "+48 793 455 021",
        "contact_email": "j.whitfield@example.co.uk",
        "contact_name": "James",
    }
    await post(
        base_url, {"sender": "attacker-1", "message": "hello", "metadata": {**metadata, "tier": "VIP"}}
    )
    (handed_over,) = await journal(engine, "rest:attacker-1")
    assert handed_over.identities == []
    assert handed_over.hints.model_dump() == {
        "name": "James",
        "phone": "+48 793 455 021",
        "email": "j.whitfield@example.co.uk",
    }
    assert not {"contact_phone", "contact_email", "contact_name"} & set(handed_over.metadata)
    (stored,) = await user_messages(engine, "rest:attacker-1")
    assert stored.metadata["unverified_contact"] == handed_over.hints.model_dump()
    assert stored.metadata["tier"] == "VIP"  # other metadata is kept as it was, and means nothing
