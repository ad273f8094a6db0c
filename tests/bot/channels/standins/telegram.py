"""A local stand-in for the Telegram Bot API (https://core.telegram.org/bots/api).

It speaks the documented wire format: ``POST /bot<token>/<method>`` with parameters as a
query string, ``application/x-www-form-urlencoded`` (nested objects such as
``reply_markup`` JSON-encoded, as python-telegram-bot sends them), ``application/json`` or
``multipart/form-data``; every answer is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters"?: {...}}``. Files are
served at ``GET /file/bot<token>/<file_path>``.

It records every request exactly (method, decoded parameters), answers ``getUpdates``
from a queue the test fills (long polling with ``timeout``), and can be told to fail the
next N calls of a method with a 5xx, a 429 carrying ``parameters.retry_after`` or a 403
("bot was blocked by the user").
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "Mariia Hub", "username": "mariia_hub_bot"}


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    token: str
    params: dict[str, Any]
    content_type: str


@dataclass
class Failure:
    """How the next calls of a method fail."""

    times: int
    status: int
    description: str
    parameters: dict[str, Any] | None = None


@dataclass
class TelegramStandIn:
    """The Bot API for one bot token; ``app`` is served by the test on a loopback port."""

    token: str
    calls: list[Call] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> content
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook_url: str = ""
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    _next_message_id: int = 100
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)

    # ---- what a test arranges ------------------------------------------------
    def fail(self, method: str, times: int, status: int = 500, *, retry_after: int | None = None) -> None:
        """The next ``times`` calls of ``method`` fail with ``status`` (429: with ``retry_after``)."""
        if status == 429:
            failure = Failure(
                times,
                429,
                f"Too Many Requests: retry after {retry_after or 1}",
                {"retry_after": retry_after or 1},
            )
        elif status == 403:
            failure = Failure(times, 403, "Forbidden: bot was blocked by the user")
        elif status == 400:
            failure = Failure(times, 400, "Bad Request: chat not found")
        else:
            failure = Failure(times, status, "Internal Server Error")
        self._failures.setdefault(method, []).append(failure)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for ``getUpdates`` (polling mode)."""
        self.updates.append(update)
        self._new_update.set()

    def sent(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``method`` (failed ones included), in order."""
        return [c.params for c in self.calls if c.method == method]

    # ---- the API -------------------------------------------------------------
    @property
    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/bot{token}/{method}")
        @app.get("/bot{token}/{method}")
        async def api(token: str, method: str, request: Request) -> Response:
            params = await _params(request)
            self.calls.append(Call(method, token, params, request.headers.get("content-type", "")))
            if token != self.token:
                return _error(401, "Unauthorized")
            failure = self._take_failure(method)
            if failure is not None:
                return _error(failure.status, failure.description, failure.parameters)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                return _error(404, "Not Found")
            return await handler(params)

        @app.get("/file/bot{token}/{file_path:path}")
        async def download(token: str, file_path: str) -> Response:
            file_id = file_path.rsplit("/", 1)[-1]
            if token != self.token or file_id not in self.files:
                return Response(status_code=404)
            return Response(self.files[file_id], media_type="application/octet-stream")

        return app

    def _take_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        self._next_message_id += 1
        chat_id = params.get("chat_id")
        return {
            "message_id": self._next_message_id,
            "from": BOT_USER,
            "chat": {
                "id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id,
                "type": "private",
            },
            "date": int(time.time()),
            **extra,
        }

    async def _m_getMe(self, params: dict[str, Any]) -> Response:
        return _ok(BOT_USER)

    async def _m_sendMessage(self, params: dict[str, Any]) -> Response:
        if not params.get("chat_id") or not params.get("text"):
            return _error(400, "Bad Request: message text is empty")
        extra: dict[str, Any] = {"text": params["text"]}
        if "reply_markup" in params:
            extra["reply_markup"] = params["reply_markup"]
        return _ok(self._message(params, **extra))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Response:
        if not params.get("chat_id") or not params.get("photo"):
            return _error(400, "Bad Request: there is no photo in the request")
        photo = [{"file_id": "AgACAgSent", "file_unique_id": "sent1", "width": 90, "height": 90}]
        extra: dict[str, Any] = {"photo": photo}
        if params.get("caption"):
            extra["caption"] = params["caption"]
        return _ok(self._message(params, **extra))

    async def _m_sendDocument(self, params: dict[str, Any]) -> Response:
        document = {"file_id": "BQACAgSent", "file_unique_id": "sent2"}
        return _ok(self._message(params, document=document))

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Response:
        if not params.get("callback_query_id"):
            return _error(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        return _ok(True)

    async def _m_getFile(self, params: dict[str, Any]) -> Response:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u{abs(hash(file_id)) % 10**8}",
                "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}",
            }
        )

    async def _m_setWebhook(self, params: dict[str, Any]) -> Response:
        self.webhook_url = str(params.get("url", ""))
        return _ok(True)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Response:
        self.webhook_url = ""
        return _ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> Response:
        if self.webhook_url:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            # Telegram forgets updates below the offset: they were confirmed
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if self.updates or time.monotonic() >= deadline:
                limit = int(params.get("limit") or 100)
                return _ok(self.updates[:limit])
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                pass


def _decode(value: str) -> Any:
    # nested objects (reply_markup, entities) travel JSON-encoded inside form fields
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {k: _decode(v) for k, v in request.query_params.items()}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            params.update(json.loads(body))
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        for key, value in form.multi_items():
            params[key] = _decode(value) if isinstance(value, str) else f"<file {value.filename}>"
    return params


def _ok(result: Any) -> Response:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=status)
