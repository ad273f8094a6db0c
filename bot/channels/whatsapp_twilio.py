"""WhatsApp through Twilio (channel ``whatsapp``): Twilio's form webhooks in, the Messages API out.

Inbound (``POST /webhooks/whatsapp/webhook``, ``application/x-www-form-urlencoded``):
``X-Twilio-Signature`` is checked with the ``twilio`` SDK's own
:class:`twilio.request_validator.RequestValidator` over the URL Twilio called. Behind a
proxy or tunnel the app sees another URL than Twilio signed, so ``public_url`` (the
scheme and host Twilio is configured with) replaces it. Parsed: ``Body``; ``NumMedia`` /
``MediaUrl<n>`` / ``MediaContentType<n>`` as attachments; ``Latitude`` / ``Longitude``
(``Label``, ``Address``) as a location; ``ButtonPayload`` (quick-reply buttons) and
``ListId`` (list pickers) as the chosen payload; a bare number answering numbered options
as that option's payload. ``WaId`` (E.164) is the sender's verified identity (the request
is signed); ``ProfileName`` is only a name hint. Status callbacks (``MessageStatus``; same
URL or ``/webhooks/whatsapp/status``) become delivery receipts.

Outbound: the SDK's REST client (``client.messages.create_async``) speaks the Messages API
wire format (``POST /2010-04-01/Accounts/{sid}/Messages.json``, form-encoded, basic auth);
its HTTP layer is :class:`HttpxTwilioClient`, our injected :class:`httpx.AsyncClient`, which
also points it at ``api_base_url`` (a local stand-in in tests). Buttons become numbered
options in the text, or Content API quick replies when ``quick_replies.content_sid`` is set.
Outside the 24-hour window, templates go out as ``ContentSid`` + ``ContentVariables``.

Media: :meth:`TwilioWhatsAppChannel.fetch_media` downloads a ``MediaUrl`` with basic auth
(Twilio answers with a redirect to a short-lived copy; the credentials never leave Twilio's
host) for the console. Only URLs under Twilio's API are fetched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import ImmutableMultiDict
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from bot.channels.base import ChannelSection
from bot.channels.media import Media, MediaNotFound, download
from bot.channels.service_window import WA_TEMPLATE, ServiceWindow, fill
from bot.channels.webhook import (
    Receipt,
    Unsupported,
    WebhookBatch,
    WebhookChannel,
    WebhookSection,
    numbered_options,
)
from bot.errors import BadPayload, ChannelError, OutsideWindow, RateLimited, Unauthorized
from bot.models import Attachment, ContactHints, InboundMessage, OutboundMessage, VerifiedIdentity

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
PREFIX = "whatsapp:"
# Twilio error codes: 63016 = freeform message outside the 24-hour window; 20429 = too many
# requests; 20003 = authentication failed.
OUTSIDE_WINDOW_CODES = frozenset({63016})
RATE_LIMIT_CODES = frozenset({20429, 63018})
STATUS_RECEIPTS: dict[str, Literal["sent", "delivered", "read", "failed"]] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}


class TwilioTemplate(BaseModel):
    """An approved WhatsApp template in Twilio's Content API: its ``HX...`` sid and variables."""

    model_config = ConfigDict(extra="forbid")
    content_sid: str = Field(pattern=r"^HX[0-9a-fA-F]{32}$")
    variables: dict[str, str] = Field(default_factory=dict, description='e.g. {"1": "{text}"}')


class QuickReplies(BaseModel):
    """A ``twilio/quick-reply`` content template: ``{{1}}`` body, then title/id pairs."""

    model_config = ConfigDict(extra="forbid")
    content_sid: str = Field(pattern=r"^HX[0-9a-fA-F]{32}$")
    max_buttons: int = Field(default=3, ge=1, le=10)


class TwilioWhatsAppConfig(WebhookSection):
    """The ``whatsapp:`` section of ``credentials.yml`` (Rasa's ``twilio`` key names)."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str = Field(min_length=8)
    twilio_number: str = Field(min_length=4, description="our WhatsApp sender, e.g. whatsapp:+14155238886")
    messaging_service_sid: str | None = None
    public_url: str | None = Field(default=None, description="scheme://host Twilio calls (behind proxies)")
    api_base_url: str = TWILIO_API
    status_callback: bool = True
    quick_replies: QuickReplies | None = None
    templates: dict[str, TwilioTemplate] = Field(default_factory=dict)
    window_hours: float = Field(default=24.0, gt=0)

    @field_validator("templates", mode="before")
    @classmethod
    def _configured_only(cls, value: Any) -> Any:
        """A template whose ``content_sid`` is empty (``${VAR:-}`` unset) is not configured."""
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if not (isinstance(v, dict) and not v.get("content_sid"))}
        return value

    @field_validator("twilio_number")
    @classmethod
    def _prefixed(cls, value: str) -> str:
        value = value.strip()
        return value if value.startswith(PREFIX) else PREFIX + value


class HttpxTwilioClient(AsyncHttpClient):
    """The Twilio SDK's async HTTP layer on our :class:`httpx.AsyncClient`.

    Rewrites ``https://api.twilio.com`` to ``base_url`` and turns throttling and server
    errors into :mod:`bot.errors` here, where the ``Retry-After`` header is still known;
    other answers go back to the SDK (which raises ``TwilioRestException`` for 4xx).
    """

    def __init__(self, http: httpx.AsyncClient, base_url: str = TWILIO_API, timeout: float = 15.0) -> None:
        super().__init__(logger=log, is_async=True, timeout=timeout)
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        """Send one request the SDK built; see the class docstring for errors."""
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        try:
            response = await self.http.request(
                method,
                url,
                params=params,  # type: ignore[arg-type]
                data=data,  # type: ignore[arg-type]
                headers=headers,
                auth=auth,
                timeout=timeout or self.timeout,
                follow_redirects=allow_redirects,
            )
        except httpx.TimeoutException as exc:
            raise ChannelError(f"Twilio timed out: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise ChannelError(f"Twilio unreachable: {type(exc).__name__}") from None
        if response.status_code == 429:
            raise RateLimited(f"Twilio 429: {_twilio_message(response)}", retry_after=_retry_after(response))
        if response.status_code >= 500:
            raise ChannelError(f"Twilio {response.status_code}: {_twilio_message(response)}")
        return TwilioResponse(response.status_code, response.text, response.headers)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _twilio_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        return f"code {body.get('code')}: {str(body.get('message') or '')[:200]}"
    return response.reason_phrase


def translate_twilio_error(exc: TwilioRestException) -> ChannelError:
    """A Messages API 4xx as :mod:`bot.errors` (window, throttling, auth, bad request)."""
    what = f"Twilio {exc.status} (code {exc.code}): {str(exc.msg)[:300]}"
    if exc.code in OUTSIDE_WINDOW_CODES:
        return OutsideWindow(f"the 24-hour customer-service window is closed ({what})")
    if exc.code in RATE_LIMIT_CODES or exc.status == 429:
        return RateLimited(what, retry_after=None)
    if exc.status in (401, 403):
        return ChannelError(f"Twilio rejected our credentials: {what}", retryable=False)
    return ChannelError(what, retryable=False)


def render_template(template: TwilioTemplate, values: Mapping[str, str]) -> dict[str, Any]:
    """The Content API template: its ``HX...`` sid and the variables filled in."""
    variables = {key: fill(pattern, values) for key, pattern in template.variables.items()}
    return {"content_sid": template.content_sid, "content_variables": variables}


def _e164(wa_id: str | None, sender: str) -> str:
    digits = (wa_id or "").strip()
    if digits.isdigit():
        return f"+{digits}"
    return sender


def _media_kind(mime: str | None) -> Literal["image", "audio", "video", "document", "contact"]:
    mime = (mime or "").lower()
    if mime.startswith("image/"):
        return "image"
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    if mime in ("text/vcard", "text/x-vcard"):
        return "contact"
    return "document"


class TwilioWhatsAppChannel(WebhookChannel):
    """WhatsApp Business through Twilio."""

    name: ClassVar[str] = "whatsapp"
    config_model: ClassVar[type[ChannelSection]] = TwilioWhatsAppConfig
    config: TwilioWhatsAppConfig
    numbered_choices = True  # buttons go out as numbered options (without quick_replies)

    def __init__(self, config: TwilioWhatsAppConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient()
        self.validator = RequestValidator(config.auth_token)
        self.client = Client(
            config.account_sid,
            config.auth_token,
            account_sid=config.account_sid,
            http_client=HttpxTwilioClient(self.http, config.api_base_url),
        )
        self.window = ServiceWindow(config.window_hours)

    # ---- inbound -----------------------------------------------------------------
    def extra_routes(self, router: APIRouter) -> None:
        """``POST /status``: status callbacks, when configured on their own URL."""

        @router.post("/status")
        async def status(request: Request) -> Response:
            if self.handler is None:
                raise RuntimeError("router() was not called")
            return await self.accept(request, self.handler)

    def acknowledgement(self) -> Response:
        """Empty TwiML: Twilio sends nothing itself; our replies go through the outbox."""
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', media_type="text/xml")

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: ``public_url`` + path (+ query) behind a proxy, else as received."""
        if not self.config.public_url:
            return str(request.url)
        base = self.config.public_url.rstrip("/")
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{base}{request.url.path}{query}"

    async def verify(self, request: Request, body: bytes) -> None:
        """``X-Twilio-Signature`` over the signed URL and the form parameters (the SDK's validator)."""
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            raise Unauthorized("no X-Twilio-Signature header")
        params = ImmutableMultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
        if not self.validator.validate(self.signed_url(request), params, signature, algorithm):
            raise Unauthorized("X-Twilio-Signature does not match")

    def parse(self, request: Request, body: bytes) -> WebhookBatch:
        """One message or one status callback per request."""
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
        except (UnicodeDecodeError, ValueError):
            raise BadPayload("expected a form-encoded body") from None
        sid = form.get("MessageSid") or form.get("SmsMessageSid")
        if not sid:
            raise BadPayload("MessageSid is missing")
        status = (form.get("MessageStatus") or "").lower()
        if status and status != "received":
            receipt = STATUS_RECEIPTS.get(status)
            if receipt is None:  # queued, sending, accepted: nothing to record
                return WebhookBatch()
            error = form.get("ErrorCode")
            detail = f"Twilio error {error}: {form.get('ErrorMessage', '')}".strip() if error else None
            return WebhookBatch(receipts=[Receipt(provider_message_id=sid, status=receipt, error=detail)])
        sender_address = form.get("From", "")
        if not sender_address:
            raise BadPayload("From is missing")
        if sender_address == self.config.twilio_number:
            return WebhookBatch()  # our own message reflected back: never ingest it
        sender = sender_address.removeprefix(PREFIX)
        # the signed From is the sender's WhatsApp number: proven by Twilio's signature (verify)
        identities = VerifiedIdentity.listed("phone", _e164(form.get("WaId"), sender), "provider")
        hints = ContactHints(name=(form.get("ProfileName") or "")[:200] or None)
        metadata: dict[str, str] = {}
        text = form.get("Body") or None
        if form.get("ButtonPayload"):
            text = form["ButtonPayload"]
            metadata["title"] = form.get("ButtonText", "")
        elif form.get("ListId"):
            text = form["ListId"]
            metadata["title"] = form.get("ListTitle", "")
        attachments = self._attachments(form)
        if text is None and not attachments:
            kind = form.get("MessageType") or "unknown"
            return WebhookBatch(
                unsupported=[Unsupported(sender_id=sender, provider_message_id=sid, kind=kind)]
            )
        if form.get("MessageType"):
            metadata["kind"] = form["MessageType"]
        message = InboundMessage(
            channel=self.name,
            sender_id=sender,
            text=text,
            message_id=sid,
            attachments=attachments,
            metadata=metadata,
            identities=identities,
            hints=hints,
        )
        return WebhookBatch(messages=[message])

    @staticmethod
    def _attachments(form: Mapping[str, str]) -> list[Attachment]:
        found = []
        try:
            count = int(form.get("NumMedia") or 0)
        except ValueError:
            raise BadPayload("NumMedia is not a number") from None
        for index in range(min(count, 10)):
            url = form.get(f"MediaUrl{index}")
            if url:
                mime = form.get(f"MediaContentType{index}")
                found.append(Attachment(kind=_media_kind(mime), url=url, mime_type=mime))
        if form.get("Latitude") and form.get("Longitude"):
            try:
                latitude, longitude = float(form["Latitude"]), float(form["Longitude"])
            except ValueError:
                raise BadPayload("Latitude/Longitude are not numbers") from None
            name = form.get("Label") or form.get("Address") or None
            found.append(Attachment(kind="location", latitude=latitude, longitude=longitude, name=name))
        return found

    # ---- outbound ----------------------------------------------------------------
    async def prepare(self, message: OutboundMessage) -> OutboundMessage:
        """Inside the 24-hour window: as is. Outside: the purpose's template, or OutsideWindow."""
        conversation_id = await self.conversation_of(message.recipient_id)
        return await self.window.prepare(
            self.handler, conversation_id, message, self.clock(), self.config.templates, render_template
        )

    def request_fields(self, message: OutboundMessage) -> dict[str, Any]:
        """The Messages API fields for ``message`` (keyword arguments of ``messages.create_async``)."""
        fields: dict[str, Any] = {"to": PREFIX + message.recipient_id}
        if self.config.messaging_service_sid:
            fields["messaging_service_sid"] = self.config.messaging_service_sid
        else:
            fields["from_"] = self.config.twilio_number
        if self.config.status_callback and self.config.public_url:
            fields["status_callback"] = f"{self.config.public_url.rstrip('/')}/webhooks/{self.name}/status"
        template = (message.custom or {}).get(WA_TEMPLATE)
        if isinstance(template, dict):
            fields["content_sid"] = template["content_sid"]
            fields["content_variables"] = json.dumps(template["content_variables"], ensure_ascii=False)
            return fields
        text = message.text or ""
        quick = self.config.quick_replies
        if message.buttons and quick is not None and len(message.buttons) <= quick.max_buttons:
            variables = {"1": text}
            for index, button in enumerate(message.buttons):
                variables[str(2 + 2 * index)] = button.title
                variables[str(3 + 2 * index)] = button.payload
            fields["content_sid"] = quick.content_sid
            fields["content_variables"] = json.dumps(variables, ensure_ascii=False)
            return fields
        if message.buttons:
            text = numbered_options(text, message.buttons)
        media = message.image or (message.attachment.url if message.attachment else None)
        if media:
            fields["media_url"] = [media]
        if text:
            fields["body"] = text
        if "body" not in fields and "media_url" not in fields:
            raise ChannelError("nothing to send: the message has no text, buttons or media", retryable=False)
        return fields

    async def deliver(self, message: OutboundMessage) -> str | None:
        """One Messages API call through the SDK; the message's ``SM...`` sid."""
        fields = self.request_fields(message)
        try:
            created = await self.client.messages.create_async(**fields)
        except TwilioRestException as exc:
            raise translate_twilio_error(exc) from None
        except TwilioException as exc:
            raise ChannelError(f"Twilio SDK error: {exc}") from None
        return created.sid

    # ---- media -------------------------------------------------------------------
    async def fetch_media(self, attachment: Attachment) -> Media:
        """The file behind a ``MediaUrl<n>``, fetched with the account's basic auth."""
        url = attachment.url or ""
        if not url.startswith(f"{TWILIO_API}/2010-04-01/Accounts/{self.config.account_sid}/"):
            raise MediaNotFound("not a media URL of this Twilio account")
        located = self.config.api_base_url.rstrip("/") + url[len(TWILIO_API) :]
        credentials = (self.config.account_sid, self.config.auth_token)
        return await download(self.http, located, "Twilio", auth=credentials)

    async def close(self) -> None:
        """Finish background work; close the HTTP client if we made it."""
        await super().close()
        if self._owns_http:
            await self.http.aclose()
