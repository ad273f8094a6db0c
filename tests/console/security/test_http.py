"""Security headers on every response, strict ones on the console's."""

from __future__ import annotations

from fastapi import FastAPI

from console.security.models import Role
from tests.console.conftest import client_for, sign_in


async def test_console_responses_carry_strict_headers(
    console_app: FastAPI, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as client:
        login = await client.get("/console/login")
        await sign_in(client, role_users["admin"])
        api = await client.get("/api/me")
        home = await client.get("/console")
    async with client_for(console_app) as anonymous:
        anonymous_api = await anonymous.get("/api/users")
    for response in (login, api, home, anonymous_api):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
    assert "<script>" not in home.text and 'src="/static/console-core.js"' in home.text


async def test_other_responses_keep_their_own_policy_and_get_the_basics(console_app: FastAPI) -> None:
    async with client_for(console_app) as client:
        demo = await client.get("/")
        script = await client.get("/static/widget.js")
    assert "frame-ancestors 'self'" in demo.headers["content-security-policy"]  # the demo page's own
    assert script.headers["x-content-type-options"] == "nosniff" and "x-frame-options" not in script.headers
