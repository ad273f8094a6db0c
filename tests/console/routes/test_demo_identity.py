"""The demo page's "chat as" picker and its token endpoint: only in demo mode, only demo clients."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from bot.channels.widget_identity import verify_token
from bot.models import VerifiedIdentity
from bot.settings import Settings
from console.app import create_app

SECRET = "demo-secret-of-this-run"


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


async def test_in_demo_mode_the_page_offers_demo_clients_and_their_tokens_verify(tmp_path: Path) -> None:
    app = create_app(Settings(project_dir=tmp_path, demo=True, widget_secret=SecretStr(SECRET)))
    page = await get(app, "/")
    assert 'data-identity="vip"' in page.text and "Aleksandra Wiśniewska (VIP)" in page.text
    assert "Emily Carter (Premium)" in page.text and "Hannah Brooks (Standard)" in page.text
    assert "<script>" not in page.text  # still no inline script (CSP script-src 'self')

    response = await get(app, "/demo/identity/vip")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["name"], body["tier"]) == ("Aleksandra Wiśniewska", "VIP")
    assert verify_token(body["token"], SECRET) == VerifiedIdentity(
        kind="email", value="ola.wisniewska@example.pl", proof="site_token"
    )
    assert (await get(app, "/demo/identity/someone-else")).status_code == 404


async def test_outside_demo_mode_there_is_no_picker_and_no_token(tmp_path: Path) -> None:
    for settings in (
        Settings(project_dir=tmp_path, widget_secret=SecretStr(SECRET)),  # a real deployment
        Settings(project_dir=tmp_path, demo=True),  # demo mode without a widget secret
    ):
        app = create_app(settings)
        assert 'id="chat-as"' not in (await get(app, "/")).text
        assert (await get(app, "/demo/identity/vip")).status_code == 404
