"""Finding a client's file in the event log, and downloading it from a provider (a CDN stand-in)."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from bot.channels.media import MediaTooLarge, download, recorded_attachment
from bot.engine import Engine
from bot.errors import ChannelError
from bot.events import BotUttered, UserUttered
from bot.models import Attachment

from .helpers import content_of, serving
from .standins.graph import GraphStandIn, MediaFile

CONVERSATION = "whatsapp_cloud:48601234567"
PHOTO = {"kind": "image", "url": "https://graph.facebook.com/v21.0/1003383421387256", "name": "a.png"}
PLACE = {"kind": "location", "latitude": 52.2297, "longitude": 21.0122}


async def test_the_attachment_is_found_by_the_message_s_seq_and_its_place(engine: Engine) -> None:
    seqs = await engine.append(
        CONVERSATION,
        [
            UserUttered(text="look", metadata={"attachments": json.dumps([PHOTO, PLACE])}),
            BotUttered(text="Lovely!", metadata={"attachments": json.dumps([PHOTO])}),
            UserUttered(text="plain words"),
            UserUttered(text="broken", metadata={"attachments": "{not json"}),
        ],
    )
    client, bot, plain, broken = seqs
    photo = await recorded_attachment(engine.store, CONVERSATION, client, 0)
    place = await recorded_attachment(engine.store, CONVERSATION, client, 1)
    assert (photo, place) == (Attachment.model_validate(PHOTO), Attachment.model_validate(PLACE))
    for seq, index in ((client, 2), (client, -1), (bot, 0), (plain, 0), (broken, 0), (0, 0), (99, 0)):
        assert await recorded_attachment(engine.store, CONVERSATION, seq, index) is None, (seq, index)
    assert await recorded_attachment(engine.store, "whatsapp_cloud:someone-else", client, 0) is None


async def test_a_download_streams_the_file_and_says_when_the_provider_refuses() -> None:
    cdn = GraphStandIn("token")
    cdn.media["nails.jpg"] = MediaFile(b"\xff\xd8 nails", "image/jpeg")
    async with serving(cdn.app) as url, httpx.AsyncClient() as http:
        fetched = await download(http, f"{url}/cdn/nails.jpg?oh=abc", "Messenger")
        assert (fetched.mime_type, fetched.size) == ("image/jpeg", 8)
        assert await content_of(fetched) == b"\xff\xd8 nails"
        with pytest.raises(ChannelError, match=r"Messenger refused to send the file \(HTTP 403\)") as refused:
            await download(http, f"{url}/cdn/gone.jpg", "Messenger")
        assert not refused.value.retryable
        with pytest.raises(MediaTooLarge, match="larger than 0 MB"):
            await download(http, f"{url}/cdn/nails.jpg", "Messenger", max_bytes=4)


async def test_an_unreachable_provider_is_a_channel_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as http:
        with pytest.raises(ChannelError, match="Instagram could not be reached"):
            await download(http, f"http://127.0.0.1:{port}/cdn/x.jpg", "Instagram")
