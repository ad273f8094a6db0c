"""WhatsApp through Meta's Cloud API (channel ``whatsapp_cloud``): Graph webhooks in, Graph API out.

Inbound (``POST /webhooks/whatsapp_cloud/webhook``, JSON): ``X-Hub-Signature-256`` checked
with the app secret (:mod:`bot.channels.meta`); ``GET`` answers Meta's verification
handshake with ``verify_token``. Each ``entry[].changes[].value`` may hold:

- ``messages``: ``text``; ``image`` / ``audio`` / ``video`` / ``document`` / ``sticker``
  (attachments; the caption is the text); ``location``; ``contacts``; ``interactive``
  ``button_reply`` / ``list_reply`` and template quick-reply ``button`` (the chosen id or
  payload is the text, its title in metadata); ``reaction`` (the emoji is the text,
  ``metadata["kind"] = "reaction"``, recorded without a bot turn: ``record_only``). An
  ``unsupported`` message that changes an earlier one (an edit, a pin, "keep in chat", a poll
  vote, a reaction Cloud API cannot pass on; ``unsupported.type``) is recorded the same way,
  without text. Other kinds (``unsupported``, ``order``, ``system``...) get a polite reply.
  ``wa_id`` is the sender's verified phone (the body is signed); ``contacts[].profile.name``
  is only a name hint.
- ``statuses``: ``sent`` / ``delivered`` / ``read`` / ``failed`` receipts for our messages.

Media arrive as Graph media ids, not files; an attachment's ``url`` is the Graph URL of the
media object. For the console, :meth:`CloudWhatsAppChannel.fetch_media` asks it (with the
access token) for a short-lived download link and downloads that, with the token too.

Outbound: ``POST /{version}/{phone_number_id}/messages``: text; up to 3 buttons as
interactive reply buttons (titles <= 20 characters), up to 10 as an interactive list (titles
<= 24), more as numbered options; an image by link; a Rasa ``custom`` payload with a ``type``
as the message object itself; outside the 24-hour window, a configured ``template``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.channels.base import ChannelSection, describe_validation_error
from bot.channels.limits import stale_log_line
from bot.channels.media import Media, MediaNotFound, download
from bot.channels.meta import GRAPH_URL, GRAPH_VERSION, GraphClient, signature_valid, verification_response
from bot.channels.service_window import WA_TEMPLATE, ServiceWindow, fill
from bot.channels.webhook import (
    Receipt,
    Unsupported,
    WebhookBatch,
    WebhookChannel,
    WebhookSection,
    numbered_options,
)
from bot.errors import BadPayload, ChannelError, Unauthorized
from bot.models import Attachment, ContactHints, InboundMessage, OutboundMessage, VerifiedIdentity

log = logging.getLogger(__name__)

MEDIA_KINDS = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "document": "document",
    "sticker": "image",
}
RECEIPTS = {"sent", "delivered", "read", "failed"}
# unsupported.type values that act on an earlier message: nothing new to answer or apologise for
CHANGES_TO_EARLIER = frozenset({"edit", "keep_in_chat", "pin", "poll_update", "reaction"})
BUTTON_TITLE_MAX = 20
LIST_TITLE_MAX = 24


class CloudTemplate(BaseModel):
    """An approved message template: its name, language and body parameters (placeholders)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    language: str = "en"
    parameters: list[str] = Field(default_factory=list, description='body {{1}}, {{2}}...: e.g. ["{text}"]')


class CloudWhatsAppConfig(WebhookSection):
    """The ``whatsapp_cloud:`` section of ``credentials.yml``."""

    phone_number_id: str = Field(pattern=r"^\d+$")
    access_token: str = Field(min_length=8)
    app_secret: str = Field(min_length=8)
    verify_token: str = Field(min_length=8)
    api_base_url: str = GRAPH_URL
    api_version: str = GRAPH_VERSION
    list_button: str = Field(default="Choose", max_length=20)
    templates: dict[str, CloudTemplate] = Field(default_factory=dict)
    window_hours: float = Field(default=24.0, gt=0)


# ---- webhook payload (only the fields we read; Meta adds fields freely) ---------------
class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Profile(_Loose):
    name: str | None = None


class _Contact(_Loose):
    wa_id: str | None = None
    profile: _Profile | None = None


class _Media(_Loose):
    id: str
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None


class _Location(_Loose):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class _Reply(_Loose):
    id: str
    title: str = ""


class _Interactive(_Loose):
    type: str
    button_reply: _Reply | None = None
    list_reply: _Reply | None = None


class _Button(_Loose):
    payload: str | None = None
    text: str = ""


class _Reaction(_Loose):
    message_id: str
    emoji: str | None = None


class _Unsupported(_Loose):
    type: str | None = None


class _Text(_Loose):
    body: str


class _Message(_Loose):
    id: str
    sender: str = Field(alias="from")
    timestamp: str | None = None
    type: str
    text: _Text | None = None
    image: _Media | None = None
    audio: _Media | None = None
    video: _Media | None = None
    document: _Media | None = None
    sticker: _Media | None = None
    location: _Location | None = None
    contacts: list[dict[str, Any]] | None = None
    interactive: _Interactive | None = None
    button: _Button | None = None
    reaction: _Reaction | None = None
    unsupported: _Unsupported | None = None


class _StatusError(_Loose):
    code: int | None = None
    title: str | None = None


class _Status(_Loose):
    id: str
    status: str
    timestamp: str | None = None
    errors: list[_StatusError] = Field(default_factory=list)


class _Value(_Loose):
    messaging_product: str | None = None
    contacts: list[_Contact] = Field(default_factory=list)
    messages: list[_Message] = Field(default_factory=list)
    statuses: list[_Status] = Field(default_factory=list)


class _Change(_Loose):
    field: str | None = None
    value: _Value


class _Entry(_Loose):
    changes: list[_Change] = Field(default_factory=list)


class CloudWebhook(_Loose):
    """The body Meta posts for the ``whatsapp_business_account`` object."""

    object: str
    entry: list[_Entry] = Field(default_factory=list)


def _when(stamp: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(stamp), UTC) if stamp else None
    except (ValueError, OverflowError):
        return None


class CloudWhatsAppChannel(WebhookChannel):
    """WhatsApp Business through Meta's Cloud API."""

    name: ClassVar[str] = "whatsapp_cloud"
    config_model: ClassVar[type[ChannelSection]] = CloudWhatsAppConfig
    config: CloudWhatsAppConfig
    numbered_choices = True  # more than 10 buttons go out as numbered options

    def __init__(self, config: CloudWhatsAppConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient()
        self.graph = GraphClient(
            self.http, config.access_token, base_url=config.api_base_url, version=config.api_version
        )
        self.window = ServiceWindow(config.window_hours)

    # ---- inbound -----------------------------------------------------------------
    def extra_routes(self, router: APIRouter) -> None:
        """``GET /webhook``: Meta's verification handshake."""

        @router.get("/webhook")
        async def handshake(request: Request) -> Response:
            return verification_response(request.query_params, self.config.verify_token)

    async def verify(self, request: Request, body: bytes) -> None:
        """``X-Hub-Signature-256`` must be the app secret's HMAC-SHA256 of the raw body."""
        header = request.headers.get("X-Hub-Signature-256")
        if not header:
            raise Unauthorized("no X-Hub-Signature-256 header")
        if not signature_valid(self.config.app_secret, body, header):
            raise Unauthorized("X-Hub-Signature-256 does not match")

    def parse(self, request: Request, body: bytes) -> WebhookBatch:
        """Every message and status in every entry and change, in payload order; a message
        Meta dated (signed ``timestamp``) outside the freshness window is left out."""
        try:
            payload = CloudWebhook.model_validate(json.loads(body))
        except ValueError as exc:
            detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else "not JSON"
            raise BadPayload(f"not a WhatsApp webhook body: {detail}") from None
        if payload.object != "whatsapp_business_account":
            raise BadPayload(f"unexpected object {payload.object!r}")
        batch = WebhookBatch()
        for entry in payload.entry:
            for change in entry.changes:
                value = change.value
                names = {c.wa_id: c for c in value.contacts if c.wa_id}
                for message in value.messages:
                    sent_at = _when(message.timestamp)
                    if sent_at is not None and self.guard.stale(sent_at):
                        # dropped, the request still 200: Meta retries failures for days
                        log.warning(stale_log_line(self.name, sent_at))
                        continue
                    self._message(message, names.get(message.sender), batch)
                for status in value.statuses:
                    if status.status in RECEIPTS:
                        error = "; ".join(f"{e.code}: {e.title or ''}" for e in status.errors) or None
                        batch.receipts.append(
                            Receipt(
                                provider_message_id=status.id,
                                status=status.status,  # type: ignore[arg-type]
                                at=_when(status.timestamp),
                                error=error,
                            )
                        )
        return batch

    def _message(self, message: _Message, contact: _Contact | None, batch: WebhookBatch) -> None:
        # the wa_id of a signed notification is the sender's number, proven by Meta's signature
        phone = f"+{message.sender}" if message.sender.isdigit() else message.sender
        identities = VerifiedIdentity.listed("phone", phone, "provider")
        name = contact.profile.name if contact is not None and contact.profile is not None else None
        hints = ContactHints(name=(name or "")[:200] or None)
        metadata = {"kind": message.type}
        record_only = False  # stored in the conversation, no bot turn (see the module's docstring)
        text: str | None = None
        attachments: list[Attachment] = []
        kind = message.type
        if kind == "text" and message.text is not None:
            text = message.text.body
        elif kind in MEDIA_KINDS and getattr(message, kind) is not None:
            media: _Media = getattr(message, kind)
            attachments.append(
                Attachment(
                    kind=MEDIA_KINDS[kind],  # type: ignore[arg-type]
                    url=self.graph.url(media.id),
                    mime_type=media.mime_type,
                    name=media.filename,
                )
            )
            text = media.caption or None
        elif kind == "location" and message.location is not None:
            place = message.location
            attachments.append(
                Attachment(
                    kind="location",
                    latitude=place.latitude,
                    longitude=place.longitude,
                    name=place.name or place.address,
                )
            )
        elif kind == "contacts" and message.contacts:
            attachments.extend(_contact_cards(message.contacts))
        elif kind == "interactive" and message.interactive is not None:
            reply = message.interactive.button_reply or message.interactive.list_reply
            if reply is not None:
                text = reply.id
                metadata["title"] = reply.title
        elif kind == "button" and message.button is not None:
            text = message.button.payload or message.button.text
            metadata["title"] = message.button.text
        elif kind == "reaction" and message.reaction is not None:
            if not message.reaction.emoji:
                return  # a reaction taken back: nothing to say
            text = message.reaction.emoji
            metadata["reacted_to"] = message.reaction.message_id
            record_only = True  # feedback on our message, not a question
        elif kind == "unsupported" and message.unsupported is not None:
            if message.unsupported.type in CHANGES_TO_EARLIER:
                metadata["kind"] = message.unsupported.type
                record_only = True
        if text is None and not attachments and not record_only:
            batch.unsupported.append(
                Unsupported(sender_id=message.sender, provider_message_id=message.id, kind=kind)
            )
            return
        received = _when(message.timestamp)
        extra: dict[str, Any] = {"received_at": received} if received is not None else {}
        batch.messages.append(
            InboundMessage(
                channel=self.name,
                sender_id=message.sender,
                text=text,
                message_id=message.id,
                attachments=attachments,
                metadata=metadata,
                identities=identities,
                hints=hints,
                record_only=record_only,
                **extra,
            )
        )

    # ---- outbound ----------------------------------------------------------------
    async def prepare(self, message: OutboundMessage) -> OutboundMessage:
        """Inside the 24-hour window: as is. Outside: the purpose's template, or OutsideWindow."""
        conversation_id = await self.conversation_of(message.recipient_id)
        return await self.window.prepare(
            self.handler, conversation_id, message, self.clock(), self.config.templates, render_template
        )

    def request_body(self, message: OutboundMessage) -> dict[str, Any]:
        """The Cloud API message object for ``message``."""
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.recipient_id,
        }
        custom = message.custom or {}
        template = custom.get(WA_TEMPLATE)
        if isinstance(template, dict):
            return {**body, "type": "template", "template": template}
        if isinstance(custom.get("type"), str):  # a Rasa custom payload in Cloud API shape
            return {**body, **{k: v for k, v in custom.items() if k not in ("template", "agent_name")}}
        text = message.text or ""
        buttons = message.buttons
        if buttons and text and len(buttons) <= 3 and all(len(b.title) <= BUTTON_TITLE_MAX for b in buttons):
            replies = [{"type": "reply", "reply": {"id": b.payload, "title": b.title}} for b in buttons]
            interactive: dict[str, Any] = {
                "type": "button",
                "body": {"text": text},
                "action": {"buttons": replies},
            }
            return {**body, "type": "interactive", "interactive": interactive}
        if buttons and text and len(buttons) <= 10 and all(len(b.title) <= LIST_TITLE_MAX for b in buttons):
            rows = [{"id": b.payload, "title": b.title} for b in buttons]
            sections = [{"title": "Options", "rows": rows}]
            action: dict[str, Any] = {"button": self.config.list_button, "sections": sections}
            interactive = {"type": "list", "body": {"text": text}, "action": action}
            return {**body, "type": "interactive", "interactive": interactive}
        if buttons:
            text = numbered_options(text, buttons)
        image = message.image or (
            message.attachment.url if message.attachment and message.attachment.kind == "image" else None
        )
        if image:
            media: dict[str, Any] = {"link": image}
            if text:
                media["caption"] = text
            return {**body, "type": "image", "image": media}
        if not text:
            raise ChannelError("nothing to send: the message has no text, buttons or media", retryable=False)
        return {**body, "type": "text", "text": {"preview_url": False, "body": text}}

    async def deliver(self, message: OutboundMessage) -> str | None:
        """One Graph API call; the ``wamid...`` id Meta assigns."""
        answer = await self.graph.post(f"{self.config.phone_number_id}/messages", self.request_body(message))
        messages = answer.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            found = messages[0].get("id")
            return str(found) if found is not None else None
        return None

    # ---- media -------------------------------------------------------------------
    async def fetch_media(self, attachment: Attachment) -> Media:
        """The file a client sent: the media object's ``url``, downloaded with the token.

        Meta keeps media for 30 days; after that (or for a foreign id) the Graph error
        becomes a :class:`~bot.errors.ChannelError`.
        """
        prefix = self.graph.url("")
        media_id = (attachment.url or "").removeprefix(prefix)
        if not attachment.url or media_id == attachment.url or not media_id.isdigit():
            raise MediaNotFound("not a WhatsApp media object")
        found = await self.graph.get(media_id)
        link = found.get("url")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise ChannelError("WhatsApp gave no download link for the file", retryable=False)
        token = {"Authorization": f"Bearer {self.config.access_token}"}
        media = await download(self.http, link, "WhatsApp", headers=token)
        mime_type = found.get("mime_type")
        if isinstance(mime_type, str) and mime_type:
            return media._replace(mime_type=mime_type)
        return media

    async def close(self) -> None:
        """Finish background work; close the HTTP client if we made it."""
        await super().close()
        if self._owns_http:
            await self.http.aclose()


def render_template(template: CloudTemplate, values: Mapping[str, str]) -> dict[str, Any]:
    """The Cloud API ``template`` object: name, language and the body parameters filled in."""
    rendered: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.parameters:
        parameters = [{"type": "text", "text": fill(p, values)} for p in template.parameters]
        rendered["components"] = [{"type": "body", "parameters": parameters}]
    return rendered


def _contact_cards(cards: list[dict[str, Any]]) -> list[Attachment]:
    found = []
    for card in cards:
        raw_name, raw_phones = card.get("name"), card.get("phones")
        name: dict[str, Any] = raw_name if isinstance(raw_name, dict) else {}
        phones: list[Any] = raw_phones if isinstance(raw_phones, list) else []
        label = str(name.get("formatted_name") or "contact")
        numbers = [str(p.get("phone")) for p in phones if isinstance(p, dict) and p.get("phone")]
        if numbers:
            label = f"{label} ({', '.join(numbers)})"
        found.append(Attachment(kind="contact", name=label))
    return found
