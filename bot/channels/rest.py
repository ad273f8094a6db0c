"""Rasa's REST channel, wire-compatible: clients written for ``rasa run`` work unchanged.

``POST /webhooks/rest/webhook`` takes ``{"sender": "...", "message": "...", "metadata"?: {...}}``
and answers with the list of bot messages, each ``{"recipient_id", "text"?, "buttons"?,
"image"?, "attachment"?, "custom"?}``, like Rasa's ``CollectingOutputChannel``.
``GET /webhooks/rest/`` answers ``{"status": "ok"}``.

Beyond Rasa: an optional ``message_id`` makes a retried request idempotent (a duplicate
gets ``[]``), and a malformed body gets a 400 with a readable reason instead of Rasa's
500. Rasa's ``?stream=true`` mode is not supported.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.channels.base import ChannelAdapter, MessageHandler, describe_validation_error
from bot.channels.webhook import json_body
from bot.errors import BadPayload, ChannelError
from bot.models import InboundMessage, OutboundMessage


class RestRequest(BaseModel):
    """The body of ``POST /webhooks/rest/webhook``."""

    model_config = ConfigDict(extra="ignore", strict=True)

    sender: str = Field(min_length=1, max_length=256)
    message: str
    metadata: dict[str, Any] | None = None
    message_id: str | None = Field(default=None, min_length=1, max_length=256)
    input_channel: str | None = None

    def to_inbound(self, channel: str) -> InboundMessage:
        """The engine's view of this request; non-string metadata values are kept as JSON text."""
        metadata = {
            key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            for key, value in (self.metadata or {}).items()
        }
        if self.input_channel:
            metadata["input_channel"] = self.input_channel
        message = InboundMessage(channel=channel, sender_id=self.sender, text=self.message, metadata=metadata)
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


class RestChannel(ChannelAdapter):
    """Request/response chat over HTTP: the replies travel in the response body."""

    name = "rest"

    def router(self, handler: MessageHandler) -> APIRouter:
        """``GET /`` (liveness, like Rasa) and ``POST /webhook``."""
        router = APIRouter()

        @router.get("/")
        async def status() -> dict[str, str]:
            return {"status": "ok"}

        @router.post("/webhook")
        async def webhook(request: Request) -> JSONResponse:
            payload = parse_rest_body(await request.body())
            replies = await handler.handle(payload.to_inbound(self.name))
            return JSONResponse([reply.to_rasa() for reply in replies])

        return router

    async def send(self, message: OutboundMessage) -> None:
        """REST clients only hear from the bot in a response; a push has nowhere to go.

        The message is still in the conversation's event log, so the console shows it.
        """
        raise ChannelError("the REST channel cannot push: replies travel in the HTTP response")
