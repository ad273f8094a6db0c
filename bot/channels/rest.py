"""Rasa's REST channel, wire-compatible: clients written for ``rasa run`` work unchanged.

``POST /webhooks/rest/webhook`` takes ``{"sender": "...", "message": "...", "metadata"?: {...}}``
and answers with the list of bot messages, each ``{"recipient_id", "text"?, "buttons"?,
"image"?, "attachment"?, "custom"?}``, like Rasa's ``CollectingOutputChannel``.
``GET /webhooks/rest/`` answers ``{"status": "ok"}``.

Beyond Rasa: an optional ``message_id`` makes a retried request idempotent (a duplicate
gets ``[]``), and a malformed body gets a 400 with a readable reason instead of Rasa's
500. Rasa's ``?stream=true`` mode is not supported. Bounds (:mod:`bot.channels.limits`,
:mod:`console.limits`): a body over 64 KB gets 413; a text over the limit is stored cut and
the reply list starts with a notice saying so; too many messages from one sender or one
address get 429 with ``Retry-After``.

Who may call: outside demo mode (``CONCIERGE_DEMO`` unset) every request must carry
``Authorization: Bearer <token>`` with the token from ``credentials.yml`` (``rest: token:``)
or ``CONCIERGE_REST_TOKEN``; without one configured, REST refuses everything (401) rather
than stand open. ``require_token: false`` opens it explicitly; demo mode leaves it open.

Who is writing: nobody proven. The token says which *system* calls, not which client:
``sender`` is only the conversation's key, and contact details in ``metadata``
(``contact_phone``, ``contact_email``, ``contact_name``) become :class:`~bot.models.ContactHints`,
which never recognise or merge a client (agents see them labelled unverified).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.channels.base import ChannelAdapter, ChannelSection, MessageHandler, describe_validation_error
from bot.channels.limits import slow_down, too_long_notice
from bot.channels.webhook import json_body
from bot.errors import BadPayload, ChannelError, ConfigError, RateLimited, Unauthorized
from bot.models import ContactHints, InboundMessage, OutboundMessage
from bot.redact import mask_text

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

#: metadata keys a caller may use for contact details: kept as unverified hints only
HINT_KEYS = {"contact_name": "name", "contact_phone": "phone", "contact_email": "email"}
HINT_LIMITS = {"name": 200, "phone": 64, "email": 320}
MIN_TOKEN = 16


class RestRequest(BaseModel):
    """The body of ``POST /webhooks/rest/webhook``."""

    model_config = ConfigDict(extra="ignore", strict=True)

    sender: str = Field(min_length=1, max_length=256)
    message: str
    metadata: dict[str, Any] | None = None
    message_id: str | None = Field(default=None, min_length=1, max_length=256)
    input_channel: str | None = None

    @field_validator("sender")
    @classmethod
    def _not_an_address(cls, sender: str) -> str:
        # the sender is the conversation id's second half (``rest:<sender>``), which travels to
        # URLs, logs and read models: a caller's own pseudonym, never a phone or an e-mail
        if mask_text(sender) != sender:
            raise ValueError(
                "must be an id of your own, not a phone number or an e-mail address "
                "(send contact details as metadata contact_phone / contact_email)"
            )
        return sender

    def to_inbound(self, channel: str) -> InboundMessage:
        """The engine's view of this request: no verified identity ever; contact details in
        the metadata become unverified hints; other non-string values are kept as JSON text."""
        metadata: dict[str, str] = {}
        hints: dict[str, str] = {}
        for key, value in (self.metadata or {}).items():
            if key in HINT_KEYS:
                if isinstance(value, str) and value.strip():
                    field = HINT_KEYS[key]
                    hints[field] = value.strip()[: HINT_LIMITS[field]]
                continue
            metadata[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if self.input_channel:
            metadata["input_channel"] = self.input_channel
        message = InboundMessage(
            channel=channel,
            sender_id=self.sender,
            text=self.message,
            metadata=metadata,
            hints=ContactHints.model_validate(hints),
        )
        if self.message_id:  # otherwise every request is new (the default id is random)
            message.message_id = self.message_id
        return message


def parse_rest_body(body: bytes) -> RestRequest:
    """Validate a raw request body; :class:`BadPayload` says what is wrong."""
    data = json_body(body)
    if not isinstance(data, dict):
        raise BadPayload('expected a JSON object like {"sender": "user-1", "message": "hello"}')
    try:
        return RestRequest.model_validate(data)
    except ValidationError as exc:
        raise BadPayload(describe_validation_error(exc)) from None


class RestSection(ChannelSection):
    """``rest:`` in ``credentials.yml``: the callers' bearer token, and whether it is required
    (default: required unless in demo mode)."""

    token: SecretStr | None = None
    require_token: bool | None = None


class RestChannel(ChannelAdapter):
    """Request/response chat over HTTP: the replies travel in the response body."""

    name = "rest"

    def __init__(self, token: str | None = None, *, require_token: bool = False) -> None:
        if token is not None and len(token) < MIN_TOKEN:
            raise ConfigError(f"the REST token must be at least {MIN_TOKEN} characters")
        self.token = token
        self.require_token = require_token or token is not None

    @classmethod
    def from_settings(cls, settings: Settings | None) -> Self:
        """Token from ``CONCIERGE_REST_TOKEN``; required unless in demo mode."""
        return cls.from_credentials(None, settings)

    @classmethod
    def from_credentials(cls, section: Mapping[str, Any] | None, settings: Settings | None) -> Self:
        """The ``rest:`` section's token (else ``CONCIERGE_REST_TOKEN``); a token, once set,
        is always required; without one, REST is closed outside demo mode unless the section
        says ``require_token: false``."""
        try:
            config = RestSection.model_validate(section or {})
        except ValidationError as exc:
            raise ConfigError(f"credentials.yml rest: {describe_validation_error(exc)}") from None
        given = [config.token, settings.rest_token if settings is not None else None]
        token = next(
            (t.get_secret_value().strip() for t in given if t is not None and t.get_secret_value()), ""
        )
        demo = settings.demo if settings is not None else False
        require = config.require_token if config.require_token is not None else not demo
        if require and not token:
            log.warning(
                "rest: no token configured (CONCIERGE_REST_TOKEN); the REST channel refuses every request"
            )
        return cls(token or None, require_token=require)

    def authorise(self, request: Request) -> None:
        """Raise :class:`~bot.errors.Unauthorized` (401) unless the request may call."""
        if not self.require_token:
            return
        if self.token is None:
            raise Unauthorized("the REST channel needs a token: set CONCIERGE_REST_TOKEN")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("send Authorization: Bearer <token>")
        if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), self.token.encode("utf-8")):
            raise Unauthorized("wrong token")

    def router(self, handler: MessageHandler) -> APIRouter:
        """``GET /`` (liveness, like Rasa) and ``POST /webhook``."""
        router = APIRouter()

        @router.get("/")
        async def status() -> dict[str, str]:
            return {"status": "ok"}

        @router.post("/webhook")
        async def webhook(request: Request) -> JSONResponse:
            self.authorise(request)  # before the body is even read
            payload = parse_rest_body(await request.body())
            wait = await self.guard.sender_wait(self.name, payload.sender)
            if wait is not None:
                message = slow_down(payload.message, wait)
                raise RateLimited(message, retry_after=wait)
            inbound, cut = self.guard.bound(payload.to_inbound(self.name))
            replies = await handler.handle(inbound)
            answer = [reply.to_rasa() for reply in replies]
            if cut:  # stored cut to the limit; the client hears so before the bot's answer
                notice = too_long_notice(payload.message, self.guard.max_chars)
                answer.insert(0, {"recipient_id": payload.sender, "text": notice})
            return JSONResponse(answer)

        return router

    async def send(self, message: OutboundMessage) -> None:
        """REST clients only hear from the bot in a response; a push has nowhere to go.

        The message is still in the conversation's event log, so the console shows it.
        """
        raise ChannelError("the REST channel cannot push: replies travel in the HTTP response")
