"""The shared webhook flow: per-conversation order, numbered choices, attachment metadata, and a
request whose storing fails part way (here on Messenger, against the real database)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text

from bot.channels.webhook import (
    ConversationSequencer,
    numbered_options,
    resolve_numbered_choice,
    with_attachment_metadata,
)
from bot.engine import Engine
from bot.events import BotUttered
from bot.models import Attachment, Button, InboundMessage
from bot.settings import Settings

from .helpers import HOURS, WELCOME, YOU_ARE_WELCOME, conversation_of, user_messages
from .social_helpers import MetaAccount, app_with, fixture, graph_served, sent_texts

TOKEN = "EAAGm0PX4ZCpsBAOpageaccesstokenZDZD"
SECRET = "5f1d0a9e0c6b4c1f9a7e2d3c4b5a6978"
PAGE = MetaAccount("messenger", TOKEN, SECRET, "mariia-verify-7Qx", "104857392011234")
PSID = "6712345098765432"


async def conversation(engine: Engine) -> str:
    """The conversation of PSID: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "messenger", PSID)


async def test_jobs_of_one_conversation_run_in_order_and_conversations_in_parallel() -> None:
    sequencer = ConversationSequencer()
    log: list[str] = []
    gate = asyncio.Event()

    def job(name: str, wait: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if wait:
                await gate.wait()
            await asyncio.sleep(0)
            log.append(name)

        return run

    sequencer.submit("a", job("a1", wait=True))
    sequencer.submit("a", job("a2"))
    sequencer.submit("b", job("b1"))
    await asyncio.sleep(0.01)
    assert log == ["b1"]  # b is not held up by a's slow first job
    gate.set()
    await sequencer.idle(within=5)
    assert log == ["b1", "a1", "a2"]


async def test_a_failing_job_does_not_stop_the_conversation_s_next_ones() -> None:
    sequencer = ConversationSequencer()
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("turn failed")

    async def after() -> None:
        done.append("after")

    sequencer.submit("c", boom)
    sequencer.submit("c", after)
    await sequencer.idle(within=5)
    assert done == ["after"]


async def test_a_backlog_runs_at_most_max_parallel_turns_at_once_each_conversation_in_order() -> None:
    """A burst over many conversations (the backlog after a restart) must not take one
    database connection per conversation at once; each conversation still keeps its order."""
    sequencer = ConversationSequencer(max_parallel=3)
    running = 0
    peak = 0
    seen: dict[str, list[int]] = {}

    def job(key: str, n: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001)
            seen.setdefault(key, []).append(n)
            running -= 1

        return run

    for n in range(4):
        for c in range(20):
            sequencer.submit(f"c{c}", job(f"c{c}", n))
    await sequencer.idle(within=10)
    assert peak == 3
    assert seen == {f"c{c}": [0, 1, 2, 3] for c in range(20)}


def test_numbered_options_list_the_buttons() -> None:
    buttons = [Button(title="Book", payload="/book"), Button(title="Prices", payload="/prices")]
    assert (
        numbered_options("What next?", buttons) == "What next?\n\n1. Book\n2. Prices\n\nReply with a number."
    )


async def test_a_typed_number_picks_the_last_offered_button(engine: Engine) -> None:
    conversation = "whatsapp:+48600000001"
    await engine.append(
        conversation,
        [BotUttered(text="What next?", data={"buttons": [{"title": "Book", "payload": "/book"}]})],
    )
    typed = InboundMessage(channel="whatsapp", sender_id="+48600000001", text=" 1. ")
    chosen = await resolve_numbered_choice(typed, engine)
    assert chosen.text == "/book" and chosen.metadata == {"title": "Book", "typed": " 1. "}
    out_of_range = typed.model_copy(update={"text": "7"})
    assert (await resolve_numbered_choice(out_of_range, engine)).text == "7"
    words = typed.model_copy(update={"text": "1 more question"})
    assert (await resolve_numbered_choice(words, engine)).text == "1 more question"


def test_attachments_are_copied_into_metadata_for_the_event_log() -> None:
    message = InboundMessage(
        channel="whatsapp",
        sender_id="+48600000001",
        attachments=[Attachment(kind="location", latitude=52.1, longitude=21.0)],
    )
    listed = json.loads(with_attachment_metadata(message).metadata["attachments"])
    assert listed == [{"kind": "location", "latitude": 52.1, "longitude": 21.0}]
    plain = InboundMessage(channel="whatsapp", sender_id="x", text="hi")
    assert with_attachment_metadata(plain) is plain


@asynccontextmanager
async def storing_fails_for(engine: Engine, message_id: str) -> AsyncIterator[None]:
    """The real database refuses to store one message (a trigger aborts its insert), then heals."""
    async with engine.store.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON inbound_messages "
                f"WHEN NEW.message_id = '{message_id}' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        )
    try:
        yield
    finally:
        async with engine.store.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_one"))


def three_messages() -> dict[str, Any]:
    """One Messenger notification batching three messages of one client."""
    payload = fixture("messenger", "text")
    first = payload["entry"][0]["messaging"][0]
    payload["entry"][0]["messaging"] = [
        {**first, "message": {"mid": f"m_batch{n}", "text": said}}
        for n, said in enumerate(("hello", "what are your opening hours", "thanks"), start=1)
    ]
    return payload


async def test_a_request_whose_storing_fails_part_way_is_retried_and_each_message_answered_once(
    trained: Settings, engine: Engine
) -> None:
    async with graph_served(TOKEN, "messenger") as (standin, graph_url):
        async with app_with(trained, engine, {"messenger": PAGE.section(graph_url)}) as served:
            async with storing_fails_for(engine, "m_batch2"):
                refused = await PAGE.post(served, three_messages())
            assert refused.status_code == 503  # not acknowledged: Meta sends the request again
            assert refused.json()["error"] == "unavailable"
            await served.settle("messenger")
            assert [m.text for m in await user_messages(engine, await conversation(engine))] == ["hello"]
            assert sent_texts(standin) == [WELCOME]  # what was stored is answered, without waiting

            retried = await PAGE.post(served, three_messages())
            assert retried.status_code == 200
            await served.settle("messenger")
            stored = await user_messages(engine, await conversation(engine))
            assert [m.message_id for m in stored] == ["m_batch1", "m_batch2", "m_batch3"]
            assert sent_texts(standin) == [WELCOME, HOURS, YOU_ARE_WELCOME]  # each answered once, in order
            assert await engine.store.pending_inbound() == []
