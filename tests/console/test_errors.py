"""Errors become short JSON bodies with the right status; 5xx answers reveal nothing internal."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bot.errors import (
    ActionNotFound,
    ActionRejected,
    BadPayload,
    ChannelError,
    ConfigError,
    RateLimited,
    Unauthorized,
)
from bot.settings import Settings
from console.app import create_app

GENERIC = "Something went wrong on our side. Please try again in a moment."
RAISES: dict[str, Exception] = {
    "bad_payload": BadPayload("sender: Field required"),
    "unauthorized": Unauthorized("the signature does not match"),
    "rate_limited": RateLimited("too many messages", retry_after=12.4),
    "action_not_found": ActionNotFound("no action called action_fly"),
    "action_rejected": ActionRejected("booking_form"),
    "channel_error": ChannelError("WhatsApp answered 503"),
    "config_error": ConfigError("cannot read /etc/concierge/secret.key"),
    "unexpected": RuntimeError("database password is hunter2"),
}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    app = create_app(Settings(project_dir=tmp_path))

    @app.get("/raise/{kind}")
    async def raise_it(kind: str) -> None:
        raise RAISES[kind]

    @app.get("/count")
    async def count(n: int) -> dict[str, int]:
        return {"n": n}

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("bad_payload", 400, "sender: Field required"),
        ("unauthorized", 401, "the signature does not match"),
        ("rate_limited", 429, "too many messages"),
        ("action_not_found", 404, "no action called action_fly"),
        ("action_rejected", 409, "action 'booking_form' rejected execution"),
        ("channel_error", 502, "WhatsApp answered 503"),
        ("config_error", 500, GENERIC),
        ("unexpected", 500, GENERIC),
    ],
)
async def test_errors_are_translated(app: FastAPI, kind: str, status: int, message: str) -> None:
    response = await get(app, f"/raise/{kind}")
    assert response.status_code == status
    expected_code = "internal_error" if kind == "unexpected" else kind
    assert response.json() == {"error": expected_code, "message": message}
    assert "hunter2" not in response.text and "secret.key" not in response.text
    assert "Traceback" not in response.text


async def test_rate_limits_say_when_to_retry(app: FastAPI) -> None:
    assert (await get(app, "/raise/rate_limited")).headers["retry-after"] == "12"


async def test_unknown_paths_and_bad_parameters_answer_in_the_same_shape(app: FastAPI) -> None:
    missing = await get(app, "/no/such/page")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Not Found", "detail": "Not Found"}
    bad = await get(app, "/count?n=lots")
    assert bad.status_code == 422  # FastAPI's convention, which other console routes document
    body = bad.json()
    assert body["error"] == "invalid_request" and body["message"].startswith("query.n:")
    assert body["detail"][0]["loc"] == ["query", "n"] and body["detail"][0]["type"] == "int_parsing"
    assert "lots" not in bad.text  # submitted values are not echoed back
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        wrong_method = await client.delete("/health")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
