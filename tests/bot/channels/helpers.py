"""Test support: a small real bot, the real engine over it, and the app served on a real port."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import uvicorn
from fastapi import FastAPI
from sqlalchemy import select, text

from bot.agent import Agent
from bot.channels.addresses import AddressBook, split_conversation_id
from bot.channels.base import ChannelAdapter
from bot.channels.media import Media
from bot.channels.tables import outbox
from bot.engine import Engine
from bot.errors import OutsideWindow
from bot.events import BotUttered, UserUttered
from bot.models import Attachment, InboundMessage
from bot.settings import Settings
from bot.store.tables import inbound_messages
from concierge.compose import build_engine
from console.services.workspace.actions import WorkspaceActions

WIDGET_BOT = Path(__file__).resolve().parent / "widget_bot"
WELCOME = "Welcome to Mariia Hub! How can I help?"
HOURS = "We are open 8:00-21:00 every day."
YOU_ARE_WELCOME = "You're welcome!"
FIXTURE_AGE_HOURS = 20 * 365 * 24.0


def train_widget_bot(root: Path) -> Settings:
    """The test bot copied under ``root`` and trained there once per test session.

    Pass the session's base temp dir: later calls (other test modules) find the model
    and only check it; engines built from the returned settings load it.
    """
    project = root / "widget_bot"
    if not project.is_dir():
        shutil.copytree(WIDGET_BOT, project)
    Agent.load_or_train(project, project / "models")
    # the payload fixtures were recorded with fixed provider dates (2025-2026): the freshness
    # window is widened for them, and the chat rate limits are off so tests may send freely;
    # tests/bot/channels/test_limits.py checks the real defaults
    return Settings(
        project_dir=project,
        model_dir=project / "models",
        webhook_max_age_hours=FIXTURE_AGE_HOURS,
        chat_per_ip_per_minute=0,
        chat_per_sender_per_minute=0,
    )


@asynccontextmanager
async def real_engine(trained: Settings, state_dir: Path) -> AsyncIterator[Engine]:
    """The real engine on the trained bot, with its own SQLite database in ``state_dir``."""
    engine = await build_engine(trained.model_copy(update={"state_dir": state_dir}))
    try:
        yield engine
    finally:
        await engine.close()


@asynccontextmanager
async def serving(app: FastAPI, port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on loopback (a free port by default) in this event loop; yields the URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # pytest owns signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error here
            raise RuntimeError("the server did not start (see the log for the lifespan error)")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def table_missing(engine: Engine, table: str) -> AsyncIterator[None]:
    """Make the real database fail (a table disappears) for a while, then heal it."""
    async with engine.store.engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        yield
    finally:
        async with engine.store.engine.begin() as conn:
            await conn.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))


async def conversation_of(engine: Engine, channel: str, address: str) -> str:
    """The opaque id a channel gives the conversation of ``address`` (a phone, an e-mail, a
    provider id), derived with the database's key (:mod:`bot.channels.addresses`)."""
    return await AddressBook(engine.store.engine).conversation_id(channel, address)


async def sender_of(engine: Engine, channel: str, address: str) -> str:
    """The sender id (token) that stands for ``address`` on ``channel``: what outbound
    messages carry as ``recipient_id``. The address is put on file as a client's first
    message does, so the outbox can send to it."""
    return split_conversation_id(await AddressBook(engine.store.engine).remember(channel, address))[1]


async def traces_of(engine: Engine, needle: str, logs: Iterable[logging.LogRecord]) -> list[str]:
    """Where ``needle`` (a phone's digits, an e-mail address) shows outside ``channel_addresses``:
    conversation ids, the console URLs built from them, outbox rows (every column), log lines."""
    seen: list[str] = []
    for summary in await engine.store.conversations():
        seen += [
            summary.id,
            summary.sender_id,
            f"/api/workspace/conversations/{quote(summary.id, safe=':')}",
            f"/api/media/{summary.channel}/{quote(summary.id, safe=':')}/1/0",
        ]
    async with engine.store.engine.connect() as conn:
        seen += [str(dict(row._mapping)) for row in await conn.execute(select(outbox))]
    seen += [record.getMessage() for record in logs]
    return [text for text in seen if needle.lower() in text.lower()]


async def user_messages(engine: Engine, conversation_id: str) -> list[UserUttered]:
    """The client messages stored for a conversation."""
    return [e for e in await engine.store.events(conversation_id) if isinstance(e, UserUttered)]


async def journal(engine: Engine, conversation_id: str) -> list[InboundMessage]:
    """The client messages as the channel handed them over (the inbound journal), oldest first:
    what the adapter proved about the sender (``identities``) and what it only claims (``hints``)."""
    stmt = (
        select(inbound_messages.c.payload)
        .where(inbound_messages.c.conversation_id == conversation_id)
        .order_by(inbound_messages.c.id)
    )
    async with engine.store.engine.connect() as conn:
        return [InboundMessage.model_validate(payload) for payload in (await conn.execute(stmt)).scalars()]


async def agent_says(engine: Engine, conversation_id: str, text: str) -> None:
    """Store a line from a person (on a push channel its outbox row comes with it, unprepared)."""
    await engine.append(conversation_id, [BotUttered(text=text, metadata={"sender": "agent"})])


async def agent_replies(
    engine: Engine, channels: Mapping[str, ChannelAdapter], conversation_id: str, text: str, **custom: object
) -> None:
    """What the console does when Ola answers (``WorkspaceActions.store_and_send``): the channel's
    checks (the service window, a template or a tag), then her line and its outbox row in one
    transaction; :class:`OutsideWindow` when the channel refuses (the line is kept, marked)."""
    line = BotUttered(
        text=text,
        data={"custom": custom} if custom else {},
        metadata={"sender": "agent", "agent_id": "agent-ola", "agent_name": "Ola"},
    )
    actions = WorkspaceActions(engine, runtime=None, channels=channels)  # type: ignore[arg-type]
    (delivery,) = await actions.store_and_send(conversation_id, [line])
    if delivery.error_kind == "outside_window":
        raise OutsideWindow(delivery.error or "outside the window")


def attachment_of(message: UserUttered, index: int = 0) -> Attachment:
    """Attachment ``index`` as the webhook flow recorded it with the client's message."""
    return Attachment.model_validate(json.loads(message.metadata["attachments"])[index])


async def content_of(media: Media) -> bytes:
    """All the bytes of a fetched file (reading a stream to the end closes the download)."""
    if isinstance(media.body, bytes):
        return media.body
    return b"".join([chunk async for chunk in media.body])
