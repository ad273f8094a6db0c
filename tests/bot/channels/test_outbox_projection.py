"""A turn and its replies commit together (the outbox projector), on real SQLite and PostgreSQL;
so do an agent's reply and its row; a send cut short by a dead worker is retried once, with
the row's stable key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter
from sqlalchemy import delete, update

from bot.channels.base import ChannelSection, MessageHandler, PushChannel
from bot.channels.outbox import MAYBE_SENT, Outbox, OutboxSettings, RateLimit
from bot.channels.outbox_projection import NOT_SENT, OutboxProjector, outbox_key
from bot.channels.tables import outbox as outbox_table
from bot.engine import Engine
from bot.errors import OutsideWindow
from bot.events import ActionExecuted, BotUttered, UserUttered
from bot.models import InboundMessage, OutboundMessage
from bot.store import EventStore
from bot.store.event_store import StoredEvent
from bot.store.tables import events as events_table
from console.services.workspace.actions import WorkspaceActions

from .helpers import HOURS, WELCOME, YOU_ARE_WELCOME

FAST = OutboxSettings(base_delay=0.02, max_delay=0.1, poll_interval=0.05, max_attempts=5, lease_seconds=5)
CONVERSATION = "pushy:client-7"


class PushyChannel(PushChannel):
    """A push channel that records what it was asked to deliver (and with which key)."""

    name = "pushy"

    def __init__(self, limit: int = 1000) -> None:
        super().__init__(ChannelSection(rate_limit=RateLimit(per_second=1000, burst=1000)))
        self.limit = limit
        self.delivered: list[tuple[str | None, str | None]] = []
        self.hold: asyncio.Event | None = None  # set: deliver waits for it (a send in flight)
        self.called = asyncio.Event()

    def router(self, handler: MessageHandler) -> APIRouter:
        return APIRouter()

    def split(self, message: OutboundMessage) -> list[OutboundMessage]:
        text = message.text or ""
        if len(text) <= self.limit:
            return [message]
        cuts = range(0, len(text), self.limit)
        return [message.model_copy(update={"text": text[i : i + self.limit]}) for i in cuts]

    async def deliver(self, message: OutboundMessage) -> str | None:
        self.delivered.append((message.text, message.idempotency_key))
        self.called.set()
        if self.hold is not None:
            await self.hold.wait()
        return f"p-{len(self.delivered)}"


class Exploding:
    """A read model whose apply fails: the append's transaction must roll back as a whole."""

    name = "exploding"
    handles = frozenset({"bot"})

    async def apply(self, conn: object, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        raise RuntimeError("the process died here")

    async def reset(self, conn: object) -> None:
        return None


def inbound(message_id: str = "m-1", text: str = "when are you open") -> InboundMessage:
    return InboundMessage(channel="pushy", sender_id="client-7", text=text, message_id=message_id)


def turn(message: InboundMessage, *replies: str) -> list[UserUttered | BotUttered | ActionExecuted]:
    return [
        UserUttered(text=message.text, message_id=message.message_id),
        *(BotUttered(text=reply) for reply in replies),
        ActionExecuted(name="action_listen"),
    ]


async def rows_of(store: EventStore) -> list[tuple[str, str, str]]:
    outbox = Outbox(store.engine)
    return [(r.idempotency_key, r.message.text or "", r.status) for r in await outbox.rows()]


async def test_a_turns_replies_are_outbox_rows_written_with_its_events_and_outcome(
    migrated_store: EventStore,
) -> None:
    OutboxProjector.install(migrated_store, {"pushy": PushyChannel()})
    message = inbound()
    assert await migrated_store.record_inbound(message)
    seqs = await migrated_store.append(
        CONVERSATION,
        turn(message, "We are open 8-21.", "Anything else?"),
        outcome=(message.message_id, "processed", None),
    )
    assert await rows_of(migrated_store) == [
        (outbox_key(CONVERSATION, seqs[1]), "We are open 8-21.", "queued"),
        (outbox_key(CONVERSATION, seqs[2]), "Anything else?", "queued"),
    ]
    assert await migrated_store.pending_inbound() == []


async def test_a_turn_that_dies_before_its_commit_leaves_no_reply_row_and_its_message_pending(
    migrated_store: EventStore,
) -> None:
    channel = PushyChannel()
    OutboxProjector.install(migrated_store, {"pushy": channel})
    migrated_store.add_projector(Exploding())  # applied after the outbox rows were inserted
    message = inbound()
    assert await migrated_store.record_inbound(message)
    with pytest.raises(RuntimeError, match="died here"):
        await migrated_store.append(
            CONVERSATION, turn(message, "We are open 8-21."), outcome=(message.message_id, "processed", None)
        )
    # nothing half-done: no events, no rows, and the message is still there to be processed again
    assert await migrated_store.load(CONVERSATION) == []
    assert await rows_of(migrated_store) == []
    assert [m.message_id for m in await migrated_store.pending_inbound()] == ["m-1"]


async def test_long_lines_become_keyed_pieces_and_other_lines_get_no_rows(migrated_store: EventStore) -> None:
    OutboxProjector.install(migrated_store, {"pushy": PushyChannel(limit=5)})
    seqs = await migrated_store.append(
        CONVERSATION,
        [
            BotUttered(text="abcdefgh"),
            BotUttered(text="late", metadata={"sender": "agent", NOT_SENT: "outside_window"}),
        ],
    )
    await migrated_store.append("widget:w-1", [BotUttered(text="the widget reads the log")])
    key = outbox_key(CONVERSATION, seqs[0])
    assert await rows_of(migrated_store) == [
        (f"{key}:part0", "abcde", "queued"),
        (f"{key}:part1", "fgh", "queued"),
    ]


async def test_a_rebuild_of_the_read_models_sends_no_line_again(migrated_store: EventStore) -> None:
    channel = PushyChannel()
    OutboxProjector.install(migrated_store, {"pushy": channel})
    outbox = Outbox(migrated_store.engine, FAST)
    channel.attach(outbox)
    await migrated_store.append(CONVERSATION, [BotUttered(text="sent an hour ago")])
    await migrated_store.append("pushy:client-8", [BotUttered(text="from before the outbox existed")])
    await outbox.drain(within=5)
    async with migrated_store.engine.begin() as conn:  # history: written long ago, one line never queued
        await conn.execute(update(events_table).values(created_at=datetime.now(UTC) - timedelta(hours=1)))
        await conn.execute(delete(outbox_table).where(outbox_table.c.conversation_id == "pushy:client-8"))
    assert await migrated_store.rebuild_projections() == 2
    await outbox.drain(within=5)
    assert [text for text, _key in channel.delivered] == [
        "sent an hour ago",
        "from before the outbox existed",
    ]
    assert [status for _key, _text, status in await rows_of(migrated_store)] == ["sent"]


async def test_a_send_cut_short_by_a_dead_worker_is_retried_once_with_the_same_key(
    migrated_store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    channel = PushyChannel()
    OutboxProjector.install(migrated_store, {"pushy": channel})
    seqs = await migrated_store.append(CONVERSATION, [BotUttered(text="your table is booked")])
    now = datetime.now(UTC)
    dying = Outbox(migrated_store.engine, FAST, clock=lambda: now)
    channel.attach(dying)
    channel.hold = asyncio.Event()
    attempt = asyncio.create_task(dying.run_once())
    await channel.called.wait()  # the provider has the message; our "sent" is not written yet
    attempt.cancel()  # the worker dies (kill -9: nothing after this point runs)
    with pytest.raises(asyncio.CancelledError):
        await attempt
    channel.hold = None

    later = now + timedelta(seconds=FAST.lease_seconds + 1)
    survivor = Outbox(migrated_store.engine, FAST, clock=lambda: later)
    channel.attach(survivor)
    with caplog.at_level(logging.WARNING, logger="bot.channels.outbox"):
        attempted, _wait = await survivor.run_once()
        assert attempted == 1
        assert (await survivor.run_once())[0] == 0  # once: nothing left to send
    (first, key_first), (again, key_again) = channel.delivered
    assert first == again == "your table is booked"
    assert key_first == key_again  # what a provider with idempotency keys would dedupe on
    assert key_first is not None and key_first.startswith(outbox_key(CONVERSATION, seqs[0]) + "@")
    (row,) = await survivor.rows()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert any("may see it twice" in r.getMessage() for r in caplog.records)
    assert "your table is booked" not in caplog.text  # never the message itself


async def test_a_row_found_mid_send_is_noted_as_maybe_sent_until_its_retry_ends(
    migrated_store: EventStore,
) -> None:
    channel = PushyChannel()
    OutboxProjector.install(migrated_store, {"pushy": channel})
    await migrated_store.append(CONVERSATION, [BotUttered(text="see you at 5")])
    now = datetime.now(UTC)
    outbox = Outbox(migrated_store.engine, FAST, clock=lambda: now)
    async with migrated_store.engine.begin() as conn:  # a worker claimed it and died
        await conn.execute(
            update(outbox_table).values(status="sending", attempts=1, lease_until=now - timedelta(seconds=1))
        )
    (row,) = await outbox.rows()
    claimed = await outbox._claim(row.id, now)
    assert claimed is not None and (claimed.status, claimed.attempts, claimed.last_error) == (
        "sending",
        2,
        MAYBE_SENT,
    )


class WindowedChannel(PushyChannel):
    """A push channel whose window is closed: every line is refused before it is stored."""

    async def prepare(self, message: OutboundMessage) -> OutboundMessage:
        raise OutsideWindow("the client's last message is older than 24 hours; the message was not sent")


async def test_an_agents_reply_and_its_outbox_row_are_one_commit(engine: Engine) -> None:
    store = engine.store
    channel = PushyChannel()
    OutboxProjector.install(store, {"pushy": channel})
    channel.attach(Outbox(store.engine, FAST))
    actions = WorkspaceActions(engine, runtime=None, channels={"pushy": channel})  # type: ignore[arg-type]
    agent_line = BotUttered(
        text="Anna here, how can I help?", metadata={"sender": "agent", "agent_name": "Anna"}
    )

    (view,) = await actions.store_and_send(CONVERSATION, [agent_line])
    assert (view.delivered, view.queued, view.error_kind) == (True, True, None)
    (row,) = await Outbox(store.engine).rows(conversation_id=CONVERSATION)
    assert row.idempotency_key == outbox_key(CONVERSATION, view.seq)
    assert (row.message.text, row.message.sender, row.message.custom) == (
        "Anna here, how can I help?",
        "agent",
        {"agent_name": "Anna"},  # what a template would need, stored with the line
    )

    store.add_projector(Exploding())  # the process dies inside the reply's transaction
    with pytest.raises(RuntimeError, match="died here"):
        await actions.store_and_send(CONVERSATION, [agent_line])
    assert len(await store.load(CONVERSATION)) == 1  # neither the second line ...
    assert len(await Outbox(store.engine).rows(conversation_id=CONVERSATION)) == 1  # ... nor its row


async def test_an_agents_reply_outside_the_window_is_stored_marked_and_gets_no_row(engine: Engine) -> None:
    store = engine.store
    channel = WindowedChannel()
    OutboxProjector.install(store, {"pushy": channel})
    channel.attach(Outbox(store.engine, FAST))
    actions = WorkspaceActions(engine, runtime=None, channels={"pushy": channel})  # type: ignore[arg-type]
    (view,) = await actions.store_and_send(CONVERSATION, [BotUttered(text="Sorry for the wait!")])
    assert (view.delivered, view.error_kind) == (False, "outside_window")
    assert view.error is not None and "24 hours" in view.error
    (stored,) = await store.load(CONVERSATION)
    assert isinstance(stored.event, BotUttered) and stored.event.metadata[NOT_SENT] == "outside_window"
    assert await Outbox(store.engine).rows(conversation_id=CONVERSATION) == []


async def test_messages_a_crash_left_unanswered_are_answered_before_a_newer_one(engine: Engine) -> None:
    OutboxProjector.install(engine.store, {"pushy": PushyChannel()})
    first, second, third = (
        inbound("m-1", "hello"),
        inbound("m-2", "when are you open"),
        inbound("m-3", "thanks"),
    )
    for message in (first, second, third):  # all acknowledged; the process died before any turn
        assert await engine.receive(message)
    await engine.process(third)  # the client's newest message reaches the restarted process first
    assert await engine.store.pending_inbound() == []
    texts = [text for _key, text, _status in await rows_of(engine.store)]
    assert texts == [WELCOME, HOURS, YOU_ARE_WELCOME]
    users = [s.event.text for s in await engine.store.load(CONVERSATION) if isinstance(s.event, UserUttered)]
    assert users == ["hello", "when are you open", "thanks"]
