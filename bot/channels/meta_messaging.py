"""What Messenger and Instagram share: Meta's messaging webhooks and the Send API.

Both platforms post signed webhooks (``X-Hub-Signature-256``, checked with
:mod:`bot.channels.meta`, which also answers the GET ``hub.challenge`` handshake) whose
events :mod:`bot.channels.meta_events` turns into messages and receipts, and both send
through ``POST /{page-or-account-id}/messages``: text, quick replies for buttons (more
than 13 become numbered options), attachments by URL. Messenger reports reads (and
sometimes deliveries) only as a ``watermark`` time: every message we sent that client up to
then counts. A client's attachment ``url`` is a signed CDN link that needs no token;
:meth:`MetaMessagingChannel.fetch_media` downloads it for the console.

The 24-hour window: a message goes out as ``messaging_type: RESPONSE`` while the client's
last message is less than 24 hours old. After that, an agent's reply goes as
``MESSAGE_TAG`` with ``tag: HUMAN_AGENT`` (Meta allows it up to 7 days after the client's
last message; ``human_agent_tag: false`` turns it off for apps without that permission);
any other message, or any message after 7 days, is refused with
:class:`~bot.errors.OutsideWindow` before it is queued, so the agent is told.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import AliasChoices, ConfigDict, Field

from bot.channels.media import Media, MediaNotFound, download
from bot.channels.meta import (
    GRAPH_URL,
    GRAPH_VERSION,
    SIGNATURE_HEADER,
    GraphClient,
    signature_valid,
    verification_response,
)
from bot.channels.meta_events import WatermarkReceipt, parse_messaging
from bot.channels.service_window import last_client_message_at
from bot.channels.webhook import (
    Receipt,
    WebhookBatch,
    WebhookChannel,
    WebhookSection,
    json_body,
    numbered_options,
    split_text,
)
from bot.errors import ChannelError, OutsideWindow, Unauthorized
from bot.models import Attachment, Button, OutboundMessage

log = logging.getLogger(__name__)

RESPONSE_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
SEND_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "file"}


# ---- configuration ------------------------------------------------------------------------
class MetaMessagingSection(WebhookSection):
    """Options shared by ``messenger:`` and ``instagram:`` in ``credentials.yml``.

    ``access_token`` is the Page access token (Rasa's ``page-access-token`` is accepted too),
    ``app_secret`` signs the webhooks (Rasa: ``secret``), ``verify_token`` answers the
    subscription handshake (Rasa: ``verify``). ``sender_id`` is the node we send from
    (``me``, a Page id or an Instagram account id).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    access_token: str = Field(
        min_length=1, validation_alias=AliasChoices("access_token", "page_access_token", "page-access-token")
    )
    app_secret: str = Field(min_length=1, validation_alias=AliasChoices("app_secret", "secret"))
    verify_token: str = Field(min_length=1, validation_alias=AliasChoices("verify_token", "verify"))
    sender_id: str = Field(default="me", min_length=1)
    api_base_url: str = GRAPH_URL
    api_version: str = GRAPH_VERSION
    human_agent_tag: bool = True


# ---- outbound -----------------------------------------------------------------------------
def quick_replies(buttons: Sequence[Button]) -> list[dict[str, str]]:
    """Rasa-style buttons as Send API text quick replies (titles cut to 20 characters)."""
    replies = []
    for button in buttons:
        title = button.title
        if len(title) > MAX_QUICK_REPLY_TITLE:
            title = title[: MAX_QUICK_REPLY_TITLE - 1] + "…"
        replies.append({"content_type": "text", "title": title, "payload": button.payload})
    return replies


def message_parts(message: OutboundMessage, max_text: int, in_bytes: bool = False) -> list[dict[str, Any]]:
    """The Send API ``message`` objects for ``message``, in order; quick replies ride on the last.

    An image or attachment goes first (the Send API takes one attachment per request), the
    text after it (split when longer than ``max_text``). More than 13 buttons (Meta's
    quick-reply limit) become numbered options in the text.
    """
    parts: list[dict[str, Any]] = []
    media = message.image
    media_type = "image"
    if media is None and message.attachment is not None and message.attachment.url:
        media = message.attachment.url
        media_type = SEND_TYPES.get(message.attachment.kind, "file")
    if media:
        parts.append({"attachment": {"type": media_type, "payload": {"url": media, "is_reusable": True}}})
    text = message.text or ""
    numbered = len(message.buttons) > MAX_QUICK_REPLIES
    if numbered:
        text = numbered_options(text, message.buttons)
    if text:
        parts.extend({"text": chunk} for chunk in split_text(text, max_text, in_bytes))
    if not parts:
        raise ChannelError("nothing to send: no text, image or attachment", retryable=False)
    if message.buttons and not numbered:
        parts[-1]["quick_replies"] = quick_replies(message.buttons)
    return parts


def split_message(message: OutboundMessage, max_text: int, in_bytes: bool = False) -> list[OutboundMessage]:
    """``message`` as the pieces that each take one Send API call, in order.

    Each piece is queued (and retried) on its own, so a failure after the image went out
    never sends the image twice.
    """
    text = message.text or ""
    buttons = list(message.buttons)
    if len(buttons) > MAX_QUICK_REPLIES:
        text, buttons = numbered_options(text, buttons), []
    chunks = split_text(text, max_text, in_bytes) if text else []
    has_media = bool(message.image) or (message.attachment is not None and bool(message.attachment.url))
    if len(chunks) + int(has_media) <= 1:
        return [message]
    pieces = []
    if has_media:
        pieces.append(message.model_copy(update={"text": None, "buttons": []}))
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        pieces.append(
            message.model_copy(
                update={"text": chunk, "image": None, "attachment": None, "buttons": buttons if last else []}
            )
        )
    return pieces


class MetaMessagingChannel(WebhookChannel):
    """Messenger or Instagram: Meta's signed webhooks in, the Send API out, the 24-hour window."""

    object_kind: ClassVar[str]
    max_text: ClassVar[int]
    text_in_bytes: ClassVar[bool] = False
    numbered_choices = True  # more than 13 buttons go out as numbered options
    config_model = MetaMessagingSection
    config: MetaMessagingSection

    def __init__(self, config: MetaMessagingSection, *, http: httpx.AsyncClient | None = None) -> None:  # type: ignore[override]
        super().__init__(config)
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient()
        self.graph = GraphClient(
            self.http, config.access_token, base_url=config.api_base_url, version=config.api_version
        )

    # ---- the shared flow's hooks ------------------------------------------------------
    async def verify(self, request: Request, body: bytes) -> None:
        """``X-Hub-Signature-256`` must be the HMAC-SHA256 of the raw body with the app secret."""
        if not signature_valid(self.config.app_secret, body, request.headers.get(SIGNATURE_HEADER)):
            raise Unauthorized(f"{SIGNATURE_HEADER} missing or wrong")

    def parse(self, request: Request, body: bytes) -> WebhookBatch:
        """Every messaging event in the (possibly batched) notification, except events dated
        outside the freshness window: those are dropped and the request still answered 200,
        because Meta retries a failed delivery for days and disables a webhook that keeps
        failing (docs/security.md, "Webhook freshness")."""
        return parse_messaging(json_body(body), self.name, self.object_kind, stale=self.guard.stale)

    def extra_routes(self, router: APIRouter) -> None:
        """``GET /webhook``: Meta's subscription handshake (``hub.challenge``)."""

        @router.get("/webhook")
        async def handshake(request: Request) -> Response:
            return verification_response(request.query_params, self.config.verify_token)

    async def apply_receipts(self, receipts: Iterable[Receipt]) -> None:
        """Receipts by message id as usual; watermarks for every message sent up to then."""
        by_id: list[Receipt] = []
        for receipt in receipts:
            if isinstance(receipt, WatermarkReceipt):
                await self._apply_watermark(receipt)
            else:
                by_id.append(receipt)
        await super().apply_receipts(by_id)

    async def _apply_watermark(self, receipt: WatermarkReceipt) -> None:
        if self.outbox is None or receipt.at is None:
            return
        # the receipt names the client by their page-scoped id: the conversation's id is its token
        conversation = await self.conversation_of(receipt.recipient_id)
        rows = await self.outbox.rows(conversation_id=conversation, status=("sent", "delivered"))
        for row in rows:
            if row.provider_message_id and row.sent_at is not None and row.sent_at <= receipt.at:
                await self.outbox.record_receipt(
                    self.name, row.provider_message_id, receipt.status, receipt.at
                )

    # ---- the 24-hour window -------------------------------------------------------------
    async def messaging_type(self, message: OutboundMessage) -> dict[str, str]:
        """``messaging_type`` (and ``tag``) for ``message`` now; :class:`OutsideWindow` if none fits."""
        conversation_id = await self.conversation_of(message.recipient_id)
        last = await last_client_message_at(self.handler, conversation_id)
        if last is None:
            # nothing stored (e.g. the polite reply to an unreadable first message): Meta
            # itself refuses if the window is closed, and that comes back as OutsideWindow
            return {"messaging_type": "RESPONSE"}
        age = self.clock() - last
        if age < RESPONSE_WINDOW:
            return {"messaging_type": "RESPONSE"}
        hours = int(age.total_seconds() // 3600)
        if age < HUMAN_AGENT_WINDOW and message.sender == "agent" and self.config.human_agent_tag:
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        if message.sender == "agent" and age < HUMAN_AGENT_WINDOW:
            why = "the human_agent tag is turned off in credentials.yml"
        elif message.sender == "agent":
            why = "an agent may answer with the HUMAN_AGENT tag only up to 7 days after it"
        else:
            why = "only a person (an agent) may answer after 24 hours, with the HUMAN_AGENT tag"
        raise OutsideWindow(f"{conversation_id}: the client's last message is {hours} hours old and {why}")

    async def prepare(self, message: OutboundMessage) -> OutboundMessage:
        """Refuse before queueing a message the window no longer allows (the agent is told)."""
        await self.messaging_type(message)
        return message

    # ---- sending ----------------------------------------------------------------------
    def split(self, message: OutboundMessage) -> list[OutboundMessage]:
        """One outbox row per Send API call of ``message`` (see :func:`split_message`)."""
        return split_message(message, self.max_text, self.text_in_bytes)

    async def deliver(self, message: OutboundMessage) -> str | None:
        """Send each part (``POST /{sender_id}/messages``); the last part's ``message_id``.

        The window is checked again at send time: a retry may happen hours later.
        """
        kind = await self.messaging_type(message)
        provider_id: str | None = None
        for part in message_parts(message, self.max_text, self.text_in_bytes):
            body = {"recipient": {"id": message.recipient_id}, **kind, "message": part}
            answer = await self.graph.post(f"{self.config.sender_id}/messages", body)
            provider_id = str(answer.get("message_id") or "") or None
        return provider_id

    # ---- media --------------------------------------------------------------------------
    async def fetch_media(self, attachment: Attachment) -> Media:
        """The file behind a client's attachment: its signed CDN URL, fetched without a token."""
        url = attachment.url or ""
        if not url.startswith(("https://", "http://")):
            raise MediaNotFound("the attachment has no download link")
        return await download(self.http, url, self.name.capitalize())

    async def close(self) -> None:
        """Finish in-flight messages and release the HTTP connections."""
        await super().close()
        if self._owns_http:
            await self.http.aclose()
