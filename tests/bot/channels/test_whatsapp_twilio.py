"""WhatsApp via Twilio: signed form webhooks in (the SDK's validator), the Messages API out (a stand-in).

The bot is the real engine on the small trained test bot; Twilio's side is a local
stand-in speaking the Messages API wire format; signatures are made with the ``twilio``
SDK's own ``RequestValidator.compute_signature``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from bot.channels.addresses import AddressBook, is_opaque, split_conversation_id
from bot.channels.media import MediaNotFound
from bot.channels.webhook import WebhookBatch
from bot.channels.whatsapp_twilio import TwilioWhatsAppChannel, TwilioWhatsAppConfig
from bot.engine import Engine
from bot.errors import ChannelError, OutsideWindow
from bot.models import Attachment, Button, OutboundMessage, VerifiedIdentity
from bot.settings import Settings
from privacy.erasers import default_erasers
from privacy.service import PrivacyService

from .helpers import (
    HOURS,
    WELCOME,
    attachment_of,
    content_of,
    conversation_of,
    journal,
    serving,
    traces_of,
)
from .standins.graph import MediaFile
from .standins.twilio import TwilioStandIn
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

ACCOUNT = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://bot.mariia-hub.example"
CLIENT = "+48601234567"


async def conversation(engine: Engine) -> str:
    """The conversation of CLIENT: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "whatsapp", CLIENT)


AGENT_TEMPLATE = "HX" + "a" * 32
CSAT_TEMPLATE = "HX" + "c" * 32
WEBHOOK = "/webhooks/whatsapp/webhook"

CREDENTIALS = """
rest:
whatsapp:
  account_sid: ${TWILIO_ACCOUNT_SID}
  auth_token: ${TWILIO_AUTH_TOKEN}
  twilio_number: "whatsapp:+14155238886"
  public_url: ${CONCIERGE_PUBLIC_URL}
  api_base_url: ${TWILIO_API}
  templates:
    agent_reply:
      content_sid: HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
      variables: {"1": "{agent_name}", "2": "{text}"}
"""


def sign(url: str, body: str, token: str = TOKEN) -> str:
    """What Twilio puts in X-Twilio-Signature for a form POST to ``url``."""
    return RequestValidator(token).compute_signature(url, dict(parse_qsl(body, keep_blank_values=True)))


async def post_signed(running: Running, body: str, path: str = WEBHOOK, token: str = TOKEN) -> httpx.Response:
    return await running.http.post(
        path,
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(PUBLIC + path, body, token),
        },
    )


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[TwilioStandIn, str]]:
    standin = TwilioStandIn(ACCOUNT, TOKEN)
    async with serving(standin.app) as url:
        yield standin, url


@pytest.fixture
async def running(
    engine: Engine, trained: Settings, twilio: tuple[TwilioStandIn, str]
) -> AsyncIterator[Running]:
    environ = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "CONCIERGE_PUBLIC_URL": PUBLIC,
        "TWILIO_API": twilio[1],
    }
    credentials = credentials_from(CREDENTIALS + FAST_OUTBOX, environ)
    async with running_app(trained, engine, credentials) as app:
        yield app


async def test_a_signed_message_reaches_the_bot_and_the_reply_arrives_at_twilio(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    standin, _ = twilio
    response = await post_signed(running, fixture_text("twilio", "text.form"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response></Response>" in response.text  # Twilio itself sends nothing
    await running.settle("whatsapp")

    [call] = standin.delivered
    assert call.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert call.content_type.startswith("application/x-www-form-urlencoded")
    assert call.authorization.startswith("Basic ")
    assert call.get("To") == f"whatsapp:{CLIENT}"
    assert call.get("From") == "whatsapp:+14155238886"
    assert call.get("Body") == f"{WELCOME}\n\n1. Opening hours\n\nReply with a number."
    assert call.get("StatusCallback") == f"{PUBLIC}/webhooks/whatsapp/status"

    [hello] = await running.client_texts(await conversation(running.engine))
    assert hello.text == "hello" and hello.message_id == "SM11111111111111111111111111111111"
    # the signed sender is proven; the profile name is only a claim, kept for agents as such
    assert hello.metadata["unverified_contact"] == {"name": "Anna Nowak"}
    [handed_over, *_] = await journal(running.engine, await conversation(running.engine))
    assert handed_over.identities == [VerifiedIdentity(kind="phone", value=CLIENT, proof="provider")]

    # the client answers the numbered option with its number: the bot gets the payload
    choice = fixture_text("twilio", "text.form").replace("Body=hello", "Body=1").replace("SM1111", "SM9999")
    assert (await post_signed(running, choice)).status_code == 200
    await running.settle("whatsapp")
    assert [c.get("Body") for c in standin.delivered][1] == HOURS
    stored = (await running.client_texts(await conversation(running.engine)))[-1]
    assert stored.text == "/ask_hours" and stored.metadata["title"] == "Opening hours"

    health = (await running.http.get("/health")).json()["components"]["channel:whatsapp"]
    assert health["status"] == "ok" and "0 waiting" in health["detail"]


@pytest.mark.parametrize("forgery", ["unsigned", "garbage", "wrong-token"])
async def test_a_forged_or_unsigned_request_is_refused_and_changes_nothing(
    running: Running, twilio: tuple[TwilioStandIn, str], forgery: str
) -> None:
    body = fixture_text("twilio", "text.form")
    headers = {
        "unsigned": {},
        "garbage": {"X-Twilio-Signature": "c2lnbmF0dXJl"},
        "wrong-token": {"X-Twilio-Signature": sign(PUBLIC + WEBHOOK, body, "another-accounts-token")},
    }[forgery]
    response = await running.http.post(
        WEBHOOK, content=body, headers={"Content-Type": "application/x-www-form-urlencoded", **headers}
    )
    assert response.status_code == 403
    await running.settle("whatsapp")
    assert await running.engine.store.load(await conversation(running.engine)) == []
    assert await running.engine.store.pending_inbound() == []
    assert twilio[0].calls == []
    assert "1 refused request" in running.channel("whatsapp").health().detail


async def test_the_signature_is_checked_against_the_public_url_not_the_proxy_s(running: Running) -> None:
    body = fixture_text("twilio", "text.form")
    as_seen_locally = running.url + WEBHOOK  # what a naive check behind a proxy would use
    response = await running.http.post(
        WEBHOOK,
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(as_seen_locally, body),
        },
    )
    assert response.status_code == 403
    tampered = body.replace("Body=hello", "Body=refund+me")
    response = await running.http.post(
        WEBHOOK,
        content=tampered,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(PUBLIC + WEBHOOK, body),
        },
    )
    assert response.status_code == 403


async def test_the_same_message_delivered_twice_gets_one_reply(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    body = fixture_text("twilio", "hours.form")
    first, second = await post_signed(running, body), await post_signed(running, body)
    assert first.status_code == second.status_code == 200
    await running.settle("whatsapp")
    assert [c.get("Body") for c in twilio[0].delivered] == [HOURS]
    assert len(await running.client_texts(await conversation(running.engine))) == 1


async def test_a_send_that_fails_twice_then_succeeds_is_delivered_once(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    standin, _ = twilio
    standin.fail(1, 500)
    standin.fail(1, 429, retry_after=0.3)
    await post_signed(running, fixture_text("twilio", "hours.form"))
    await running.settle("whatsapp")
    assert [c.get("Body") for c in standin.calls] == [HOURS, HOURS, HOURS]
    assert [c.get("Body") for c in standin.delivered] == [HOURS]
    [row] = await running.app.state.outbox.rows(conversation_id=await conversation(running.engine))
    assert (row.status, row.attempts) == ("sent", 3)
    assert row.provider_message_id is not None and row.provider_message_id.startswith("SM")


async def test_status_callbacks_become_receipts(running: Running, twilio: tuple[TwilioStandIn, str]) -> None:
    await post_signed(running, fixture_text("twilio", "hours.form"))
    await running.settle("whatsapp")
    [row] = await running.app.state.outbox.rows(conversation_id=await conversation(running.engine))
    sid = row.provider_message_id or ""
    delivered = fixture_text("twilio", "status_delivered.form").replace("SMxx", sid)
    assert (await post_signed(running, delivered, "/webhooks/whatsapp/status")).status_code == 200
    read = delivered.replace("delivered", "read")
    assert (await post_signed(running, read, WEBHOOK)).status_code == 200  # the same URL works too
    row = await running.app.state.outbox.get(row.id)
    assert row is not None and row.status == "read" and row.delivered_at is not None
    assert (
        len(await running.client_texts(await conversation(running.engine))) == 1
    )  # receipts are not client messages


async def test_media_location_and_button_replies_are_stored_as_the_bot_s_messages(running: Running) -> None:
    for name in ("media", "location", "button"):
        assert (await post_signed(running, fixture_text("twilio", f"{name}.form"))).status_code == 200
    await running.settle("whatsapp")
    media, location, button = await running.client_texts(await conversation(running.engine))
    attachments = json.loads(media.metadata["attachments"])
    assert [(a["kind"], a["mime_type"]) for a in attachments] == [
        ("image", "image/jpeg"),
        ("audio", "audio/ogg"),
    ]
    assert media.text == "my nails after the visit"
    [place] = json.loads(location.metadata["attachments"])
    assert place == {
        "kind": "location",
        "latitude": 52.2297,
        "longitude": 21.0122,
        "name": "Mariia Hub Mokotow",
    }
    assert button.text == "/ask_hours" and button.metadata["title"] == "Opening hours"


async def test_unsupported_kinds_get_one_polite_reply_and_echoes_are_ignored(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    unsupported = fixture_text("twilio", "unsupported.form")
    await post_signed(running, unsupported)
    await post_signed(running, unsupported)  # Twilio retries
    assert (await post_signed(running, fixture_text("twilio", "echo.form"))).status_code == 200
    await running.settle("whatsapp")
    [reply] = twilio[0].delivered
    assert "can't open this kind of message" in (reply.get("Body") or "")
    assert await running.engine.store.pending_inbound() == []
    assert await running.client_texts(await conversation(running.engine)) == []
    assert await running.client_texts("whatsapp:+14155238886") == []


async def hand_to_agent(running: Running) -> None:
    """The client writes, the conversation goes to the queue and an agent claims it."""
    await post_signed(running, fixture_text("twilio", "text.form"))
    await running.settle("whatsapp")
    await claimed_by_agent(running, await conversation(running.engine))


async def test_an_agent_reply_after_the_24_hour_window_goes_out_as_a_template(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    standin, _ = twilio
    await hand_to_agent(running)
    channel = running.channel("whatsapp")
    standin.window_closed.add(f"whatsapp:{CLIENT}")  # Twilio would refuse free text now
    later = datetime.now(UTC) + timedelta(hours=25)
    channel.clock = lambda: later

    await agent_reply(running, "whatsapp", CLIENT, "Your refund has been approved.")
    await running.settle("whatsapp")
    template = standin.delivered[-1]
    assert template.get("ContentSid") == AGENT_TEMPLATE
    assert json.loads(template.get("ContentVariables") or "") == {
        "1": "Ola",
        "2": "Your refund has been approved.",
    }
    assert template.get("Body") is None

    with pytest.raises(OutsideWindow, match="no approved template is configured for 'csat'"):
        await agent_reply(running, "whatsapp", CLIENT, "How did we do? Rate us 1-5", template="csat")
    rows = await running.app.state.outbox.rows(conversation_id=await conversation(running.engine))
    assert [r.status for r in rows] == ["sent", "sent"]  # nothing queued for the refused one


async def test_inside_the_window_an_agent_reply_is_free_text(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    await hand_to_agent(running)
    await agent_reply(running, "whatsapp", CLIENT, "Hi Anna, Ola here. Let me check.")
    await running.settle("whatsapp")
    assert twilio[0].delivered[-1].get("Body") == "Hi Anna, Ola here. Let me check."


async def test_twilio_refusing_free_text_outside_the_window_fails_the_row_visibly(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    await hand_to_agent(running)
    twilio[0].window_closed.add(f"whatsapp:{CLIENT}")  # our clock says open, Twilio's does not
    await agent_reply(running, "whatsapp", CLIENT, "Still there?")
    await running.settle("whatsapp")
    failed = await running.app.state.outbox.rows(status="failed")
    assert [r.message.text for r in failed] == ["Still there?"]
    assert "63016" in (failed[0].last_error or "") and "OutsideWindow" in (failed[0].last_error or "")


def channel_for(**options: object) -> TwilioWhatsAppChannel:
    config = TwilioWhatsAppConfig.model_validate(
        {"account_sid": ACCOUNT, "auth_token": TOKEN, "twilio_number": "+14155238886", **options}
    )
    return TwilioWhatsAppChannel(config, http=httpx.AsyncClient())


async def test_buttons_become_content_api_quick_replies_when_configured() -> None:
    channel = channel_for(quick_replies={"content_sid": "HX" + "b" * 32, "max_buttons": 3})
    try:
        message = OutboundMessage(
            channel="whatsapp",
            recipient_id=CLIENT,
            text="Which studio?",
            buttons=[
                Button(title="Mokotow", payload="/studio_mokotow"),
                Button(title="Wola", payload="/studio_wola"),
            ],
        )
        fields = channel.request_fields(message)
        assert channel.config.twilio_number == "whatsapp:+14155238886"  # the prefix is added
        assert fields["content_sid"] == "HX" + "b" * 32
        assert json.loads(fields["content_variables"]) == {
            "1": "Which studio?",
            "2": "Mokotow",
            "3": "/studio_mokotow",
            "4": "Wola",
            "5": "/studio_wola",
        }
    finally:
        await channel.close()


async def test_status_callbacks_for_failures_carry_twilio_s_error() -> None:
    channel = channel_for()
    try:
        batch = channel.parse(
            blank_request(WEBHOOK), fixture_text("twilio", "status_undelivered.form").encode()
        )
        [receipt] = batch.receipts
        assert receipt.status == "failed" and receipt.error is not None and "63024" in receipt.error
        queued = urlencode({"MessageSid": "SMx", "MessageStatus": "queued"}).encode()
        assert channel.parse(blank_request(WEBHOOK), queued) == WebhookBatch()  # nothing to record yet
    finally:
        await channel.close()


async def test_a_client_s_media_is_fetched_with_basic_auth_that_never_leaves_twilio(
    running: Running, twilio: tuple[TwilioStandIn, str]
) -> None:
    standin, _ = twilio
    copies = TwilioStandIn(ACCOUNT, TOKEN, media=standin.media)  # the short-lived copies, another origin
    async with serving(copies.app) as copies_url:
        standin.media_host = copies_url
        standin.media["ME00000000000000000000000000000001"] = MediaFile(b"\xff\xd8 nails", "image/jpeg")
        await post_signed(running, fixture_text("twilio", "media.form"))
        await running.settle("whatsapp")
        [media] = await running.client_texts(await conversation(running.engine))
        channel = running.channel("whatsapp")
        assert isinstance(channel, TwilioWhatsAppChannel)
        fetched = await channel.fetch_media(attachment_of(media))
        assert (await content_of(fetched), fetched.mime_type) == (b"\xff\xd8 nails", "image/jpeg")
    [(path, authorization)] = standin.media_requests
    assert path.endswith("/Media/ME00000000000000000000000000000001") and authorization.startswith("Basic ")
    assert copies.media_requests == [("/media-cdn/ME00000000000000000000000000000001", "")]

    with pytest.raises(ChannelError, match=r"Twilio refused to send the file \(HTTP 404\)"):
        await channel.fetch_media(attachment_of(media, 1))  # the voice note is gone from Twilio
    foreign = Attachment(kind="image", url="https://evil.example/2010-04-01/Accounts/AC0/Media/ME1")
    with pytest.raises(MediaNotFound):
        await channel.fetch_media(foreign)


async def test_ids_outbox_rows_urls_and_logs_carry_no_phone_and_erase_forgets_the_address(
    running: Running, twilio: tuple[TwilioStandIn, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    standin, _ = twilio
    assert (await post_signed(running, fixture_text("twilio", "text.form"))).status_code == 200
    await running.settle("whatsapp")
    conversation_id = await conversation(running.engine)
    assert is_opaque(conversation_id)
    assert [c.id for c in await running.engine.store.conversations()] == [conversation_id]
    rows = await running.app.state.outbox.rows(conversation_id=conversation_id)
    assert [r.status for r in rows] == ["sent"] and standin.delivered[0].get("To") == f"whatsapp:{CLIENT}"
    # the number reached Twilio, and is on file in one table; nowhere else
    assert await traces_of(running.engine, CLIENT.lstrip("+"), caplog.records) == []
    book = AddressBook(running.engine.store.engine)
    assert await book.address(conversation_id) == CLIENT

    service = PrivacyService(running.engine.store.engine, erasers=default_erasers([]))
    report = await service.erase("+48 601 234 567", actor="test")
    assert report.conversations == 1 and report.removed["channel_addresses"] == 1
    assert await book.address(conversation_id) is None
    # a reply to the erased conversation has nowhere to go: it fails, nothing reaches Twilio
    sent = len(standin.delivered)
    token = split_conversation_id(conversation_id)[1]
    await running.channel("whatsapp").enqueue(
        OutboundMessage(channel="whatsapp", recipient_id=token, text="Hi")
    )
    await running.settle("whatsapp")
    (row,) = await running.app.state.outbox.rows(conversation_id=conversation_id)
    assert row.status == "failed" and "no address on file" in (row.last_error or "")
    assert len(standin.delivered) == sent
