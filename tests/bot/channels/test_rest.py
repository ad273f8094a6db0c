"""Rasa's REST channel on the real engine: request and response shapes, idempotent retries, 400s."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.engine import Engine

from .helpers import HOURS, WELCOME, table_missing, user_messages

WEBHOOK = "/webhooks/rest/webhook"


async def post(base_url: str, body: object = None, *, content: bytes | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url) as client:
        if content is not None:
            return await client.post(WEBHOOK, content=content, headers={"content-type": "application/json"})
        return await client.post(WEBHOOK, json=body)


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
