"""The widget's WebSocket protocol: a real socket, a real uvicorn server, the real engine."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from bot.engine import Engine
from bot.models import OutboundMessage
from bot.settings import Settings
from console.app import create_app

from .helpers import (
    HOURS,
    WELCOME,
    YOU_ARE_WELCOME,
    agent_says,
    real_engine,
    serving,
    table_missing,
    user_messages,
)


class Widget:
    """What the browser widget does on the wire, frame by frame."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, wait: float = 5) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), wait))

    async def hello(self, session: str, last_seq: int | None = None) -> list[dict[str, Any]]:
        await self.send({"type": "hello", "session_id": session, "last_seq": last_seq})
        frame = await self.recv()
        assert frame["type"] == "history"
        return frame["entries"]

    async def say(self, text: str | None = None, client_id: str | None = None, **extra: str) -> str:
        client_id = client_id or uuid.uuid4().hex
        body = {"text": text} if text is not None else {}
        await self.send({"type": "message", "client_id": client_id, **body, **extra})
        return client_id

    async def turn(self) -> list[dict[str, Any]]:
        """Frames up to and including the end of the bot's turn (typing off)."""
        frames = []
        while True:
            frames.append(await self.recv())
            if frames[-1] == {"type": "typing", "on": False}:
                return frames

    async def nothing_more(self, wait: float = 0.3) -> None:
        with pytest.raises(TimeoutError):
            await self.recv(wait)


@asynccontextmanager
async def widget(base_url: str) -> AsyncIterator[Widget]:
    async with websockets.connect(base_url.replace("http", "ws", 1) + "/webhooks/widget/ws") as ws:
        yield Widget(ws)


def session() -> str:
    return uuid.uuid4().hex


def entries(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["entry"] for f in frames if f["type"] == "message"]


async def test_first_hello_gets_an_empty_history(base_url: str) -> None:
    async with widget(base_url) as w:
        assert await w.hello(session()) == []


async def test_message_is_acked_then_answered_between_typing_frames(base_url: str, engine: Engine) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        cid = await w.say("hello")
        frames = await w.turn()
    assert [f["type"] for f in frames] == ["ack", "typing", "message", "message", "typing"]
    assert frames[0] == {"type": "ack", "client_id": cid}
    assert frames[1] == {"type": "typing", "on": True}
    mine, reply = entries(frames)
    assert (mine["sender"], mine["text"], mine["message_id"]) == ("client", "hello", cid)
    assert reply["sender"] == "bot" and reply["text"] == WELCOME
    assert reply["buttons"] == [{"title": "Opening hours", "payload": "/ask_hours"}]
    assert mine["seq"] < reply["seq"]
    # what the client saw is what is stored
    assert [e.model_dump(mode="json") for e in await engine.history(f"widget:{sid}")] == [mine, reply]


async def test_the_ack_comes_once_the_message_is_stored_before_the_bot_answers(
    base_url: str, engine: Engine
) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        async with engine.locks.lock(f"widget:{sid}"):  # the bot is busy with this conversation
            cid = await w.say("hello")
            assert await w.recv() == {"type": "ack", "client_id": cid}
            assert await w.recv() == {"type": "typing", "on": True}
            assert [m.message_id for m in await engine.store.pending_inbound()] == [cid]
            await w.nothing_more()
        assert [e["text"] for e in entries(await w.turn())] == ["hello", WELCOME]
    assert await engine.store.pending_inbound() == []


async def test_quick_reply_sends_its_payload(base_url: str, engine: Engine) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        await w.say(payload="/ask_hours", title="Opening hours")
        frames = await w.turn()
    mine, reply = entries(frames)
    assert mine["text"] == "/ask_hours" and reply["text"] == HOURS
    (stored,) = await user_messages(engine, f"widget:{sid}")
    assert stored.intent_name == "ask_hours" and stored.metadata["title"] == "Opening hours"


async def test_a_resent_message_is_acked_again_but_answered_once(base_url: str, engine: Engine) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        cid = await w.say("hello")
        first = await w.turn()
        await w.say("hello", client_id=cid)
        assert await w.recv() == {"type": "ack", "client_id": cid}
        await w.nothing_more()
    assert len(entries(first)) == 2
    assert [e.sender for e in await engine.history(f"widget:{sid}")] == ["client", "bot"]
    assert [m.message_id for m in await user_messages(engine, f"widget:{sid}")] == [cid]


async def test_a_message_resent_after_a_dropped_connection_is_answered_once(
    base_url: str, engine: Engine
) -> None:
    sid, cid = session(), uuid.uuid4().hex
    conversation = f"widget:{sid}"
    async with widget(base_url) as w:
        async with engine.locks.lock(conversation):  # the bot is busy, so this turn waits
            async with widget(base_url) as dropped:
                await dropped.hello(sid)
                await dropped.say("hello", client_id=cid)
                assert (await dropped.recv())["type"] == "ack"
            # that connection dropped: the widget cannot know its message arrived, so it re-sends it
            assert await w.hello(sid) == []
            await w.say("hello", client_id=cid)
            assert await w.recv() == {"type": "ack", "client_id": cid}
            await w.nothing_more()
        # the bot's turn runs now, and the reconnected widget is sent both lines, once
        seen = entries([await w.recv(), await w.recv()])
        await w.nothing_more()
    assert [(e["sender"], e["text"], e["message_id"]) for e in seen] == [
        ("client", "hello", cid),
        ("bot", WELCOME, None),
    ]
    assert [m.message_id for m in await user_messages(engine, conversation)] == [cid]


async def test_reconnect_with_last_seq_gets_only_what_was_missed(base_url: str, engine: Engine) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        await w.say("hello")
        last_seen = entries(await w.turn())[-1]["seq"]
    # while this widget is away: the client writes from another tab, and an agent answers
    async with widget(base_url) as other:
        await other.hello(sid, last_seq=last_seen)
        await other.say(payload="/ask_hours", title="Opening hours")
        await other.turn()
    await agent_says(engine, f"widget:{sid}", "Hi, this is Oksana from the front desk.")
    async with widget(base_url) as w:
        missed = await w.hello(sid, last_seq=last_seen)
        await w.nothing_more()
    assert [(e["sender"], e["text"]) for e in missed] == [
        ("client", "/ask_hours"),
        ("bot", HOURS),
        ("agent", "Hi, this is Oksana from the front desk."),
    ]
    assert all(e["seq"] > last_seen for e in missed)
    assert [e["seq"] for e in missed] == sorted({e["seq"] for e in missed})
    async with widget(base_url) as fresh:  # a reloaded page (no last_seq) gets everything, once
        assert [e["text"] for e in await fresh.hello(sid)] == [
            "hello",
            WELCOME,
            "/ask_hours",
            HOURS,
            "Hi, this is Oksana from the front desk.",
        ]


async def test_agent_replies_are_pushed_to_the_open_widget(
    base_url: str, engine: Engine, app: FastAPI
) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        await agent_says(engine, f"widget:{sid}", "Your booking is confirmed.")
        pushed = await w.recv()
        assert pushed["type"] == "message"
        assert (pushed["entry"]["sender"], pushed["entry"]["text"]) == ("agent", "Your booking is confirmed.")
        # send() delivers from the log: it shows nothing twice, and nothing that is not stored
        await app.state.channels["widget"].send(OutboundMessage(channel="widget", recipient_id=sid, text="x"))
        await w.nothing_more()


async def test_two_tabs_of_one_session_both_see_the_conversation(base_url: str) -> None:
    sid = session()
    async with widget(base_url) as a, widget(base_url) as b:
        await a.hello(sid)
        await b.hello(sid)
        await a.say("thanks")
        await a.turn()
        seen_by_b = [await b.recv(), await b.recv()]
    assert [f["entry"]["text"] for f in seen_by_b] == ["thanks", YOU_ARE_WELCOME]


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        "[1, 2, 3]",
        json.dumps({"type": "dance"}),
        json.dumps({"type": "hello"}),
        json.dumps({"type": "hello", "session_id": "x"}),
        json.dumps({"type": "message", "text": "no client id"}),
        json.dumps({"type": "message", "client_id": "c" * 10, "text": "   "}),
        b"\x00\x01binary",
    ],
)
async def test_malformed_frames_get_a_friendly_error_and_the_socket_stays_up(
    base_url: str, engine: Engine, frame: str | bytes
) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        await w.send(frame)
        error = await w.recv()
        assert error["type"] == "error"
        assert error["message"] == "Sorry, I couldn't read that message. Please try again."
        assert "Traceback" not in json.dumps(error)
        cid = await w.say("hello")
        frames = await w.turn()
    assert frames[0] == {"type": "ack", "client_id": cid}
    assert entries(frames)[-1]["text"] == WELCOME
    assert [m.text for m in await user_messages(engine, f"widget:{sid}")] == ["hello"]


async def test_an_invalid_message_names_its_client_id_so_the_widget_stops_resending(base_url: str) -> None:
    async with widget(base_url) as w:
        await w.hello(session())
        await w.say("", client_id="empty-message-1")
        error = await w.recv()
    assert error["type"] == "error" and error["client_id"] == "empty-message-1" and error["retry"] is False


async def test_a_message_before_hello_is_refused_for_a_retry(base_url: str, engine: Engine) -> None:
    sid = session()
    async with widget(base_url) as w:
        cid = await w.say("hello")
        error = await w.recv()
        assert error["type"] == "error" and error["client_id"] == cid and error["retry"] is True
        await w.hello(sid)
        await w.say("hello", client_id=cid)
        assert (await w.turn())[0] == {"type": "ack", "client_id": cid}
    assert [m.message_id for m in await user_messages(engine, f"widget:{sid}")] == [cid]


async def test_a_message_the_database_cannot_store_is_not_acked_and_can_be_retried(
    base_url: str, engine: Engine
) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        async with table_missing(engine, "inbound_messages"):
            cid = await w.say("hello")
            error = await w.recv()
        assert error == {
            "type": "error",
            "client_id": cid,
            "retry": True,
            "message": "Sorry, your message didn't reach us. We'll try sending it again.",
        }
        await w.say("hello", client_id=cid)  # what the widget does after a retryable error
        frames = await w.turn()
    assert frames[0] == {"type": "ack", "client_id": cid}
    assert [e["text"] for e in entries(frames)] == ["hello", WELCOME]


async def test_a_turn_the_database_cannot_save_is_reported_and_the_socket_stays_up(
    base_url: str, engine: Engine
) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        async with table_missing(engine, "events"):
            await w.say("hello")
            frames = await w.turn()
        assert [f["type"] for f in frames] == ["ack", "typing", "error", "typing"]
        assert frames[2]["message"] == (
            "Sorry, something went wrong on our side. Please try again in a moment."
        )
        assert "events" not in json.dumps(frames)
        await w.say("thanks")
        # the "hello" whose turn could not be saved was kept in the journal, unanswered: once
        # the database is back it is answered, once, before the newer "thanks" (the engine
        # answers a conversation's earlier unanswered messages first), so the client reads
        # the replies in the order of their messages and nothing they wrote is lost
        assert [e["text"] for e in entries(await w.turn())] == ["hello", WELCOME, "thanks", YOU_ARE_WELCOME]
    assert await engine.store.pending_inbound() == []  # nothing left for the recovery sweep


async def test_a_history_the_database_cannot_read_is_reported_for_a_retry(
    base_url: str, engine: Engine
) -> None:
    sid = session()
    async with widget(base_url) as w:
        async with table_missing(engine, "events"):
            await w.send({"type": "hello", "session_id": sid, "last_seq": None})
            error = await w.recv()
        assert error == {
            "type": "error",
            "retry": True,
            "message": "Sorry, we couldn't load your conversation just now. We'll keep trying.",
        }
        assert await w.hello(sid) == []  # the same socket works once the database is back


async def test_health_counts_open_widgets(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client, widget(base_url) as w:
        await w.hello(session())
        report = (await client.get("/health")).json()
    assert report["status"] == "ok"
    assert report["components"]["channel:widget"] == {"status": "ok", "detail": "1 open connection"}
    assert report["components"]["database"] == {"status": "ok", "detail": "sqlite"}


def widget_tasks() -> list[str]:
    """The running tasks that belong to widget sockets (turn workers, catch-ups, followers)."""
    names = [getattr(t.get_coro(), "__qualname__", "") for t in asyncio.all_tasks()]
    return [n for n in names if n.startswith(("_Connection.", "SeqSocket."))]


async def test_an_idle_socket_holds_no_task_of_its_own_and_a_turn_worker_lives_only_while_it_works(
    base_url: str, engine: Engine
) -> None:
    quiet, talker = session(), session()
    async with widget(base_url) as a, widget(base_url) as b, widget(base_url) as c:
        await a.hello(quiet)
        await b.hello(quiet)  # a second tab: one more watcher, still no task
        await c.hello(talker)
        assert widget_tasks() == []  # connected, following, never wrote: no worker, no follower
        await c.say("when are you open")
        assert entries(await c.turn())[-1]["text"] == HOURS
        await agent_says(engine, f"widget:{quiet}", "We have a slot at 3 pm.")
        assert (
            (await a.recv())["entry"]["text"]
            == (await b.recv())["entry"]["text"]
            == "We have a slot at 3 pm."
        )
        async with asyncio.timeout(10):
            while widget_tasks():  # noqa: ASYNC110  # the worker and the catch-ups end once their work is done
                await asyncio.sleep(0.01)
        await c.say("thanks")  # the next message starts a worker again
        assert entries(await c.turn())[-1]["text"] == YOU_ARE_WELCOME


async def test_lines_stored_in_a_burst_reach_the_socket_once_each_in_seq_order(
    base_url: str, engine: Engine
) -> None:
    sid = session()
    async with widget(base_url) as w:
        await w.hello(sid)
        await asyncio.gather(*(agent_says(engine, f"widget:{sid}", f"line {n}") for n in range(20)))
        pushed = [(await w.recv())["entry"] for _ in range(20)]
        await w.nothing_more()
    seqs = [e["seq"] for e in pushed]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    assert {e["text"] for e in pushed} == {f"line {n}" for n in range(20)}


@pytest.mark.redis
async def test_a_line_stored_by_another_worker_reaches_the_socket_through_redis(
    trained: Settings, tmp_path: Path, redis_url: str
) -> None:
    """Two engines on one database and one Redis, like two workers: an agent's line stored
    through the second reaches a widget socket held by the first (one Redis reader per
    process hands it to the socket; no task per socket)."""
    shared = trained.model_copy(update={"redis_url": redis_url})
    async with real_engine(shared, tmp_path) as first, real_engine(shared, tmp_path) as second:
        async with serving(create_app(shared, engine=first)) as url, widget(url) as w:
            sid = session()
            await w.hello(sid)
            await agent_says(second, f"widget:{sid}", "Confirmed for Friday.")
            pushed = await w.recv(wait=10)
            assert (pushed["entry"]["sender"], pushed["entry"]["text"]) == ("agent", "Confirmed for Friday.")
            await w.nothing_more()
