"""A local stand-in for the WhatsApp Cloud API send endpoint (``POST /{version}/{phone-id}/messages``).

It speaks the documented wire format: a JSON message object (``messaging_product:
"whatsapp"``, ``to``, ``type`` and the object named by ``type``: ``text``, ``image``,
``interactive`` (``button`` with at most 3 reply buttons of titles <= 20 characters, or
``list`` with at most 10 rows of titles <= 24), ``template``) with ``Authorization: Bearer``;
success is ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages":
[{"id": "wamid..."}]}``; failures use Graph's error envelope. Like Meta it refuses a
non-template message to a recipient whose 24-hour window is closed (code 131047). It
records every request and can fail the next N sends with an HTTP status and Meta error code.

Media a client sent (``media``: media id -> file) are served the documented way: ``GET
/{version}/{media-id}`` with the token answers ``{"messaging_product", "url", "mime_type",
"sha256", "file_size", "id"}``; the ``url`` (a ``/whatsapp_business/attachments/?mid=...``
download link) also wants the token, and answers the bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .graph import GraphCall, MediaFile, graph_error

TYPES = {
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
}


@dataclass
class CloudApiStandIn:
    """The Cloud API for one business phone number."""

    access_token: str
    phone_number_id: str
    version: str = "v21.0"
    calls: list[GraphCall] = field(default_factory=list)
    window_closed: set[str] = field(default_factory=set)  # wa_ids Meta would refuse free-form messages to
    media: dict[str, MediaFile] = field(default_factory=dict)  # media id -> file
    media_requests: list[str] = field(default_factory=list)  # paths of media GETs, in order
    _failures: list[tuple[int, int, str, dict[str, str] | None]] = field(default_factory=list)

    def fail(
        self,
        times: int,
        status: int = 500,
        code: int = 131000,
        message: str = "Something went wrong",
        *,
        retry_after: float | None = None,
    ) -> None:
        """The next ``times`` sends fail with ``status`` and Meta error ``code``."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        self._failures.extend([(status, code, message, headers)] * times)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Bodies of the sends that succeeded, in order."""
        return [c.body for c in self.calls if c.accepted]

    @property
    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/whatsapp_business/attachments/")
        async def download(request: Request, mid: str = "") -> Response:
            self.media_requests.append(request.url.path)
            if request.headers.get("authorization") != f"Bearer {self.access_token}":
                return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)
            found = self.media.get(mid)
            if found is None:
                return graph_error(404, "Media not found", 131052)
            return Response(found.content, media_type=found.mime_type)

        @app.get("/{version}/{media_id}")
        async def media_url(version: str, media_id: str, request: Request) -> Response:
            self.media_requests.append(request.url.path)
            if request.headers.get("authorization") != f"Bearer {self.access_token}":
                return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)
            found = self.media.get(media_id)
            if found is None:
                message = f"Unsupported get request. Object with ID '{media_id}' does not exist"
                return graph_error(400, message, 100)
            link = f"{str(request.base_url).rstrip('/')}/whatsapp_business/attachments/?mid={media_id}&ext=1"
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "url": link,
                    "mime_type": found.mime_type,
                    "sha256": hashlib.sha256(found.content).hexdigest(),
                    "file_size": len(found.content),
                    "id": media_id,
                }
            )

        @app.post("/{version}/{node}/messages")
        async def send(version: str, node: str, request: Request) -> Response:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return graph_error(400, "(#100) The request body is not JSON", 100)
            call = GraphCall(request.url.path, request.headers.get("authorization", ""), body)
            self.calls.append(call)
            if call.authorization != f"Bearer {self.access_token}":
                return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)
            if version != self.version or node != self.phone_number_id:
                return graph_error(400, f"(#100) Unsupported post request: {version}/{node}", 100)
            if self._failures:
                status, code, message, headers = self._failures.pop(0)
                return graph_error(status, message, code, headers=headers)
            problem = _check(body)
            if problem is not None:
                return problem
            if body["to"] in self.window_closed and body["type"] != "template":
                return graph_error(400, "Re-engagement message", 131047)
            call.accepted = True
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": f"wamid.{uuid.uuid4().hex.upper()}"}],
                }
            )

        return app


def _check(body: dict[str, Any]) -> Response | None:
    if body.get("messaging_product") != "whatsapp":
        return graph_error(400, "(#100) The parameter messaging_product is required.", 100)
    if not body.get("to"):
        return graph_error(400, "(#100) The parameter to is required.", 100)
    kind = body.get("type", "text")
    if kind not in TYPES or not isinstance(body.get(kind), (dict, list)):
        return graph_error(400, f"(#100) Param {kind} is required for type {kind}", 100)
    if kind == "text" and not body["text"].get("body"):
        return graph_error(400, "(#100) Param text['body'] is required.", 100)
    if kind == "interactive":
        interactive = body["interactive"]
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3 or any(len(b["reply"]["title"]) > 20 for b in buttons):
                return graph_error(400, "Parameter value is not valid: buttons", 131009)
        elif interactive.get("type") == "list":
            rows = [r for s in action.get("sections", []) for r in s.get("rows", [])]
            if (
                not 1 <= len(rows) <= 10
                or any(len(r["title"]) > 24 for r in rows)
                or not action.get("button")
            ):
                return graph_error(400, "Parameter value is not valid: rows", 131009)
        else:
            return graph_error(400, "Parameter value is not valid: interactive.type", 131009)
        if not (interactive.get("body") or {}).get("text"):
            return graph_error(400, "Required parameter is missing: body.text", 131008)
    if kind == "template":
        template = body["template"]
        if not template.get("name") or not (template.get("language") or {}).get("code"):
            return graph_error(400, "Required parameter is missing: template name or language", 131008)
    return None
