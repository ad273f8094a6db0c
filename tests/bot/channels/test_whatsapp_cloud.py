"""WhatsApp via Meta's Cloud API: signed JSON webhooks in, the Graph API send endpoint out (a stand-in).

Webhook bodies are the documented payloads (fixtures/whatsapp_cloud); they are signed here
with the documented algorithm (HMAC-SHA256 of the raw body with the app secret), written
out independently of the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.channels.limits import ChatGuard
from bot.channels.media import MediaNotFound
from bot.channels.whatsapp_cloud import CloudWhatsAppChannel, CloudWhatsAppConfig
from bot.engine import Engine
from bot.errors import ChannelError, OutsideWindow
from bot.events import BotUttered
from bot.models import Attachment, Button, OutboundMessage, VerifiedIdentity
from bot.settings import Settings

from .helpers import (
    FIXTURE_AGE_HOURS,
    HOURS,
    WELCOME,
    attachment_of,
    content_of,
    conversation_of,
    journal,
    sender_of,
    serving,
)
from .standins.graph import MediaFile
from .standins.whatsapp_cloud import CloudApiStandIn
from .whatsapp_support import (
    FAST_OUTBOX,
    Running,
    agent_reply,
    blank_request,
    claimed_by_agent,
    credentials_from,
    fixture_text,
    running_app,
)

PHONE_ID = "106540352242922"
TOKEN = "EAAG-cloud-api-token-for-tests"
SECRET = "meta-app-secret-for-tests"
VERIFY = "verify-token-for-tests"
CLIENT = "48601234567"


async def conversation(engine: Engine) -> str:
    """The conversation of CLIENT: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "whatsapp_cloud", CLIENT)


WEBHOOK = "/webhooks/whatsapp_cloud/webhook"

CREDENTIALS = """
whatsapp_cloud:
  phone_number_id: "106540352242922"
  access_token: ${WHATSAPP_TOKEN}
  app_secret: ${META_APP_SECRET}
  verify_token: ${META_VERIFY_TOKEN}
  api_base_url: ${GRAPH_API}
  templates:
    agent_reply: {name: agent_follow_up, language: en, parameters: ["{agent_name}", "{text}"]}
    csat: {name: csat_request, language: pl}
"""


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_signed(running: Running, body: str | bytes, secret: str = SECRET) -> httpx.Response:
    raw = body.encode() if isinstance(body, str) else body
    return await running.http.post(
        WEBHOOK,
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(raw, secret)},
    )


def fixture(name: str) -> str:
    return fixture_text("whatsapp_cloud", f"{name}.json")


@pytest.fixture
async def meta() -> AsyncIterator[tuple[CloudApiStandIn, str]]:
    standin = CloudApiStandIn(TOKEN, PHONE_ID)
    async with serving(standin.app) as url:
        yield standin, url


@pytest.fixture
async def running(
    engine: Engine, trained: Settings, meta: tuple[CloudApiStandIn, str]
) -> AsyncIterator[Running]:
    environ = {
        "WHATSAPP_TOKEN": TOKEN,
        "META_APP_SECRET": SECRET,
        "META_VERIFY_TOKEN": VERIFY,
        "GRAPH_API": meta[1],
    }
    async with running_app(trained, engine, credentials_from(CREDENTIALS + FAST_OUTBOX, environ)) as app:
        yield app


async def test_a_signed_message_reaches_the_bot_and_the_reply_arrives_in_cloud_api_format(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    standin, _ = meta
    response = await post_signed(running, fixture("text"))
    assert response.status_code == 200
    await running.settle("whatsapp_cloud")
    [call] = [c for c in standin.calls if c.accepted]
    assert call.path == f"/v21.0/{PHONE_ID}/messages"
    assert call.authorization == f"Bearer {TOKEN}"
    assert call.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CLIENT,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": WELCOME},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": "/ask_hours", "title": "Opening hours"}}]
            },
        },
    }
    [hello] = await running.client_texts(await conversation(running.engine))
    assert hello.text == "hello"
    # the signed wa_id is proven; the profile name is only a claim, kept for agents as such
    assert hello.metadata["unverified_contact"] == {"name": "Anna Nowak"}
    [handed_over, *_] = await journal(running.engine, await conversation(running.engine))
    assert handed_over.identities == [VerifiedIdentity(kind="phone", value="+48601234567", proof="provider")]

    assert (await post_signed(running, fixture("button_reply"))).status_code == 200  # the client taps it
    await running.settle("whatsapp_cloud")
    assert standin.delivered[-1]["text"] == {"preview_url": False, "body": HOURS}
    tapped = (await running.client_texts(await conversation(running.engine)))[-1]
    assert tapped.text == "/ask_hours" and tapped.metadata["title"] == "Opening hours"


async def test_the_verification_handshake_answers_the_challenge_only_with_the_right_token(
    running: Running,
) -> None:
    ok = await running.http.get(
        WEBHOOK, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await running.http.get(
        WEBHOOK, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    )
    assert wrong.status_code == 403 and "1158201444" not in wrong.text


@pytest.mark.parametrize("forgery", ["unsigned", "wrong-secret", "tampered", "sha1"])
async def test_a_forged_or_unsigned_request_is_refused_and_changes_nothing(
    running: Running, meta: tuple[CloudApiStandIn, str], forgery: str
) -> None:
    body = fixture("text").encode()
    headers = {
        "unsigned": {},
        "wrong-secret": {"X-Hub-Signature-256": signature(body, "not-the-app-secret")},
        "tampered": {"X-Hub-Signature-256": signature(body.replace(b"hello", b"hellp"))},
        "sha1": {"X-Hub-Signature-256": "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()},
    }[forgery]
    response = await running.http.post(
        WEBHOOK, content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == 403
    await running.settle("whatsapp_cloud")
    assert await running.engine.store.load(await conversation(running.engine)) == []
    assert await running.engine.store.pending_inbound() == []
    assert meta[0].calls == []


async def test_the_same_message_delivered_twice_gets_one_reply(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    body = fixture("hours")
    assert (await post_signed(running, body)).status_code == 200
    assert (await post_signed(running, body)).status_code == 200
    await running.settle("whatsapp_cloud")
    assert [b["text"]["body"] for b in meta[0].delivered] == [HOURS]
    assert len(await running.client_texts(await conversation(running.engine))) == 1


async def test_a_send_that_fails_twice_then_succeeds_is_delivered_once(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    standin, _ = meta
    standin.fail(1, 500, 131000, "Something went wrong")
    standin.fail(1, 429, 130429, "Rate limit hit", retry_after=0.3)
    await post_signed(running, fixture("hours"))
    await running.settle("whatsapp_cloud")
    assert len(standin.calls) == 3
    assert [b["text"]["body"] for b in standin.delivered] == [HOURS]
    [row] = await running.app.state.outbox.rows(conversation_id=await conversation(running.engine))
    assert (row.status, row.attempts) == ("sent", 3)
    assert (row.provider_message_id or "").startswith("wamid.")


async def test_statuses_become_receipts_and_only_move_forward(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    await post_signed(running, fixture("hours"))
    await running.settle("whatsapp_cloud")
    [row] = await running.app.state.outbox.rows(conversation_id=await conversation(running.engine))
    wamid = row.provider_message_id or ""
    for name in ("status_read", "status_delivered", "status_failed"):  # read first: the others are late
        assert (await post_signed(running, fixture(name).replace("WAMID", wamid))).status_code == 200
    row = await running.app.state.outbox.get(row.id)
    assert row is not None and row.status == "read"
    assert row.read_at == datetime.fromtimestamp(1767261700, UTC)


async def test_a_failed_status_marks_a_sent_row_failed_with_meta_s_reason(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    await post_signed(running, fixture("hours"))
    await running.settle("whatsapp_cloud")
    [row] = await running.app.state.outbox.rows(conversation_id=await conversation(running.engine))
    await post_signed(running, fixture("status_failed").replace("WAMID", row.provider_message_id or ""))
    row = await running.app.state.outbox.get(row.id)
    assert row is not None and row.status == "failed" and "131047" in (row.last_error or "")


async def test_media_location_contacts_and_reactions_are_stored_for_the_console(running: Running) -> None:
    for name in ("image", "audio", "document", "location", "contacts", "reaction"):
        assert (await post_signed(running, fixture(name))).status_code == 200
    await running.settle("whatsapp_cloud")
    image, audio, document, location, contacts, reaction = await running.client_texts(
        await conversation(running.engine)
    )
    assert image.text == "my nails after the visit"
    [picture] = json.loads(image.metadata["attachments"])
    assert picture["kind"] == "image" and picture["url"].endswith("/v21.0/1003383421387256")
    assert json.loads(audio.metadata["attachments"])[0]["mime_type"] == "audio/ogg; codecs=opus"
    assert json.loads(document.metadata["attachments"])[0]["name"] == "voucher.pdf"
    assert json.loads(location.metadata["attachments"])[0]["latitude"] == 52.2297
    assert json.loads(contacts.metadata["attachments"])[0]["name"] == "Ola Kowalska (+48 602 345 678)"
    assert reaction.text == "\u2764\ufe0f" and reaction.metadata["kind"] == "reaction"
    assert reaction.metadata["reacted_to"] == "wamid.OURMESSAGE"


async def test_unsupported_kinds_get_one_polite_reply(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    await post_signed(running, fixture("unsupported"))
    await post_signed(running, fixture("unsupported"))  # Meta retries
    await running.settle("whatsapp_cloud")
    [reply] = meta[0].delivered
    assert reply["type"] == "text" and "can't open this kind of message" in reply["text"]["body"]
    assert await running.client_texts(await conversation(running.engine)) == []


async def hand_to_agent(running: Running) -> None:
    """The client writes, the conversation goes to the queue and an agent claims it."""
    await post_signed(running, fixture("text"))
    await running.settle("whatsapp_cloud")
    await claimed_by_agent(running, await conversation(running.engine))


async def test_an_agent_reply_after_the_24_hour_window_goes_out_as_a_template(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    standin, _ = meta
    await hand_to_agent(running)
    standin.window_closed.add(CLIENT)  # Meta would refuse anything but a template now
    later = datetime.now(UTC) + timedelta(hours=25)
    running.channel("whatsapp_cloud").clock = lambda: later

    await agent_reply(running, "whatsapp_cloud", CLIENT, "Your refund has been approved.")
    await agent_reply(running, "whatsapp_cloud", CLIENT, "How did we do?", template="csat")
    await running.settle("whatsapp_cloud")
    follow_up, csat = standin.delivered[-2:]
    assert follow_up["type"] == "template"
    assert follow_up["template"] == {
        "name": "agent_follow_up",
        "language": {"code": "en"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ola"},
                    {"type": "text", "text": "Your refund has been approved."},
                ],
            }
        ],
    }
    assert csat["template"] == {"name": "csat_request", "language": {"code": "pl"}}

    bot_push = OutboundMessage(
        channel="whatsapp_cloud",
        recipient_id=await sender_of(running.engine, "whatsapp_cloud", CLIENT),
        text="Reminder!",
    )
    with pytest.raises(OutsideWindow, match="older than 24 hours"):
        await running.app.state.channels["whatsapp_cloud"].send(bot_push)


async def test_meta_refusing_free_text_outside_the_window_fails_the_row_visibly(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    await hand_to_agent(running)
    meta[0].window_closed.add(CLIENT)
    await agent_reply(running, "whatsapp_cloud", CLIENT, "Still there?")
    await running.settle("whatsapp_cloud")
    [failed] = await running.app.state.outbox.rows(status="failed")
    assert failed.message.text == "Still there?" and "131047" in (failed.last_error or "")
    assert running.channel("whatsapp_cloud").health().status == "degraded"


def channel() -> CloudWhatsAppChannel:
    config = CloudWhatsAppConfig(
        phone_number_id=PHONE_ID, access_token=TOKEN, app_secret=SECRET, verify_token=VERIFY
    )
    adapter = CloudWhatsAppChannel(config, http=httpx.AsyncClient())
    adapter.guard = ChatGuard(max_age=timedelta(hours=FIXTURE_AGE_HOURS))  # fixtures have fixed dates
    return adapter


def buttons(count: int, title: str = "Option") -> list[Button]:
    return [Button(title=f"{title} {i}", payload=f'/choose{{"n": {i}}}') for i in range(1, count + 1)]


async def test_buttons_become_reply_buttons_a_list_or_numbered_options() -> None:
    adapter = channel()
    try:

        def body(**fields: Any) -> dict[str, Any]:
            return adapter.request_body(
                OutboundMessage(
                    channel="whatsapp_cloud",
                    recipient_id=CLIENT,
                    text="Pick one",
                    **fields,
                )
            )

        assert body(buttons=buttons(3))["interactive"]["type"] == "button"
        listed = body(buttons=buttons(7))["interactive"]
        assert listed["type"] == "list" and listed["action"]["button"] == "Choose"
        assert [r["id"] for r in listed["action"]["sections"][0]["rows"]][:2] == [
            '/choose{"n": 1}',
            '/choose{"n": 2}',
        ]
        assert body(buttons=buttons(2, "Opening hours today"))["interactive"]["type"] == "list"
        many = body(buttons=buttons(11))
        assert many["type"] == "text" and "11. Option 11" in many["text"]["body"]
        image = body(image="https://cdn.example.com/studio.jpg")
        assert image["image"] == {"link": "https://cdn.example.com/studio.jpg", "caption": "Pick one"}
        custom = body(custom={"type": "location", "location": {"latitude": 52.2, "longitude": 21.0}})
        assert custom["type"] == "location" and custom["to"] == CLIENT
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("video", "video", None),
        ("sticker", "image", None),
        ("list_reply", None, "/ask_hours"),
        ("button", None, "/ask_hours"),
    ],
)
async def test_every_documented_message_kind_parses(name: str, kind: str | None, text: str | None) -> None:
    adapter = channel()
    try:
        [message] = adapter.parse(blank_request(WEBHOOK), fixture(name).encode()).messages
        assert message.text == text
        assert [a.kind for a in message.attachments] == ([kind] if kind else [])
        assert message.received_at == datetime.fromtimestamp(1767261600, UTC)
    finally:
        await adapter.close()


async def test_reactions_and_edits_are_recorded_without_a_bot_turn_or_an_apology(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    await post_signed(running, fixture("text"))
    await running.settle("whatsapp_cloud")
    answered = len(meta[0].delivered)
    for name in ("reaction", "unsupported_edit"):
        assert (await post_signed(running, fixture(name))).status_code == 200
    await running.settle("whatsapp_cloud")
    assert len(meta[0].delivered) == answered  # no fallback on an emoji, no "can't open" for an edit
    _, reaction, edit = await running.client_texts(await conversation(running.engine))
    # the typed InboundMessage.record_only kept them from a turn (the no-reply check above);
    # the stored line says what they were
    assert (reaction.text, reaction.metadata["kind"]) == ("\u2764\ufe0f", "reaction")
    assert (edit.text, edit.metadata["kind"]) == ("", "edit")
    events = await running.engine.store.events(await conversation(running.engine))
    assert not [e for e in events[events.index(reaction) :] if isinstance(e, BotUttered)]


async def test_a_client_s_photo_is_fetched_through_the_media_object_with_the_token(
    running: Running, meta: tuple[CloudApiStandIn, str]
) -> None:
    standin, _ = meta
    standin.media["1003383421387256"] = MediaFile(b"\xff\xd8\xff\xe0 nails", "image/jpeg")
    await post_signed(running, fixture("image"))
    await running.settle("whatsapp_cloud")
    [image] = await running.client_texts(await conversation(running.engine))
    channel = running.channel("whatsapp_cloud")
    assert isinstance(channel, CloudWhatsAppChannel)
    fetched = await channel.fetch_media(attachment_of(image))
    assert (await content_of(fetched), fetched.mime_type) == (b"\xff\xd8\xff\xe0 nails", "image/jpeg")
    assert standin.media_requests == ["/v21.0/1003383421387256", "/whatsapp_business/attachments/"]

    expired = Attachment(kind="image", url=channel.graph.url("1003383421387999"))
    with pytest.raises(ChannelError, match="does not exist"):
        await channel.fetch_media(expired)
    with pytest.raises(MediaNotFound):
        await channel.fetch_media(Attachment(kind="image", url="https://example.com/1003383421387256"))
