"""Errors translated at the edge: every failure becomes a short JSON body, never a traceback.

Bodies look like ``{"error": "bad_payload", "message": "sender: Field required"}``. Our own
4xx messages are written for the caller; 5xx answers say only that something failed on our
side, and the cause goes to the server log.

FastAPI's own conventions are kept for routes that rely on them: ``HTTPException`` keeps its
status and its ``detail`` (added to the body), and request validation answers 422 with
``detail`` listing each problem's ``loc``, ``msg`` and ``type``, but never the submitted value.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.errors import (
    ActionNotFound,
    ActionRejected,
    BadPayload,
    ChannelError,
    ConciergeError,
    ConcurrencyConflict,
    ConfigError,
    RateLimited,
    Unauthorized,
)
from bot.redact import masked_path

log = logging.getLogger(__name__)

INTERNAL = "Something went wrong on our side. Please try again in a moment."

# most specific first: the first class an error is an instance of wins
STATUS: list[tuple[type[ConciergeError], int, str]] = [
    (BadPayload, 400, "bad_payload"),
    (Unauthorized, 401, "unauthorized"),
    (ActionNotFound, 404, "action_not_found"),
    (ActionRejected, 409, "action_rejected"),
    (ConcurrencyConflict, 409, "conflict"),  # a conversation kept moving on while we retried
    (RateLimited, 429, "rate_limited"),
    (ChannelError, 502, "channel_error"),
    (ConfigError, 500, "config_error"),
]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
}


class ErrorBody(BaseModel):
    """The body of every error answer: a stable code, a message for people, and sometimes detail
    (request validation lists each problem's ``loc``, ``msg`` and ``type`` there)."""

    error: str = Field(description="a stable code, e.g. invalid_request, not_found, conflict")
    message: str
    detail: Any = None


_ERROR_MEANING = {
    400: "The request could not be read (e.g. malformed JSON).",
    401: "No valid session or API token.",
    403: "The role or token may not do this, or the CSRF header is missing.",
    404: "No such resource.",
    409: "Someone changed it meanwhile, or it is in a state where this makes no sense.",
    413: "The request body is too large.",
    422: "The request breaks the schema or a rule; the message says which.",
    429: "Too many requests; see Retry-After.",
}
# Documented on every operation (``FastAPI(responses=ERROR_RESPONSES)``), so API clients and
# schema-based tests know each error's shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": meaning} for status, meaning in _ERROR_MEANING.items()
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, detail: object = None
) -> JSONResponse:
    """The one error body shape of the whole app (``detail`` only where FastAPI clients expect it)."""
    body: dict[str, object] = {"error": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


async def _concierge_error(request: Request, exc: Exception) -> JSONResponse:
    status, code = next(((s, c) for cls, s, c in STATUS if isinstance(exc, cls)), (500, "internal_error"))
    if status >= 500 and not isinstance(exc, ChannelError):
        log.error("%s %s failed: %r", request.method, masked_path(request.url.path), exc)
        return error_response(status, code, INTERNAL)
    headers = None
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    return error_response(status, code, str(exc), headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # loc, msg and type only: the submitted values may hold personal data
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    problems = "; ".join(f"{'.'.join(str(p) for p in d['loc']) or 'body'}: {d['msg']}" for d in detail)
    return error_response(422, "invalid_request", problems or "invalid request", detail=detail)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "error" if exc.status_code < 500 else "internal_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, dict(exc.headers or {}) or None, detail=exc.detail)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, masked_path(request.url.path), exc_info=exc)
    return error_response(500, "internal_error", INTERNAL)


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations on ``app``."""
    app.add_exception_handler(ConciergeError, _concierge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
