"""The website chat widget's channel: one WebSocket per open widget, at ``/webhooks/widget/ws``.

Protocol (JSON text frames; every client frame is validated):

client -> server
    ``{"type": "hello", "session_id": "...", "last_seq": 12 | null, "client_token"?: "..."}`` on
    every (re)connect; ``client_token`` is the site's signed identity of its logged-in customer
    (``bot/channels/widget_identity.py``): when valid, the socket's messages carry it as a
    verified identity (``InboundMessage.identities``); when not, the chat stays anonymous.
    ``{"type": "message", "client_id": "<uuid>", "text": "..."}`` or with ``"payload": "/intent"``
    (a quick reply; ``"title"`` optional). ``client_id`` becomes the message id, so a message
    re-sent after a reconnect is stored and answered once.

server -> client
    ``{"type": "history", "entries": [TranscriptEntry, ...]}``: everything after ``last_seq``.
    ``{"type": "ack", "client_id": "..."}``: the message is stored (sent before the bot thinks).
    ``{"type": "typing", "on": true | false}`` around the bot's turn.
    ``{"type": "message", "entry": TranscriptEntry}``: a new line (the client's own message
    echoed with its ``seq``, bot replies, agent replies pushed later).
    ``{"type": "error", "message": "...", "client_id"?: "...", "retry": bool, "detail"?: "...",
    "retry_after"?: seconds}``: ``message`` is for the visitor, ``detail`` for developers; the
    socket stays up. A text over the limit (``guard.max_chars``), a frame over 64 K characters
    and a message over the sender's or the address's rate (``retry_after``) are refused this
    way, nothing stored (:mod:`bot.channels.limits`).

Lines reach a socket only from the event log, in ``seq`` order and at most once per socket
(:class:`bot.live_socket.SeqSocket`, shared with the agent console's socket): live notices
(the engine's ``subscribe``, on any process when the feed is Redis) and the end of a turn
both trigger a catch-up from ``history(after_seq=<last seq sent>)``. The socket subscribes
before it reads the history, so it never skips a line published while it was connecting,
and a reconnecting client loses nothing.

An idle socket is cheap (docs/benchmarks.md, "Idle widget sockets"): notices reach it by
callback from the feed's one delivery path per process (no queue, no task per socket), and
its turn worker runs only while it has messages to answer (started by the first one).

The browser side is ``console/static/widget.js``; see its header for the embed snippet.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Literal, Self

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from bot.channels.base import ChannelAdapter, MessageHandler, describe_validation_error
from bot.channels.limits import slow_down, too_long_refusal
from bot.channels.widget_identity import MIN_SECRET, InvalidToken, verify_token
from bot.errors import ConfigError
from bot.live import Subscription
from bot.live_socket import SeqSocket
from bot.models import ComponentHealth, InboundMessage, OutboundMessage, TranscriptEntry, VerifiedIdentity

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # what the page sends at most; the server's limit is the guard's max_chars
MAX_FRAME_CHARS = 65_536  # a frame longer than this is refused before it is parsed
ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
UNREADABLE = "Sorry, I couldn't read that message. Please try again."
NOT_DELIVERED = "Sorry, your message didn't reach us. We'll try sending it again."
TURN_FAILED = "Sorry, something went wrong on our side. Please try again in a moment."
NO_HISTORY = "Sorry, we couldn't load your conversation just now. We'll keep trying."


class HelloFrame(BaseModel):
    """A (re)connecting widget names its session and the last line it already shows."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["hello"]
    session_id: str = Field(pattern=ID_PATTERN)
    last_seq: int | None = Field(default=None, ge=0)
    client_token: str | None = Field(default=None, max_length=2048)


class MessageFrame(BaseModel):
    """A client message: typed ``text``, or a quick reply's ``payload`` (and its ``title``)."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["message"]
    client_id: str = Field(pattern=ID_PATTERN)
    text: str | None = None  # its limit is checked by the connection (guard.max_chars)
    payload: str | None = Field(default=None, max_length=MAX_TEXT)
    title: str | None = Field(default=None, max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _one_body(self) -> MessageFrame:
        if not (self.text or "").strip() and not (self.payload or "").strip():
            raise ValueError("a message needs a non-empty text or payload")
        return self

    def to_inbound(
        self, channel: str, session_id: str, identity: VerifiedIdentity | None = None
    ) -> InboundMessage:
        """The engine's view: a payload is sent as the text, as Rasa's widgets do; the identity
        a verified client token proved (none for an anonymous visitor) goes with it."""
        text = self.payload if (self.payload or "").strip() else self.text
        metadata: dict[str, str] = {}
        if self.payload and self.title:
            metadata["title"] = self.title
        return InboundMessage(
            channel=channel,
            sender_id=session_id,
            text=text,
            message_id=self.client_id,
            metadata=metadata,
            identities=[identity] if identity is not None else [],
        )


CLIENT_FRAMES = TypeAdapter(Annotated[HelloFrame | MessageFrame, Field(discriminator="type")])


class _Connection:
    """One open widget socket: reads frames, acks, runs turns in order, delivers lines by seq."""

    __slots__ = (
        "_turns",
        "_watch",
        "_worker",
        "channel",
        "handler",
        "identity",
        "session_id",
        "socket",
        "ws",
    )

    def __init__(self, ws: WebSocket, handler: MessageHandler, channel: WidgetChannel) -> None:
        self.ws = ws
        self.handler = handler
        self.channel = channel
        self.socket = SeqSocket(ws)  # frames in order; the seq of the last line shown
        self.session_id: str | None = None
        self.identity: VerifiedIdentity | None = None  # from a verified client token
        # acknowledged, not yet answered; the worker and its queue exist only while there are some
        self._turns: deque[InboundMessage] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._watch: Subscription | None = None  # this conversation's live notices

    @property
    def conversation_id(self) -> str | None:
        return f"{self.channel.name}:{self.session_id}" if self.session_id else None

    @property
    def closed(self) -> bool:
        return self.socket.closed

    async def run(self) -> None:
        """Serve the socket until the client leaves; accepted messages are processed even after."""
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._on_frame(message.get("text"))
        except WebSocketDisconnect:
            return
        finally:
            self.socket.stop()  # a running turn worker still finishes the queued turns
            self._unwatch()
            self.channel.forget(self)

    async def _on_frame(self, text: str | None) -> None:
        if text is None:
            await self._send(
                {"type": "error", "message": UNREADABLE, "retry": False, "detail": "send JSON text frames"}
            )
            return
        if len(text) > MAX_FRAME_CHARS:
            limit = self.channel.guard.max_chars
            await self._send(
                {
                    "type": "error",
                    "message": too_long_refusal(text, limit),
                    "retry": False,
                    "detail": f"frames are limited to {MAX_FRAME_CHARS} characters",
                }
            )
            return
        try:
            raw = json.loads(text)
        except ValueError:
            await self._send({"type": "error", "message": UNREADABLE, "retry": False, "detail": "not JSON"})
            return
        try:
            frame = CLIENT_FRAMES.validate_python(raw)
        except ValidationError as exc:
            client_id = raw.get("client_id") if isinstance(raw, dict) else None
            await self._send(
                {
                    "type": "error",
                    "message": UNREADABLE,
                    "retry": False,
                    "detail": describe_validation_error(exc),
                    **({"client_id": client_id} if isinstance(client_id, str) else {}),
                }
            )
            return
        if isinstance(frame, HelloFrame):
            await self._hello(frame)
        else:
            await self._message(frame)

    async def _hello(self, frame: HelloFrame) -> None:
        self.identity = self.channel.verify(frame.client_token) if frame.client_token else None
        if frame.session_id != self.session_id:
            self._unwatch()
            self.channel.forget(self)
            self.session_id = frame.session_id
            self.channel.remember(self)
            follow = True
        else:
            follow = False

        def history(entries: list[TranscriptEntry]) -> list[dict[str, object]]:
            return [{"type": "history", "entries": [e.model_dump(mode="json") for e in entries]}]

        # Subscribed before the history is read (nothing falls in between), and holding the
        # socket's lock throughout, so a notice cannot send lines ahead of the history frame.
        async with self.socket.lock:
            if follow:
                self._watch = self.handler.subscribe(self.conversation_id or "", on_batch=self._on_notice)
                await self._watch.ready()  # False: the feed is away; a gap notice comes when it is back
            read = self._reader()
            if not await self.socket.catch_up_locked(read, history, after=frame.last_seq, reset=True):
                await self.socket.write({"type": "error", "message": NO_HISTORY, "retry": True})

    async def _message(self, frame: MessageFrame) -> None:
        if self.session_id is None:
            await self._send(
                {
                    "type": "error",
                    "message": NOT_DELIVERED,
                    "client_id": frame.client_id,
                    "retry": True,
                    "detail": "send hello first",
                }
            )
            return
        if await self._refused(frame):
            return
        inbound = frame.to_inbound(self.channel.name, self.session_id, self.identity)
        try:
            fresh = await self.handler.receive(inbound)
        except Exception:
            log.exception("widget: storing a message failed")
            await self._send(
                {"type": "error", "message": NOT_DELIVERED, "client_id": frame.client_id, "retry": True}
            )
            return
        await self._send({"type": "ack", "client_id": frame.client_id})
        if fresh:  # a re-sent duplicate is acknowledged again but answered only once
            if self._turns is None:
                self._turns = deque()
            self._turns.append(inbound)
            if self._worker is None:
                self._worker = self.channel.track(asyncio.create_task(self._work(self._turns)))

    async def _refused(self, frame: MessageFrame) -> bool:
        """Refuse (with an error frame the visitor reads) a text over the limit, or a message
        over the sender's or the address's rate; True when refused, nothing stored then."""
        guard = self.channel.guard
        text = frame.text or ""
        wait = None
        if len(text) > guard.max_chars:
            message, detail = too_long_refusal(text, guard.max_chars), f"text over {guard.max_chars} chars"
        else:
            address = self.ws.client.host if self.ws.client else "unknown"
            wait = await guard.sender_wait(self.channel.name, self.session_id or "")
            if wait is None:
                wait = await guard.address_wait(address)
            if wait is None:
                return False
            message, detail = slow_down(text, wait), f"rate limited; retry after {wait} s"
        error: dict[str, object] = {"type": "error", "message": message, "client_id": frame.client_id}
        error.update({"retry": False, "detail": detail})
        if wait is not None:
            error["retry_after"] = wait
        await self._send(error)
        return True

    async def _work(self, turns: deque[InboundMessage]) -> None:
        """Run this socket's turns one at a time, in the order they were acknowledged, until
        none is left (the next message starts it again), even after the client left."""
        try:
            while turns:
                inbound = turns.popleft()
                await self._send({"type": "typing", "on": True})
                try:
                    await self.handler.process(inbound)
                except Exception:
                    log.exception("widget: a turn failed")
                    await self._send({"type": "error", "message": TURN_FAILED, "retry": False})
                await self.deliver()
                await self._send({"type": "typing", "on": False})
        finally:  # nothing awaits between the last check and here: no message is left behind
            self._worker, self._turns = None, None

    def _on_notice(self, _batch: list[TranscriptEntry]) -> None:
        """The live feed's callback: catch up from the log (the batch itself is only a cue)."""
        self.socket.notice(self.deliver)

    def _unwatch(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def _reader(self) -> Callable[[int | None], Awaitable[list[TranscriptEntry]]]:
        conversation_id = self.conversation_id or ""

        async def read(after_seq: int | None) -> list[TranscriptEntry]:
            return await self.handler.history(conversation_id, after_seq=after_seq)

        return read

    async def deliver(self) -> None:
        """Send every stored line this socket has not shown yet, in seq order."""
        if self.closed or self.session_id is None:
            return

        def one_each(entries: list[TranscriptEntry]) -> list[dict[str, object]]:
            return [{"type": "message", "entry": e.model_dump(mode="json")} for e in entries]

        await self.socket.catch_up(self._reader(), one_each)

    async def _send(self, frame: dict[str, object]) -> None:
        await self.socket.send(frame)


class WidgetChannel(ChannelAdapter):
    """The website widget: live sockets per conversation, resumable by seq."""

    name = "widget"

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self._sockets: dict[str, set[_Connection]] = defaultdict(set)
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: Settings | None) -> Self:
        """The widget, verifying client tokens with ``CONCIERGE_WIDGET_SECRET`` when it is set.

        A secret shorter than 16 characters is refused: tokens sit in page HTML, and a short
        HMAC key can be guessed offline from one of them.
        """
        secret = settings.widget_secret if settings is not None else None
        value = secret.get_secret_value() if secret is not None else None
        if value and len(value) < MIN_SECRET:  # empty means unset: an anonymous widget
            raise ConfigError(f"CONCIERGE_WIDGET_SECRET must be at least {MIN_SECRET} characters")
        return cls(secret=value or None)

    def verify(self, token: str) -> VerifiedIdentity | None:
        """The identity a client token proves, or None (logged) when it cannot be trusted."""
        if not self.secret:
            log.warning(
                "widget: a client token arrived but no widget secret is set; the chat stays anonymous"
            )
            return None
        try:
            return verify_token(token, self.secret)
        except InvalidToken as exc:  # never log the token: it names a customer
            log.warning("widget: client token rejected (%s); the chat stays anonymous", exc)
            return None

    def router(self, handler: MessageHandler) -> APIRouter:
        """``WS /ws``: the widget's socket.

        A plain Starlette WebSocket route: it takes no dependencies, and FastAPI's route
        would hold two exit stacks and the solved dependencies per socket for as long as
        the socket is open (about 3 KB each, measured).
        """
        router = APIRouter()

        async def socket(ws: WebSocket) -> None:
            await ws.accept()
            await _Connection(ws, handler, self).run()

        router.add_websocket_route("/ws", socket)
        return router

    async def send(self, message: OutboundMessage) -> None:
        """Deliver what the log holds for ``message``'s conversation to its open sockets.

        Store the message first (``Engine.append``): the widget shows lines from the event
        log only, so a client that is offline now gets it, numbered, on its next hello.
        """
        for connection in list(self._sockets.get(f"{self.name}:{message.recipient_id}", ())):
            await connection.deliver()

    def health(self) -> ComponentHealth:
        """``ok``, with the number of open widget sockets."""
        count = sum(len(sockets) for sockets in self._sockets.values())
        return ComponentHealth(status="ok", detail=f"{count} open connection{'' if count == 1 else 's'}")

    async def close(self) -> None:
        """Let in-flight turns finish (briefly), then stop."""
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()

    def track(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        """Keep a background task alive until it ends (asyncio holds only weak references)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def remember(self, connection: _Connection) -> None:
        """Register a socket under its conversation, for pushes."""
        if connection.conversation_id:
            self._sockets[connection.conversation_id].add(connection)

    def forget(self, connection: _Connection) -> None:
        """Drop a socket from the push table."""
        key = connection.conversation_id
        if key and key in self._sockets:
            self._sockets[key].discard(connection)
            if not self._sockets[key]:
                del self._sockets[key]
