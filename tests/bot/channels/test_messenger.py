"""Messenger on the real engine against a Send API stand-in: signatures, the handshake, quick
replies, retries, receipts, echoes, edits, reactions and the 24-hour / 7-day window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.channels.media import MediaNotFound
from bot.channels.meta_events import parse_messaging
from bot.channels.meta_messaging import MetaMessagingChannel
from bot.engine import Engine
from bot.errors import BadPayload, ChannelError, ConfigError, OutsideWindow
from bot.events import BotUttered
from bot.models import Attachment, Button, OutboundMessage, VerifiedIdentity
from bot.settings import Settings

from .helpers import (
    HOURS,
    WELCOME,
    agent_replies,
    attachment_of,
    content_of,
    conversation_of,
    sender_of,
    user_messages,
)
from .social_helpers import MetaAccount, Served, app_with, body_of, fixture, graph_served, sent_texts
from .standins.graph import GraphStandIn, MediaFile

APP_SECRET = "5f1d0a9e0c6b4c1f9a7e2d3c4b5a6978"
PAGE_TOKEN = "EAAGm0PX4ZCpsBAOpageaccesstokenZDZD"
VERIFY = "mariia-verify-7Qx"
PAGE = "104857392011234"
PSID = "6712345098765432"


async def conversation(engine: Engine) -> str:
    """The conversation of PSID: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "messenger", PSID)


WEBHOOK = "/webhooks/messenger/webhook"
MESSENGER = MetaAccount("messenger", PAGE_TOKEN, APP_SECRET, VERIFY, PAGE, token_key="page_access_token")
QUICK = [{"content_type": "text", "title": "Opening hours", "payload": "/ask_hours"}]
meta_signature = MESSENGER.sign
post = MESSENGER.post
texts = sent_texts
section = MESSENGER.section


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphStandIn, str]]:
    async with graph_served(PAGE_TOKEN, "messenger") as found:
        yield found


@pytest.fixture
async def served(trained: Settings, engine: Engine, graph: tuple[GraphStandIn, str]) -> AsyncIterator[Served]:
    async with app_with(trained, engine, {"messenger": section(graph[1])}) as served:
        yield served


# ---- the must-shows ------------------------------------------------------------------------
async def test_a_signed_message_reaches_the_bot_and_the_reply_has_quick_replies(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    response = await post(served, fixture("messenger", "text"))
    assert response.status_code == 200
    await served.settle("messenger")
    (call,) = standin.calls
    assert (call.version, call.node, call.authorization) == ("v21.0", PAGE, f"Bearer {PAGE_TOKEN}")
    assert call.body == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": WELCOME, "quick_replies": QUICK},
    }
    (stored,) = await user_messages(engine, await conversation(engine))
    assert (stored.text, stored.message_id) == ("hello", "m_AbCdEfGhIjKlMnOpQrStUv0001")
    assert stored.metadata["recipient_id"] == PAGE
    (row,) = await served.rows(await conversation(engine))
    assert row.status == "sent" and row.provider_message_id and row.provider_message_id.startswith("m_")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "sha256=" + "0" * 64,
        meta_signature(b"another body"),
        meta_signature(b"x", "wrong-secret")[:20],
        "md5=abc",
    ],
)
async def test_a_forged_or_unsigned_request_is_refused_and_changes_nothing(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine, signature: str | None
) -> None:
    standin, _ = graph
    response = await post(served, fixture("messenger", "text"), signature=signature)
    assert response.status_code == 403
    await served.settle("messenger")
    assert await engine.history(await conversation(engine)) == []
    assert standin.calls == []
    assert served.channel("messenger").stats.refused == 1


async def test_a_body_signed_with_another_secret_is_refused(served: Served, engine: Engine) -> None:
    body = body_of(fixture("messenger", "text"))
    async with httpx.AsyncClient(base_url=served.url) as client:
        response = await client.post(
            WEBHOOK, content=body, headers={"X-Hub-Signature-256": meta_signature(body, "not-our-secret")}
        )
    assert response.status_code == 403
    assert await engine.history(await conversation(engine)) == []


async def test_the_same_message_delivered_twice_is_answered_once(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    payload = fixture("messenger", "text")
    assert (await post(served, payload)).status_code == 200
    assert (await post(served, payload)).status_code == 200
    await served.settle("messenger")
    assert texts(standin) == [WELCOME]
    assert len(await user_messages(engine, await conversation(engine))) == 1


async def test_a_send_that_fails_twice_then_succeeds_is_delivered_once(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    standin, _ = graph
    standin.fail(2, 500)
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    assert len(standin.calls) == 3 and all(c.body == standin.calls[0].body for c in standin.calls)
    assert texts(standin) == [WELCOME]
    (row,) = await served.rows(await conversation(served.engine))
    assert (row.status, row.attempts) == ("sent", 3)


async def test_a_429_with_retry_after_is_retried_after_the_wait(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    standin, _ = graph
    standin.fail(1, 429, retry_after=1)
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    (row,) = await served.rows(await conversation(served.engine))
    assert (row.status, row.attempts) == ("sent", 2)
    assert texts(standin) == [WELCOME]


async def test_an_agent_reply_after_24_hours_goes_with_the_human_agent_tag(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    channel = served.channel("messenger")
    standin.window_closed.add(PSID)  # Meta refuses free-form messages from now on
    channel.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    await agent_replies(
        engine,
        served.app.state.channels,
        await conversation(engine),
        "Sorry for the wait: yes, Podil is open on Sunday.",
    )
    await served.settle("messenger")
    assert standin.calls[-1].body == {
        "recipient": {"id": PSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "Sorry for the wait: yes, Podil is open on Sunday."},
    }
    assert standin.calls[-1].accepted
    rows = await served.rows(await conversation(engine))
    assert [r.status for r in rows] == ["sent", "sent"]


async def test_after_7_days_an_agent_reply_is_refused_with_outside_window_and_not_queued(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    channel = served.channel("messenger")
    channel.clock = lambda: datetime.now(UTC) + timedelta(days=7, minutes=1)
    with pytest.raises(OutsideWindow, match="7 days"):
        await channel.send(
            OutboundMessage(
                channel="messenger",
                recipient_id=await sender_of(engine, "messenger", PSID),
                text="Hi!",
                sender="agent",
            )
        )
    await served.settle("messenger")
    assert len(standin.calls) == 1  # only the bot's welcome went out
    assert len(await served.rows(await conversation(engine))) == 1


async def test_after_24_hours_only_a_person_may_write(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    channel = served.channel("messenger")
    channel.clock = lambda: datetime.now(UTC) + timedelta(hours=30)
    with pytest.raises(OutsideWindow, match="only a person"):
        await channel.send(
            OutboundMessage(
                channel="messenger",
                recipient_id=await sender_of(served.engine, "messenger", PSID),
                text="How did we do?",
            )
        )


async def test_without_the_human_agent_permission_a_late_agent_reply_is_refused(
    trained: Settings, engine: Engine, graph: tuple[GraphStandIn, str]
) -> None:
    async with app_with(trained, engine, {"messenger": section(graph[1], human_agent_tag=False)}) as served:
        await post(served, fixture("messenger", "text"))
        await served.settle("messenger")
        channel = served.channel("messenger")
        channel.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
        with pytest.raises(OutsideWindow, match="turned off"):
            await channel.send(
                OutboundMessage(
                    channel="messenger",
                    recipient_id=await sender_of(engine, "messenger", PSID),
                    text="Hi",
                    sender="agent",
                )
            )


async def test_a_window_error_from_meta_fails_the_row_without_retrying(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    standin, _ = graph
    standin.window_closed.add(PSID)  # Meta says closed although our log says open
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    (row,) = await served.rows(await conversation(served.engine))
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "OutsideWindow" in row.last_error


# ---- the handshake ---------------------------------------------------------------------------
async def test_the_verification_handshake_echoes_the_challenge_only_for_our_token(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        ok = await client.get(
            WEBHOOK,
            params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
        )
        wrong = await client.get(
            WEBHOOK,
            params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"},
        )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert wrong.status_code == 403


# ---- inbound kinds -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["quick_reply", "postback"])
async def test_a_quick_reply_or_postback_sends_its_payload(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine, name: str
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", name))
    await served.settle("messenger")
    assert texts(standin) == [HOURS]
    (stored,) = await user_messages(engine, await conversation(engine))
    assert stored.text == "/ask_hours" and stored.metadata["title"] == "Opening hours"
    assert stored.parse_data.intent_name == "ask_hours"


async def test_echoes_of_our_own_messages_are_ignored(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    assert (await post(served, fixture("messenger", "echo"))).status_code == 200
    await served.settle("messenger")
    assert standin.calls == []
    assert await engine.history(await conversation(engine)) == []
    assert await engine.history(await conversation_of(engine, "messenger", PAGE)) == []


async def test_an_edit_and_a_reaction_are_recorded_and_not_answered(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    await post(served, fixture("messenger", "message_edit"))
    await post(served, fixture("messenger", "reaction"))
    await post(served, fixture("messenger", "reaction"))  # redelivered
    await served.settle("messenger")
    assert texts(standin) == [WELCOME]
    _, edit, reaction = await user_messages(engine, await conversation(engine))
    assert edit.text == "hello, is the Podil studio open?"
    assert (edit.metadata["edit_of"], edit.metadata["kind"]) == ("m_AbCdEfGhIjKlMnOpQrStUv0001", "edit")
    assert reaction.text == "\u2764\ufe0f"
    assert reaction.metadata["reacted_to"] == "m_OurReplyMessageId0001"
    assert reaction.metadata["reaction_action"] == "react"


async def test_delivery_and_read_receipts_move_our_message_forward(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    (row,) = await served.rows(await conversation(served.engine))
    assert row.provider_message_id is not None
    delivery = fixture("messenger", "delivery")
    delivery["entry"][0]["messaging"][0]["delivery"]["mids"] = [row.provider_message_id]
    assert (await post(served, delivery)).status_code == 200
    (row,) = await served.rows(await conversation(served.engine))
    assert row.status == "delivered" and row.delivered_at is not None
    # Messenger reports reads as a watermark: everything sent up to then was read
    read = fixture("messenger", "read")
    read["entry"][0]["messaging"][0]["read"]["watermark"] = int(
        (datetime.now(UTC) + timedelta(seconds=5)).timestamp() * 1000
    )
    assert (await post(served, read)).status_code == 200
    (row,) = await served.rows(await conversation(served.engine))
    assert row.status == "read" and row.read_at is not None


async def test_a_read_watermark_before_our_send_changes_nothing(served: Served) -> None:
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    read = fixture("messenger", "read")
    read["entry"][0]["messaging"][0]["read"]["watermark"] = int(
        (datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000
    )
    await post(served, read)
    (row,) = await served.rows(await conversation(served.engine))
    assert row.status == "sent"


async def test_an_unreadable_attachment_gets_a_polite_reply(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", "unsupported"))
    await served.settle("messenger")
    (reply,) = texts(standin)
    assert reply.startswith("Sorry, I can't open this kind of message")
    assert await user_messages(engine, await conversation(engine)) == []


def test_attachments_and_locations_are_parsed() -> None:
    (message,) = parse_messaging(fixture("messenger", "attachments"), "messenger", "page").messages
    assert message.text is None
    # the signed notification's PSID is the sender's proven identity (and their only one)
    assert message.identities == [
        VerifiedIdentity(kind="messenger", value=message.sender_id, proof="provider")
    ]
    assert message.attachments == [
        Attachment(kind="image", url="https://scontent.xx.fbcdn.net/v/t1.15752-9/nails.jpg?oh=abc"),
        Attachment(kind="document", url="https://cdn.fbsbx.com/v/t59.2708-21/voucher.pdf?oh=def"),
        Attachment(kind="audio", url="https://cdn.fbsbx.com/v/t59.3654-21/voice.mp4?oh=ghi"),
        Attachment(kind="location", latitude=50.4501, longitude=30.5234, name="Olena's location"),
    ]


async def test_a_client_s_attachment_is_fetched_from_its_signed_cdn_url_without_our_token(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, graph_url = graph
    standin.media["nails.jpg"] = MediaFile(b"\xff\xd8 nails", "image/jpeg")
    payload = fixture("messenger", "attachments")
    sent = payload["entry"][0]["messaging"][0]["message"]["attachments"]
    sent[0]["payload"]["url"] = f"{graph_url}/cdn/nails.jpg?oh=abc"
    sent[1]["payload"]["url"] = f"{graph_url}/cdn/voucher.pdf?oh=expired"
    assert (await post(served, payload)).status_code == 200
    await served.settle("messenger")
    (message,) = await user_messages(engine, await conversation(engine))
    channel = served.channel("messenger")
    assert isinstance(channel, MetaMessagingChannel)
    fetched = await channel.fetch_media(attachment_of(message))
    assert (await content_of(fetched), fetched.mime_type) == (b"\xff\xd8 nails", "image/jpeg")
    assert standin.media_requests == [("/cdn/nails.jpg", "")]  # the page token stays with us
    with pytest.raises(ChannelError, match=r"Messenger refused to send the file \(HTTP 403\)"):
        await channel.fetch_media(attachment_of(message, 1))
    with pytest.raises(MediaNotFound):
        await channel.fetch_media(attachment_of(message, 3))  # a location has no file


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page"},
        {"object": "page", "entry": [{"id": "1", "messaging": [{"sender": {}}]}]},
        fixture("instagram", "text"),
    ],
)
def test_a_body_that_is_not_a_messenger_webhook_is_a_bad_payload(payload: object) -> None:
    with pytest.raises(BadPayload):
        parse_messaging(payload, "messenger", "page")


# ---- outbound rendering --------------------------------------------------------------------
async def test_an_image_with_text_and_buttons_is_two_sends_with_quick_replies_on_the_last(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    channel = served.channel("messenger")
    buttons = [
        Button(title="Opening hours", payload="/ask_hours"),
        Button(title="A very long button title indeed", payload="/long"),
    ]
    await channel.send(
        OutboundMessage(
            channel="messenger",
            recipient_id=await sender_of(served.engine, "messenger", PSID),
            text="Our studio",
            image="https://example.com/studio.jpg",
            buttons=buttons,
            sender="agent",
        )
    )
    await served.settle("messenger")
    assert [c.body["message"] for c in standin.calls[1:]] == [
        {
            "attachment": {
                "type": "image",
                "payload": {"url": "https://example.com/studio.jpg", "is_reusable": True},
            }
        },
        {
            "text": "Our studio",
            "quick_replies": [
                QUICK[0],
                {"content_type": "text", "title": "A very long button …", "payload": "/long"},
            ],
        },
    ]


async def test_a_failure_after_the_image_went_out_never_sends_the_image_twice(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    standin.fail(2, 500, matching=lambda body: "text" in body["message"])
    await served.channel("messenger").send(
        OutboundMessage(
            channel="messenger",
            recipient_id=await sender_of(served.engine, "messenger", PSID),
            text="Our studio",
            image="https://example.com/studio.jpg",
            sender="agent",
        )
    )
    await served.settle("messenger")
    sent = [c.body["message"] for c in standin.calls[1:]]
    assert [("attachment" in m, m.get("text")) for m in sent] == [
        (True, None),
        (False, "Our studio"),
        (False, "Our studio"),
        (False, "Our studio"),
    ]
    assert [m.get("text") for m in (c.body["message"] for c in standin.calls[1:] if c.accepted)] == [
        None,
        "Our studio",
    ]
    rows = await served.rows(await conversation(served.engine))
    assert [(r.status, r.attempts) for r in rows[1:]] == [("sent", 1), ("sent", 3)]


async def test_more_than_13_buttons_become_numbered_options_and_a_number_picks_one(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("messenger", "text"))
    await served.settle("messenger")
    buttons = [Button(title=f"Option {i}", payload="/thank") for i in range(1, 14)]
    buttons.append(Button(title="Opening hours", payload="/ask_hours"))
    # what the console does: the agent's line (with its options) into the log, then the send
    await engine.append(
        await conversation(engine),
        [
            BotUttered(
                text="Pick one",
                data={"buttons": [b.model_dump() for b in buttons]},
                metadata={"sender": "agent"},
            )
        ],
    )
    await served.channel("messenger").send(
        OutboundMessage(
            channel="messenger",
            recipient_id=await sender_of(engine, "messenger", PSID),
            text="Pick one",
            buttons=buttons,
            sender="agent",
        )
    )
    await served.settle("messenger")
    sent = standin.calls[-1].body["message"]
    assert "quick_replies" not in sent and "14. Opening hours" in sent["text"]
    reply = fixture("messenger", "text")
    event = reply["entry"][0]["messaging"][0]
    event["message"] = {"mid": "m_number14", "text": "14"}
    await post(served, reply)
    await served.settle("messenger")
    assert (await user_messages(engine, await conversation(engine)))[-1].text == "/ask_hours"
    assert texts(standin)[-1] == HOURS


def test_the_section_accepts_rasas_facebook_key_names_and_rejects_typos() -> None:
    from bot.channels.messenger import MessengerChannel

    channel = MessengerChannel.from_credentials(
        {"verify": VERIFY, "secret": APP_SECRET, "page-access-token": PAGE_TOKEN}, None
    )
    assert isinstance(channel, MetaMessagingChannel)
    assert (channel.config.verify_token, channel.config.app_secret) == (VERIFY, APP_SECRET)
    with pytest.raises(ConfigError, match="app_secrett"):
        MessengerChannel.from_credentials({**section("http://x"), "app_secrett": "x"}, None)
