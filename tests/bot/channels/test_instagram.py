"""Instagram on the real engine against a Send API stand-in: signatures, quick replies, retries,
seen receipts, echoes, reactions, shares and the 24-hour / 7-day window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.meta_events import parse_messaging
from bot.channels.meta_messaging import message_parts
from bot.engine import Engine
from bot.errors import BadPayload, OutsideWindow
from bot.models import Attachment, OutboundMessage, VerifiedIdentity
from bot.settings import Settings

from .helpers import HOURS, WELCOME, agent_replies, conversation_of, sender_of, user_messages
from .social_helpers import MetaAccount, Served, app_with, fixture, graph_served, sent_texts
from .standins.graph import GraphStandIn

APP_SECRET = "9c2e41b7d0aa4f3e8b6c5d4e3f2a1b0c"
TOKEN = "IGQWRPinstagramaccesstokenZDZD"
VERIFY = "mariia-ig-verify-9Lm"
ACCOUNT = "17841400000000001"
IGSID = "1234567890123456"


async def conversation(engine: Engine) -> str:
    """The conversation of IGSID: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "instagram", IGSID)


INSTAGRAM = MetaAccount("instagram", TOKEN, APP_SECRET, VERIFY, ACCOUNT)
QUICK = [{"content_type": "text", "title": "Opening hours", "payload": "/ask_hours"}]
meta_signature = INSTAGRAM.sign
post = INSTAGRAM.post
texts = sent_texts


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphStandIn, str]]:
    async with graph_served(TOKEN, "instagram") as found:
        yield found


@pytest.fixture
async def served(trained: Settings, engine: Engine, graph: tuple[GraphStandIn, str]) -> AsyncIterator[Served]:
    async with app_with(trained, engine, {"instagram": INSTAGRAM.section(graph[1])}) as served:
        yield served


# ---- the must-shows ------------------------------------------------------------------------
async def test_a_signed_message_reaches_the_bot_and_the_reply_has_quick_replies(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    assert (await post(served, fixture("instagram", "text"))).status_code == 200
    await served.settle("instagram")
    (call,) = standin.calls
    assert (call.node, call.authorization) == (ACCOUNT, f"Bearer {TOKEN}")
    assert call.body == {
        "recipient": {"id": IGSID},
        "messaging_type": "RESPONSE",
        "message": {"text": WELCOME, "quick_replies": QUICK},
    }
    (stored,) = await user_messages(engine, await conversation(engine))
    assert stored.text == "hello" and stored.input_channel == "instagram"


@pytest.mark.parametrize("signature", [None, "sha256=" + "f" * 64, meta_signature(b"{}")])
async def test_a_forged_or_unsigned_request_is_refused_and_changes_nothing(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine, signature: str | None
) -> None:
    standin, _ = graph
    assert (await post(served, fixture("instagram", "text"), signature=signature)).status_code == 403
    await served.settle("instagram")
    assert await engine.history(await conversation(engine)) == [] and standin.calls == []


async def test_the_same_message_delivered_twice_is_answered_once(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    payload = fixture("instagram", "text")
    await post(served, payload)
    await post(served, payload)
    await served.settle("instagram")
    assert texts(standin) == [WELCOME]
    assert len(await user_messages(engine, await conversation(engine))) == 1


async def test_a_send_that_fails_twice_then_succeeds_is_delivered_once(
    served: Served, graph: tuple[GraphStandIn, str]
) -> None:
    standin, _ = graph
    standin.fail(1, 500)
    standin.fail(1, 429, retry_after=1)
    await post(served, fixture("instagram", "text"))
    await served.settle("instagram")
    assert len(standin.calls) == 3 and texts(standin) == [WELCOME]
    (row,) = await served.rows(await conversation(served.engine))
    assert (row.status, row.attempts) == ("sent", 3)


async def test_agent_replies_use_the_human_agent_tag_after_24_hours_and_stop_after_7_days(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("instagram", "text"))
    await served.settle("instagram")
    channel = served.channel("instagram")
    standin.window_closed.add(IGSID)
    channel.clock = lambda: datetime.now(UTC) + timedelta(days=3)
    await agent_replies(
        engine, served.app.state.channels, await conversation(engine), "Your booking is confirmed."
    )
    reply = OutboundMessage(
        channel="instagram",
        recipient_id=await sender_of(engine, "instagram", IGSID),
        text="Your booking is confirmed.",
        sender="agent",
    )
    await served.settle("instagram")
    last = standin.calls[-1]
    assert last.accepted
    assert (last.body["messaging_type"], last.body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    channel.clock = lambda: datetime.now(UTC) + timedelta(days=8)
    with pytest.raises(OutsideWindow):
        await channel.send(reply)
    assert len(await served.rows(await conversation(engine))) == 2


# ---- inbound kinds -------------------------------------------------------------------------
async def test_a_quick_reply_sends_its_payload(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("instagram", "quick_reply"))
    await served.settle("instagram")
    assert texts(standin) == [HOURS]
    (stored,) = await user_messages(engine, await conversation(engine))
    assert (stored.text, stored.metadata["title"]) == ("/ask_hours", "Opening hours")


async def test_echoes_are_ignored_and_reactions_and_story_mentions_recorded_without_a_reply(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    for name in ("echo", "reaction", "story_mention"):
        assert (await post(served, fixture("instagram", name))).status_code == 200
    await served.settle("instagram")
    assert standin.calls == []
    reaction, story = await user_messages(engine, await conversation(engine))
    assert reaction.text == "\u2764\ufe0f" and reaction.metadata["kind"] == "reaction"
    assert story.metadata["kind"] == "story_mention" and story.text == ""
    assert await engine.history(await conversation_of(engine, "instagram", ACCOUNT)) == []


async def test_a_message_instagram_cannot_show_gets_a_polite_reply(
    served: Served, graph: tuple[GraphStandIn, str], engine: Engine
) -> None:
    standin, _ = graph
    await post(served, fixture("instagram", "unsupported"))
    await served.settle("instagram")
    (reply,) = texts(standin)
    assert reply.startswith("Sorry, I can't open this kind of message")
    assert await user_messages(engine, await conversation(engine)) == []


async def test_a_seen_receipt_marks_our_message_read(served: Served) -> None:
    await post(served, fixture("instagram", "text"))
    await served.settle("instagram")
    (row,) = await served.rows(await conversation(served.engine))
    seen = fixture("instagram", "seen")
    seen["entry"][0]["messaging"][0]["read"]["mid"] = row.provider_message_id
    assert (await post(served, seen)).status_code == 200
    (row,) = await served.rows(await conversation(served.engine))
    assert row.status == "read" and row.read_at is not None


def test_media_are_parsed_as_attachments() -> None:
    (message,) = parse_messaging(fixture("instagram", "media"), "instagram", "instagram").messages
    assert [a.kind for a in message.attachments] == ["image", "video"]
    assert message.identities == [
        VerifiedIdentity(kind="instagram", value=message.sender_id, proof="provider")
    ]
    assert message.attachments[0] == Attachment(
        kind="image", url="https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1799&signature=abc"
    )


def test_a_messenger_payload_on_the_instagram_webhook_is_a_bad_payload() -> None:
    with pytest.raises(BadPayload, match="instagram"):
        parse_messaging(fixture("messenger", "text"), "instagram", "instagram")


def test_long_texts_are_split_within_instagrams_1000_byte_limit() -> None:
    text = "Манікюр і педикюр. " * 120  # Cyrillic: two bytes a letter
    parts = message_parts(
        OutboundMessage(channel="instagram", recipient_id=IGSID, text=text),
        1000,
        True,
    )
    assert len(parts) > 2
    assert all(len(p["text"].encode()) <= 1000 for p in parts)
    assert "".join(p["text"] for p in parts).replace(" ", "") == text.replace(" ", "")
