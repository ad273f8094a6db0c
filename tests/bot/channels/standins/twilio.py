"""A local stand-in for Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

It speaks the documented wire format: a form-encoded body (``To``, ``From`` or
``MessagingServiceSid``, ``Body`` / ``MediaUrl`` (repeatable) / ``ContentSid`` +
``ContentVariables``, ``StatusCallback``) with HTTP basic auth (account sid, auth token);
success is ``201`` with the Message resource JSON (``sid`` ``SM...``, ``status: queued``);
failures are Twilio's error body ``{"code", "message", "more_info", "status"}``. Like Twilio,
it refuses a free-form WhatsApp message to a recipient whose 24-hour window is closed (error
63016) while accepting templates (``ContentSid``). It records every request exactly and can
fail the next N sends (5xx, or 429 with ``Retry-After``).

Media a client sent (``media``: media sid ``ME...`` -> file) are served like Twilio serves
``MediaUrl<n>``: ``GET /2010-04-01/Accounts/{sid}/Messages/{message}/Media/{media}`` wants
HTTP basic auth and redirects (307) to a short-lived copy that needs no credentials.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .graph import MediaFile


@dataclass
class MessagesCall:
    """One Messages API request as received: path, headers and the form fields in order."""

    path: str
    authorization: str
    content_type: str
    fields: list[tuple[str, str]]
    accepted: bool = False

    def get(self, name: str) -> str | None:
        """The first value of a form field."""
        return next((v for k, v in self.fields if k == name), None)

    def getall(self, name: str) -> list[str]:
        """Every value of a repeatable form field (``MediaUrl``)."""
        return [v for k, v in self.fields if k == name]


@dataclass
class TwilioStandIn:
    """The Messages API of one Twilio account."""

    account_sid: str
    auth_token: str
    calls: list[MessagesCall] = field(default_factory=list)
    window_closed: set[str] = field(default_factory=set)  # "whatsapp:+48..." Twilio refuses free text to
    media: dict[str, MediaFile] = field(default_factory=dict)  # media sid -> file
    media_requests: list[tuple[str, str]] = field(default_factory=list)  # (path, authorization)
    media_host: str = ""  # where the short-lived copies live (another origin, like Twilio's CDN)
    _failures: list[tuple[int, float | None]] = field(default_factory=list)

    def fail(self, times: int, status: int = 500, *, retry_after: float | None = None) -> None:
        """The next ``times`` sends fail with ``status`` (429: with ``Retry-After`` when given)."""
        self._failures.extend([(status, retry_after)] * times)

    @property
    def delivered(self) -> list[MessagesCall]:
        """The requests that created a message, in order."""
        return [c for c in self.calls if c.accepted]

    def _authorized(self, sid: str, authorization: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return sid == self.account_sid and authorization == f"Basic {expected}"

    @property
    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media/{media_sid}")
        async def media(sid: str, message_sid: str, media_sid: str, request: Request) -> Response:
            authorization = request.headers.get("authorization", "")
            self.media_requests.append((request.url.path, authorization))
            if not self._authorized(sid, authorization):
                return _error(401, 20003, "Authenticate")
            if media_sid not in self.media:
                return _error(404, 20404, f"The requested resource {request.url.path} was not found")
            return RedirectResponse(f"{self.media_host}/media-cdn/{media_sid}?Expires=300", status_code=307)

        @app.get("/media-cdn/{media_sid}")
        async def media_copy(media_sid: str, request: Request) -> Response:
            self.media_requests.append((request.url.path, request.headers.get("authorization", "")))
            found = self.media.get(media_sid)
            if found is None:
                return Response("AccessDenied", status_code=403, media_type="application/xml")
            return Response(found.content, media_type=found.mime_type)

        @app.post("/2010-04-01/Accounts/{sid}/Messages.json")
        async def create(sid: str, request: Request) -> Response:
            raw = (await request.body()).decode("utf-8")
            call = MessagesCall(
                path=request.url.path,
                authorization=request.headers.get("authorization", ""),
                content_type=request.headers.get("content-type", ""),
                fields=parse_qsl(raw, keep_blank_values=True),
            )
            self.calls.append(call)
            if not self._authorized(sid, call.authorization):
                return _error(401, 20003, "Authenticate")
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
                if status == 429:
                    return _error(429, 20429, "Too Many Requests", headers)
                return _error(status, 20500, "Internal Server Error", headers)
            if not call.content_type.startswith("application/x-www-form-urlencoded"):
                return _error(400, 20001, "Unsupported content type")
            to, sender = call.get("To"), call.get("From")
            if not to:
                return _error(400, 21604, "A 'To' phone number is required.")
            if not sender and not call.get("MessagingServiceSid"):
                return _error(400, 21603, "A 'From' phone number is required.")
            content_sid = call.get("ContentSid")
            if not (call.get("Body") or call.getall("MediaUrl") or content_sid):
                return _error(400, 21602, "Message body is required.")
            if to in self.window_closed and not content_sid:
                return _error(
                    400, 63016, "Failed to send freeform message because you are outside the allowed window."
                )
            call.accepted = True
            now = format_datetime(datetime.now(UTC))
            message_sid = "SM" + uuid.uuid4().hex
            return JSONResponse(
                {
                    "account_sid": self.account_sid,
                    "api_version": "2010-04-01",
                    "body": call.get("Body") or "",
                    "date_created": now,
                    "date_sent": None,
                    "date_updated": now,
                    "direction": "outbound-api",
                    "error_code": None,
                    "error_message": None,
                    "from": sender,
                    "messaging_service_sid": call.get("MessagingServiceSid"),
                    "num_media": str(len(call.getall("MediaUrl"))),
                    "num_segments": "1",
                    "price": None,
                    "price_unit": None,
                    "sid": message_sid,
                    "status": "queued",
                    "subresource_uris": {
                        "media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"
                    },
                    "to": to,
                    "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
                },
                status_code=201,
            )

        return app


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
        headers=headers,
    )
