"""A local stand-in for Meta's Graph API Send API (Messenger and Instagram messaging).

It speaks the documented wire format: ``POST /{version}/{page-or-account-id}/messages`` with
a JSON body ``{"recipient": {"id": ...}, "messaging_type": "RESPONSE" | "UPDATE" |
"MESSAGE_TAG", "tag"?: ..., "message": {"text"?, "quick_replies"?, "attachment"?}}`` and the
access token as ``Authorization: Bearer``; success is ``{"recipient_id": ..., "message_id":
...}``, failures are Graph's error envelope ``{"error": {"message", "type", "code",
"error_subcode"?, "fbtrace_id"}}``.

Like Meta it refuses a free-form message (``RESPONSE``/``UPDATE``) to a recipient whose
24-hour window is closed (code 10, subcode 2018278 for Messenger, 2534022 for Instagram),
and checks that a ``MESSAGE_TAG`` carries a known tag. It records every request exactly and
can fail the next N sends with a 5xx or a 429 carrying ``Retry-After``.

It also plays Meta's CDN: the ``payload.url`` of a client's attachment is a signed URL that
is fetched without a token (``GET /cdn/<name>?oh=...``; ``media`` holds the files).
:class:`GraphCall`, :class:`MediaFile` and :func:`graph_error` are shared with the WhatsApp
Cloud API stand-in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
TAGS = {"HUMAN_AGENT", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"}
WINDOW_SUBCODE = {"messenger": 2018278, "instagram": 2534022}


@dataclass
class GraphCall:
    """One Graph API send request as received (``path`` is ``/{version}/{node}/messages``)."""

    path: str
    authorization: str
    body: dict[str, Any]
    accepted: bool = False

    @property
    def version(self) -> str:
        return self.path.split("/")[1]

    @property
    def node(self) -> str:
        return self.path.split("/")[2]


@dataclass
class MediaFile:
    """A file a client sent, as the provider keeps it."""

    content: bytes
    mime_type: str


@dataclass
class GraphStandIn:
    """The Send API for one page (Messenger) or professional account (Instagram)."""

    access_token: str
    platform: str = "messenger"  # which window error subcode to use
    calls: list[GraphCall] = field(default_factory=list)
    window_closed: set[str] = field(default_factory=set)  # recipients Meta would refuse free text to
    media: dict[str, MediaFile] = field(default_factory=dict)  # CDN name -> file
    media_requests: list[tuple[str, str]] = field(default_factory=list)  # (path, authorization)
    # (status, retry_after, which bodies it applies to)
    _failures: list[tuple[int, int | None, Callable[[dict[str, Any]], bool] | None]] = field(
        default_factory=list
    )

    def fail(
        self,
        times: int,
        status: int = 500,
        *,
        retry_after: int | None = None,
        matching: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """The next ``times`` sends (those ``matching``, if given) fail with ``status``.

        A 429 carries a ``Retry-After`` header.
        """
        self._failures.extend([(status, retry_after, matching)] * times)

    def _take_failure(self, body: dict[str, Any]) -> tuple[int, int | None] | None:
        for index, (status, retry_after, matching) in enumerate(self._failures):
            if matching is None or matching(body):
                del self._failures[index]
                return status, retry_after
        return None

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The bodies of the sends that succeeded, in order."""
        return [c.body for c in self.calls if c.accepted]

    @property
    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/cdn/{name}")
        async def cdn(name: str, request: Request) -> Response:
            self.media_requests.append((request.url.path, request.headers.get("authorization", "")))
            found = self.media.get(name)
            if found is None:
                return Response("URL signature expired", status_code=403, media_type="text/plain")
            return Response(found.content, media_type=found.mime_type)

        @app.post("/{version}/{node}/messages")
        async def send(version: str, node: str, request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                return graph_error(400, "Unsupported post request.", 100)
            call = GraphCall(request.url.path, request.headers.get("authorization", ""), body)
            self.calls.append(call)
            if call.authorization != f"Bearer {self.access_token}":
                return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)
            failure = self._take_failure(body)
            if failure is not None:
                status, retry_after = failure
                if status == 429:
                    return graph_error(
                        429,
                        "Calls to this api have exceeded the rate limit.",
                        613,
                        headers={"Retry-After": str(retry_after or 1)},
                    )
                return graph_error(
                    status,
                    "An unexpected error has occurred. Please retry your request later.",
                    2,
                    transient=True,
                )
            problem = self._check(body)
            if problem is not None:
                return problem
            call.accepted = True
            recipient = body["recipient"]["id"]
            return JSONResponse({"recipient_id": recipient, "message_id": f"m_{uuid.uuid4().hex}"})

        return app

    def _check(self, body: dict[str, Any]) -> Response | None:
        recipient = (body.get("recipient") or {}).get("id")
        if not recipient:
            return graph_error(400, "(#100) The parameter recipient is required", 100)
        kind = body.get("messaging_type")
        if kind not in MESSAGING_TYPES:
            return graph_error(
                400, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}", 100
            )
        if kind == "MESSAGE_TAG" and body.get("tag") not in TAGS:
            return graph_error(400, "(#100) Invalid tag", 100)
        message = body.get("message") or {}
        if not message.get("text") and not message.get("attachment"):
            return graph_error(400, "(#100) Must send either message or state", 100)
        if len(message.get("quick_replies") or []) > 13:
            return graph_error(400, "(#100) param message[quick_replies] must have at most 13 elements", 100)
        if kind != "MESSAGE_TAG" and recipient in self.window_closed:
            return graph_error(
                400,
                "(#10) This message is sent outside of allowed window.",
                10,
                subcode=WINDOW_SUBCODE.get(self.platform),
            )
        return None


def graph_error(
    status: int,
    message: str,
    code: int,
    *,
    subcode: int | None = None,
    transient: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": uuid.uuid4().hex[:20],
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return JSONResponse({"error": error}, status_code=status, headers=headers)
