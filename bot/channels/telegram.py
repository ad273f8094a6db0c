"""Telegram through python-telegram-bot: webhook mode for production, polling for local development.

Inbound. ``POST /webhooks/telegram/webhook`` carries one Bot API ``Update``; the request must
bear ``X-Telegram-Bot-Api-Secret-Token`` equal to the ``secret_token`` we registered with
``setWebhook`` (compared in constant time). In ``mode: polling`` a background task long-polls
``getUpdates`` instead (and deletes any webhook first, as Telegram requires); each update goes
through the same shared flow (:mod:`bot.channels.webhook`), and the offset only moves past an
update once it is stored, so nothing is lost on a crash.

Updates are parsed with python-telegram-bot's own models in :mod:`bot.channels.telegram_updates`
(text, media as ``telegram-file:<file_id>`` attachments that :meth:`TelegramChannel.file_url`
resolves through ``getFile`` and :meth:`TelegramChannel.fetch_media` downloads for the console,
locations, contacts, inline keyboard presses, edits). A button
press is acknowledged with ``answerCallbackQuery`` so the client's spinner stops; stickers,
polls and the like get the polite reply.

Outbound. The engine's replies go through the outbox; :meth:`TelegramChannel.deliver` calls the
Bot API with python-telegram-bot's ``Bot`` (its ``base_url`` points at a stand-in in tests):
``sendMessage`` (buttons as an inline keyboard, one button per row), ``sendPhoto`` for images
(the text as caption when it fits), ``sendDocument``/``sendVideo``/``sendAudio``/``sendLocation``
for attachments. Telegram's errors become :mod:`bot.errors`: 429 with
``parameters.retry_after`` -> :class:`RateLimited`; 403 (the client blocked the bot), 400, 401
-> not retryable; timeouts and 5xx -> retryable.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import hashlib
import hmac
import logging
import mimetypes
import os
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import Request
from pydantic import Field, model_validator
from telegram import Bot, File, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram import error as tg_error
from telegram.request import HTTPXRequest

from bot.channels.base import ChannelSection, MessageHandler
from bot.channels.limits import stale_log_line
from bot.channels.media import MAX_MEDIA_BYTES, OCTET_STREAM, Media, MediaNotFound, MediaTooLarge
from bot.channels.outbox import Outbox
from bot.channels.telegram_updates import FILE_SCHEME, batch_from_update, parse_update, update_date
from bot.channels.webhook import WebhookBatch, WebhookChannel, json_body, split_text
from bot.errors import BadPayload, ChannelError, RateLimited, Unauthorized
from bot.models import Attachment, Button, ComponentHealth, InboundMessage, OutboundMessage
from bot.periodic import cancel_and_wait

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PTB_TIMEDELTA = "PTB_TIMEDELTA"
MAX_TEXT = 4096  # sendMessage text limit
MAX_CAPTION = 1024  # sendPhoto caption limit
MAX_CALLBACK_DATA = 64  # bytes
HASHED_DATA = "#h:"  # callback_data for payloads too long to travel as they are
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# Telegram's documented default is 30 messages per second across all chats
DEFAULT_RATE = {"per_second": 25.0, "burst": 25}


class TelegramSection(ChannelSection):
    """The ``telegram:`` section of ``credentials.yml``.

    ``access_token`` is the token from @BotFather. ``mode: webhook`` needs ``secret_token``
    (1-256 characters of ``A-Z a-z 0-9 _ -``); with ``public_url`` set (our public
    ``https://`` origin) ``<public_url>/webhooks/telegram/webhook`` is registered with
    Telegram at start. ``mode: polling`` needs no public URL.
    """

    access_token: str = Field(min_length=1)
    mode: Literal["webhook", "polling"] = "webhook"
    secret_token: str = Field(default="", max_length=256, pattern=r"^[A-Za-z0-9_-]*$")
    public_url: str = Field(default="", pattern=r"^(https?://[^/\s]+(/[^\s]*)?)?$")
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout: int = Field(default=30, ge=0, le=50, description="getUpdates long-poll seconds")
    request_timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _telegram_rate(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rate_limit" not in data:
            return {**data, "rate_limit": DEFAULT_RATE}
        return data

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSection:
        if self.mode == "webhook" and not self.secret_token:
            raise ValueError("mode webhook needs a secret_token (Telegram sends it back on every request)")
        return self


# ---- outbound ---------------------------------------------------------------------------
def _hashed(payload: str) -> str:
    return HASHED_DATA + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


def callback_data(payload: str) -> str:
    """A button payload as Telegram ``callback_data`` (at most 64 bytes).

    Longer payloads travel as a hash and are looked up again in the conversation's
    history when the button is pressed.
    """
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_DATA:
        return payload
    return _hashed(payload)


def inline_keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Rasa-style buttons as an inline keyboard, one button per row (long titles stay readable)."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.title, callback_data=callback_data(b.payload))] for b in buttons]
    )


def split_message(message: OutboundMessage) -> list[OutboundMessage]:
    """``message`` as the pieces that each take one Bot API call, in order.

    Each piece is queued (and retried) on its own, so a failure after the photo went out
    never sends the photo twice. An image keeps a text that fits its caption.
    """
    text = message.text or ""
    attachment = message.attachment
    has_image = bool(message.image) or (attachment is not None and attachment.kind == "image")
    has_media = has_image or attachment is not None
    if has_image and len(text) <= MAX_CAPTION:
        return [message]
    chunks = split_text(text, MAX_TEXT) if text else []
    if len(chunks) + int(has_media) <= 1:
        return [message]
    pieces = []
    if has_media:
        pieces.append(message.model_copy(update={"text": None, "buttons": []}))
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        update = {
            "text": chunk,
            "image": None,
            "attachment": None,
            "buttons": message.buttons if last else [],
        }
        pieces.append(message.model_copy(update=update))
    return pieces


def _seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def translate_error(exc: tg_error.TelegramError) -> ChannelError:
    """A python-telegram-bot error as :mod:`bot.errors` (retryable or not, Retry-After)."""
    what = f"Telegram: {exc.message}"[:300]
    if isinstance(exc, tg_error.RetryAfter):
        return RateLimited(what, retry_after=_seconds(exc.retry_after))
    if isinstance(exc, tg_error.Forbidden):
        return ChannelError(f"the client blocked the bot or left the chat ({what})", retryable=False)
    if isinstance(exc, tg_error.InvalidToken):
        return ChannelError(f"the bot token was rejected ({what})", retryable=False)
    if isinstance(exc, tg_error.ChatMigrated):  # its message names the new chat id: not for our logs
        return ChannelError("Telegram: the group chat moved to a supergroup (a new chat id)", retryable=False)
    if isinstance(exc, tg_error.BadRequest):  # a subclass of NetworkError: check it first
        return ChannelError(what, retryable=False)
    if isinstance(exc, tg_error.NetworkError | tg_error.Conflict):  # timeouts, 5xx, connection errors
        return ChannelError(what, retryable=True)
    return ChannelError(what, retryable=False)


class TelegramChannel(WebhookChannel):
    """The Telegram bot: webhook or polling in, the Bot API out (python-telegram-bot's ``Bot``)."""

    name = "telegram"
    config_model = TelegramSection
    config: TelegramSection

    def __init__(self, config: TelegramSection) -> None:  # type: ignore[override]
        super().__init__(config)
        # python-telegram-bot 22 migrates time periods (retry_after) from int to timedelta and
        # warns on every access unless opted in; we read both forms (``_seconds``)
        os.environ.setdefault(PTB_TIMEDELTA, "true")
        timeout = config.request_timeout
        self.bot = Bot(
            config.access_token,
            base_url=config.base_url,
            base_file_url=config.base_file_url,
            request=HTTPXRequest(read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout),
            # long polls hold the connection for poll_timeout; PTB adds it to the read timeout
            get_updates_request=HTTPXRequest(read_timeout=timeout, connect_timeout=timeout),
        )
        self._ready = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self.polling_error: str | None = None

    # ---- the shared flow's hooks ------------------------------------------------------
    async def verify(self, request: Request, body: bytes) -> None:
        """The secret token we gave ``setWebhook`` must come back, byte for byte."""
        expected = self.config.secret_token
        given = request.headers.get(SECRET_HEADER)
        if not expected:
            raise Unauthorized("no secret_token is configured, so no webhook request can be trusted")
        if given is None:
            raise Unauthorized(f"{SECRET_HEADER} missing")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
            raise Unauthorized(f"{SECRET_HEADER} does not match")

    def parse(self, request: Request, body: bytes) -> WebhookBatch:
        """One update per request, as Telegram sends them.

        A message Telegram dated (``date``, or ``edit_date`` for an edit) outside the
        freshness window is dropped and the request answered 200: a refusal would only make
        Telegram redeliver it, and it keeps an undelivered update for 24 hours anyway.
        """
        data = json_body(body)
        sent_at = update_date(data)
        if sent_at is not None and self.guard.stale(sent_at):
            self.stats.refused += 1
            log.warning(stale_log_line(self.name, sent_at))
            return WebhookBatch()
        return parse_update(data, self.name)

    async def resolve(self, message: InboundMessage, handler: MessageHandler) -> InboundMessage:
        """A hashed button payload (too long for ``callback_data``) becomes the payload again,
        looked up in the conversation's history."""
        if not (message.text or "").startswith(HASHED_DATA):
            return message
        for entry in reversed(await handler.history(message.conversation_id)):
            for button in entry.buttons:
                if _hashed(button.payload) == message.text:
                    return message.model_copy(update={"text": button.payload})
        log.info("%s: a pressed button's payload is no longer in the history", self.name)
        return message

    def schedule(self, message: InboundMessage, handler: MessageHandler) -> None:
        """Process in the background; a button press is first acknowledged (the spinner stops)."""
        query_id = message.metadata.get("telegram_callback_query_id")
        if not query_id:
            super().schedule(message, handler)
            return

        async def job() -> None:
            await self._answer_callback(query_id)
            await handler.process(message)
            self.replies_stored()

        self.sequencer.submit(message.conversation_id, job)

    async def _answer_callback(self, query_id: str) -> None:
        try:
            await self._initialized()
            await self.bot.answer_callback_query(query_id)
        except (tg_error.TelegramError, ChannelError) as exc:
            # the press is already stored; only the client's spinner keeps turning a little longer
            log.warning("%s: answerCallbackQuery failed: %s", self.name, exc)

    # ---- sending ----------------------------------------------------------------------
    async def _initialized(self) -> None:
        async with self._ready:
            try:
                await self.bot.initialize()  # getMe: checks the token once
            except tg_error.TelegramError as exc:
                raise translate_error(exc) from None

    def split(self, message: OutboundMessage) -> list[OutboundMessage]:
        """One outbox row per Bot API call of ``message`` (see :func:`split_message`)."""
        return split_message(message)

    async def deliver(self, message: OutboundMessage) -> str | None:
        """One attempt to send ``message``; the id is the last part's Telegram message id alone
        (unique within its chat, which the row's recipient, an opaque token, names: the chat id
        stays in ``channel_addresses``)."""
        await self._initialized()
        try:
            sent = await self._send(message)
        except tg_error.TelegramError as exc:
            raise translate_error(exc) from None
        return str(sent.message_id)

    async def _send(self, message: OutboundMessage) -> Message:
        """Send the message's parts; the last one carries the buttons.

        An image takes the text as its caption when it fits; otherwise (and after other
        attachments) the text follows as a message of its own.
        """
        chat_id = message.recipient_id
        markup = inline_keyboard(message.buttons)
        text = message.text or ""
        attachment = message.attachment
        image = message.image or (
            attachment.url if attachment is not None and attachment.kind == "image" else None
        )
        if image:
            as_caption = len(text) <= MAX_CAPTION
            sent = await self.bot.send_photo(
                chat_id,
                photo=image,
                caption=(text or None) if as_caption else None,
                reply_markup=markup if as_caption else None,
            )
            if as_caption:
                return sent
        elif attachment is not None:
            sent = await self._send_attachment(chat_id, attachment, markup if not text else None)
            if not text:
                return sent
        elif not text:
            raise ChannelError("nothing Telegram can show: no text, image or attachment", retryable=False)
        parts = split_text(text, MAX_TEXT)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent = await self.bot.send_message(chat_id, part, reply_markup=markup if last else None)
        return sent

    async def _send_attachment(
        self, chat_id: str, attachment: Attachment, markup: InlineKeyboardMarkup | None
    ) -> Message:
        if (
            attachment.kind == "location"
            and attachment.latitude is not None
            and attachment.longitude is not None
        ):
            return await self.bot.send_location(
                chat_id, attachment.latitude, attachment.longitude, reply_markup=markup
            )
        if not attachment.url:
            raise ChannelError(
                f"a {attachment.kind} attachment without a URL cannot be sent", retryable=False
            )
        if attachment.kind == "video":
            return await self.bot.send_video(chat_id, attachment.url, reply_markup=markup)
        if attachment.kind == "audio":
            return await self.bot.send_audio(chat_id, attachment.url, reply_markup=markup)
        return await self.bot.send_document(
            chat_id, attachment.url, filename=attachment.name, reply_markup=markup
        )

    async def file_url(self, attachment_url: str) -> str:
        """The download URL of a ``telegram-file:<file_id>`` attachment (``getFile``).

        The URL embeds the bot token: hand it to a trusted fetcher, never to a browser.
        """
        if not attachment_url.startswith(FILE_SCHEME):
            raise BadPayload("not a Telegram file reference")
        found = await self._get_file(attachment_url.removeprefix(FILE_SCHEME))
        return found.file_path or ""

    async def fetch_media(self, attachment: Attachment) -> Media:
        """The file a client sent (``getFile``, then the download), for the console.

        Telegram lets bots download files up to 20 MB; the bytes come in one piece.
        """
        url = attachment.url or ""
        if not url.startswith(FILE_SCHEME):
            raise MediaNotFound("not a Telegram file reference")
        found = await self._get_file(url.removeprefix(FILE_SCHEME))
        if found.file_size is not None and found.file_size > MAX_MEDIA_BYTES:
            raise MediaTooLarge("Telegram")
        try:
            content = bytes(await found.download_as_bytearray())
        except tg_error.TelegramError as exc:  # PTB reads a 404 as a bad token: say what happened
            raise ChannelError(f"Telegram could not send the file ({exc.message})"[:300]) from None
        if len(content) > MAX_MEDIA_BYTES:
            raise MediaTooLarge("Telegram")
        guessed, _ = mimetypes.guess_type(found.file_path or "")
        return Media(content, attachment.mime_type or guessed or OCTET_STREAM, len(content))

    async def _get_file(self, file_id: str) -> File:
        await self._initialized()
        try:
            found = await self.bot.get_file(file_id)
        except tg_error.TelegramError as exc:
            raise translate_error(exc) from None
        if not found.file_path:
            raise ChannelError("Telegram gave no download path for this file", retryable=False)
        return found

    # ---- lifecycle: webhook registration or polling ------------------------------------
    def attach(self, outbox: Outbox) -> None:
        """Send through ``outbox``; in polling mode start the ``getUpdates`` loop, in webhook
        mode with ``public_url`` set register the webhook (both run in the background)."""
        super().attach(outbox)
        if self._poller is not None and not self._poller.done():
            return
        if self.config.mode == "polling":
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")
        elif self.config.public_url:
            self._poller = asyncio.create_task(self._register_webhook(), name="telegram-set-webhook")

    @property
    def webhook_url(self) -> str:
        """Where Telegram should post updates: our route under ``public_url``."""
        return f"{self.config.public_url.rstrip('/')}/webhooks/{self.name}/webhook"

    async def _register_webhook(self) -> None:
        try:
            await self._initialized()
            await self.bot.set_webhook(
                self.webhook_url,
                secret_token=self.config.secret_token,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            log.info("%s: webhook registered", self.name)
        except (tg_error.TelegramError, ChannelError) as exc:
            self.polling_error = f"setWebhook failed: {exc}"
            log.error("%s: could not register the webhook: %s", self.name, exc)

    async def _poll(self) -> None:
        """Long-poll ``getUpdates``; confirm an update (move the offset) only once it is stored."""
        offset: int | None = None
        delay = 1.0
        webhook_deleted = False
        while True:
            try:
                await self._initialized()
                if not webhook_deleted:
                    await self.bot.delete_webhook()  # getUpdates refuses to run while one is set
                    webhook_deleted = True
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.config.poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
                )
                for update in updates:
                    await self.ingest(batch_from_update(update, self.name))
                    offset = update.update_id + 1
                self.polling_error = None
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = translate_error(exc) if isinstance(exc, tg_error.TelegramError) else exc
                self.polling_error = f"{type(failure).__name__}: {failure}"[:300]
                if isinstance(failure, RateLimited) and failure.retry_after:
                    wait = failure.retry_after
                elif isinstance(failure, ChannelError) and not failure.retryable:
                    log.error("%s: polling stopped: %s", self.name, failure)
                    return
                else:
                    wait, delay = delay, min(delay * 2, 60.0)
                log.warning("%s: getUpdates failed (%s); retrying in %.0fs", self.name, failure, wait)
                await asyncio.sleep(wait)

    async def ingest(self, batch: WebhookBatch) -> None:
        """Run a polled update through the same steps as a webhook request (after verification)."""
        if self.handler is None:
            raise ChannelError(f"{self.name}: no message handler yet")
        fresh = await self.store(batch.messages, self.handler)
        for item in batch.unsupported:
            await self.reply_unsupported(item)
        for message in fresh:
            self.schedule(message, self.handler)

    def health(self) -> ComponentHealth:
        """The outbox-side health, degraded while polling or webhook registration fails."""
        component = super().health()
        if self.polling_error:
            return ComponentHealth(status="degraded", detail=f"{component.detail}; {self.polling_error}")
        return component

    async def close(self) -> None:
        """Stop polling, finish in-flight messages, release the HTTP connections."""
        task, self._poller = self._poller, None
        if task is not None:
            await cancel_and_wait(task)
        await super().close()
        await self.bot.shutdown()
