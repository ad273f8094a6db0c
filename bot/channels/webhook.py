"""The shared webhook flow every provider uses: verify, store, acknowledge, process in order.

``POST /webhooks/<name>/webhook``:

1. :meth:`WebhookChannel.verify` first. A forged or unsigned request is answered 403,
   logged (without its body) and counted in the channel's health; nothing is stored.
2. :meth:`WebhookChannel.parse` turns the body into a :class:`WebhookBatch`; a signed but
   malformed body gets 400 with a short reason.
3. Messages whose provider id is one of our own sends (echoes) are dropped; the others go
   to ``handler.receive`` (durable, deduplicated by the provider's message id), a text over
   the limit cut to it first, the client told (:mod:`bot.channels.limits`). Only then is
   the provider answered 2xx, so a message we acknowledged is never lost, and a provider's
   retry of the same id is processed once. If storing fails part way the answer is 503 (the
   provider retries the whole request); the messages stored before the failure are
   processed now, and the retry finds them duplicates.
4. Delivery receipts move outbox rows forward (:meth:`bot.channels.outbox.Outbox.record_receipt`).
5. Message kinds we cannot read get a polite reply through the outbox (idempotent per
   provider id, so a redelivery does not repeat it).
6. New messages are processed in the background, one at a time per conversation, in
   arrival order (:class:`ConversationSequencer`); the bot's replies become outbox rows in
   the transaction that stores the turn (:mod:`bot.channels.outbox_projection`), so a
   crash never leaves a turn answered in the log but not on the wire.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from abc import abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import ClassVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.channels.addresses import is_opaque
from bot.channels.base import ChannelSection, MessageHandler, PushChannel
from bot.channels.limits import too_long_notice
from bot.channels.outbox import ReceiptStatus
from bot.errors import BadPayload, Unauthorized
from bot.models import Button, InboundMessage, OutboundMessage

log = logging.getLogger(__name__)

UNSUPPORTED_REPLY = (
    "Sorry, I can't open this kind of message here. Could you write it as text, "
    "or send a photo or document instead?"
)
_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def _size(text: str, in_bytes: bool) -> int:
    return len(text.encode("utf-8")) if in_bytes else len(text)


def split_text(text: str, size: int, in_bytes: bool = False) -> list[str]:
    """``text`` in pieces of at most ``size`` characters (or UTF-8 bytes), cut at a nearby newline.

    For providers with a length limit per message (Telegram 4096 characters, Messenger 2000,
    Instagram 1000 bytes): a cut goes at the last newline in the second half of a piece,
    else at the limit; a text that fits is one piece.
    """
    parts = []
    while _size(text, in_bytes) > size:
        end = size
        while _size(text[:end], in_bytes) > size:
            end -= 1
        cut = text.rfind("\n", 0, end)
        cut = cut if cut > end // 2 else end
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def json_body(body: bytes) -> object:
    """The request body as JSON; :class:`BadPayload` when it is not JSON (or not UTF-8)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadPayload("the request body is not valid JSON") from None


def numbered_options(text: str, buttons: Iterable[Button]) -> str:
    """Buttons as numbered lines under ``text``, for channels without buttons of their own."""
    options = "\n".join(f"{i}. {b.title}" for i, b in enumerate(buttons, start=1))
    return f"{text}\n\n{options}\n\nReply with a number." if text else f"{options}\n\nReply with a number."


async def resolve_numbered_choice(message: InboundMessage, handler: MessageHandler) -> InboundMessage:
    """A bare number answering numbered options becomes that option's payload.

    The options are the buttons of the conversation's latest bot or agent line (from the
    event log); the typed number and the option's title stay in ``metadata``.
    """
    match = _CHOICE.match(message.text or "")
    if match is None:
        return message
    entries = await handler.history(message.conversation_id)
    offered = next((e.buttons for e in reversed(entries) if e.sender != "client"), [])
    index = int(match.group(1)) - 1
    if not 0 <= index < len(offered):
        return message
    chosen = offered[index]
    metadata = {**message.metadata, "title": chosen.title, "typed": message.text or ""}
    return message.model_copy(update={"text": chosen.payload, "metadata": metadata})


def with_attachment_metadata(message: InboundMessage) -> InboundMessage:
    """Copy the attachments into ``metadata["attachments"]`` (JSON) so the event log keeps them.

    The engine stores a message's metadata with its ``UserUttered`` event; this is how the
    console finds the photos, voice notes, documents and locations a client sent.
    """
    if not message.attachments or "attachments" in message.metadata:
        return message
    listed = json.dumps([a.model_dump(exclude_none=True) for a in message.attachments], ensure_ascii=False)
    return message.model_copy(update={"metadata": {**message.metadata, "attachments": listed}})


class WebhookSection(ChannelSection):
    """Options of every webhook channel's ``credentials.yml`` section.

    ``unsupported_reply`` replaces :data:`UNSUPPORTED_REPLY`, the polite answer to a kind of
    message the channel cannot read.
    """

    unsupported_reply: str | None = None


class Receipt(BaseModel):
    """A provider's delivery report for one of our messages."""

    provider_message_id: str
    status: ReceiptStatus
    at: datetime | None = None
    error: str | None = None


class Unsupported(BaseModel):
    """A client message of a kind we cannot read (it gets a polite reply, no bot turn)."""

    sender_id: str
    provider_message_id: str
    kind: str


class WebhookBatch(BaseModel):
    """What one webhook request carried."""

    messages: list[InboundMessage] = Field(default_factory=list)
    receipts: list[Receipt] = Field(default_factory=list)
    unsupported: list[Unsupported] = Field(default_factory=list)


# Turns running at once per process. Each turn holds a database connection while it
# appends; the default pool has 15 (5 + 10 overflow) shared with the outbox sender and the
# console, so a backlog (a restart after a crash, a provider's burst) must not start one
# turn per conversation at once: in bench/crash.py 100 did, and 7 of 1,000 turns failed
# with "QueuePool limit ... reached" (session 5). The rest wait their turn, in order.
MAX_PARALLEL_TURNS = 8


class ConversationSequencer:
    """Runs jobs one at a time per conversation, in submission order; conversations run in
    parallel, at most ``max_parallel`` jobs at once."""

    def __init__(self, max_parallel: int = MAX_PARALLEL_TURNS) -> None:
        self._queues: dict[str, deque[Callable[[], Awaitable[None]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_parallel)

    def submit(self, key: str, job: Callable[[], Awaitable[None]]) -> None:
        """Queue ``job`` behind the conversation's earlier jobs."""
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        self._queues[key] = deque([job])
        task = asyncio.create_task(self._run(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue.popleft()
                try:
                    async with self._slots:
                        await job()
                except Exception:
                    log.exception("webhook: background work for a conversation failed")
        finally:
            del self._queues[key]

    async def idle(self, within: float = 30.0) -> None:
        """Wait until every queued job has run (tests; shutdown)."""
        deadline = asyncio.get_running_loop().time() + within
        while self._tasks:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError("webhook: background work still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def close(self, grace: float = 10.0) -> None:
        """Let running work finish for up to ``grace`` seconds, then cancel it.

        A cancelled message stays ``received`` in the inbound journal and is processed
        at the next start.
        """
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()


class WebhookChannel(PushChannel):
    """A provider that calls our webhook: the shared flow above; subclasses add the wire format."""

    unsupported_reply: str = UNSUPPORTED_REPLY
    numbered_choices: ClassVar[bool] = False  # buttons go out as "1. ..." lines (see resolve)

    def __init__(self, config: ChannelSection | None = None) -> None:
        super().__init__(config)
        if isinstance(self.config, WebhookSection) and self.config.unsupported_reply:
            self.unsupported_reply = self.config.unsupported_reply
        self.sequencer = ConversationSequencer()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # ---- what a provider implements -------------------------------------------
    @abstractmethod
    async def verify(self, request: Request, body: bytes) -> None:
        """Raise :class:`~bot.errors.Unauthorized` unless the request is really from the provider."""

    @abstractmethod
    def parse(self, request: Request, body: bytes) -> WebhookBatch:
        """The request's messages, receipts and unsupported kinds; :class:`BadPayload` if unreadable."""

    def extra_routes(self, router: APIRouter) -> None:
        """Add provider-specific routes (e.g. Meta's GET verification handshake)."""
        return None

    def acknowledgement(self) -> Response:
        """The 2xx body the provider expects once the request is stored."""
        return JSONResponse({"status": "ok"})

    async def resolve(self, message: InboundMessage, handler: MessageHandler) -> InboundMessage:
        """``message`` as it should be stored: with ``numbered_choices``, a bare number
        answering numbered options becomes that option's payload; otherwise as it came."""
        if self.numbered_choices:
            return await resolve_numbered_choice(message, handler)
        return message

    # ---- the flow ----------------------------------------------------------------
    def router(self, handler: MessageHandler) -> APIRouter:
        """``POST /webhook`` (the shared flow) plus the provider's :meth:`extra_routes`."""
        self.handler = handler
        router = APIRouter()

        @router.post("/webhook")
        async def webhook(request: Request) -> Response:
            return await self.accept(request, handler)

        self.extra_routes(router)
        return router

    async def accept(self, request: Request, handler: MessageHandler) -> Response:
        """Run one webhook request through the flow (see the module docstring)."""
        body = await request.body()
        try:
            await self.verify(request, body)
        except Unauthorized as exc:
            self.stats.refused += 1
            client = request.client.host if request.client else "unknown"
            log.warning("%s: refused a webhook request from %s: %s", self.name, client, exc)
            return JSONResponse({"error": "forbidden", "message": "signature check failed"}, status_code=403)
        try:
            batch = self.parse(request, body)
        except BadPayload as exc:
            log.warning("%s: unreadable webhook payload: %s", self.name, exc)
            return JSONResponse({"error": "bad_payload", "message": str(exc)}, status_code=400)
        try:
            fresh = await self.store(batch.messages, handler)
        except Exception:
            # nothing is acknowledged: the provider retries the whole request, and the
            # messages stored before the failure are duplicates then (already scheduled)
            log.exception("%s: could not store a webhook request's messages", self.name)
            return JSONResponse(
                {"error": "unavailable", "message": "could not store the messages; please retry"},
                status_code=503,
            )
        await self.apply_receipts(batch.receipts)
        for item in batch.unsupported:
            await self.reply_unsupported(item)
        for message in fresh:
            self.schedule(message, handler)
        return self.acknowledgement()

    async def store(
        self, messages: Iterable[InboundMessage], handler: MessageHandler
    ) -> list[InboundMessage]:
        """Durably store each message (skipping echoes and duplicates); the new ones, in order.

        Each message goes through :meth:`resolve` first. The caller schedules the returned
        messages (:meth:`schedule`). If storing fails part way (the provider then retries the
        whole request and the retry finds the stored ones duplicates), the messages already
        stored are scheduled here before the error is raised, so none is left unprocessed
        and none is processed twice.
        """
        resolved = [await self.resolve(await self.addressed(m), handler) for m in messages]
        fresh: list[InboundMessage] = []
        try:
            for message in resolved:
                if self.outbox is not None and await self.outbox.is_ours(self.name, message.message_id):
                    log.info("%s: ignored an echo of our own message", self.name)
                    continue
                self.stats.inbound(self.clock())
                message = with_attachment_metadata(message)
                message, cut = self.guard.bound(message)  # stored cut to the text limit, and said so
                if await handler.receive(message):
                    fresh.append(message)
                    if cut:
                        await self.reply_too_long(message)
                else:
                    log.info("%s: duplicate delivery of message %s ignored", self.name, message.message_id)
        except Exception:
            for stored in fresh:
                self.schedule(stored, handler)
            raise
        return fresh

    async def addressed(self, message: InboundMessage) -> InboundMessage:
        """``message`` with its sender id (the provider's address of the client) replaced by
        the opaque token of its conversation (:meth:`token_of`); one already carrying a
        token (an e-mail answering our mail) passes as it is."""
        if is_opaque(message.sender_id):
            return message
        return message.model_copy(update={"sender_id": await self.token_of(message.sender_id)})

    async def apply_receipts(self, receipts: Iterable[Receipt]) -> None:
        """Record delivery receipts in the outbox (forward only)."""
        for receipt in receipts:
            if self.outbox is None:
                log.warning("%s: a receipt arrived before the outbox started; ignored", self.name)
                return
            await self.outbox.record_receipt(
                self.name, receipt.provider_message_id, receipt.status, receipt.at, receipt.error
            )

    async def reply_unsupported(self, item: Unsupported) -> None:
        """A polite reply to a kind of message we cannot read; once per provider message id."""
        log.info("%s: unsupported message kind %r", self.name, item.kind)
        recipient = item.sender_id if is_opaque(item.sender_id) else await self.token_of(item.sender_id)
        reply = OutboundMessage(
            channel=self.name, recipient_id=recipient, text=self.unsupported_reply, sender="system"
        )
        await self.enqueue(reply, key=f"{self.name}:unsupported:{item.provider_message_id}")

    async def reply_too_long(self, message: InboundMessage) -> None:
        """Tell a client their long message was cut to the limit (once per provider message id)."""
        log.info("%s: a message over %d characters was cut", self.name, self.guard.max_chars)
        notice = too_long_notice(message.text or "", self.guard.max_chars)
        reply = OutboundMessage(
            channel=self.name, recipient_id=message.sender_id, text=notice, sender="system"
        )
        await self.enqueue(reply, key=f"{self.name}:too_long:{message.message_id}")

    def schedule(self, message: InboundMessage, handler: MessageHandler) -> None:
        """Process ``message`` in the background, after its conversation's earlier messages."""

        async def job() -> None:
            await handler.process(message)
            self.replies_stored()

        self.sequencer.submit(message.conversation_id, job)

    def replies_stored(self) -> None:
        """A turn committed: its replies are outbox rows already (written with its events,
        :mod:`bot.channels.outbox_projection`), so the worker only needs a nudge."""
        if self.outbox is not None:
            self.outbox.wake()

    async def idle(self, within: float = 30.0) -> None:
        """Wait until every accepted message has been processed and its replies queued."""
        await self.sequencer.idle(within)

    async def close(self) -> None:
        """Finish (briefly) the messages being processed."""
        await self.sequencer.close()
