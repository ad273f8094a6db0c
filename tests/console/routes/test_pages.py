"""The demo page, the console shell and the embed snippet, as a browser or a site owner gets them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bot.settings import Settings
from console.app import create_app

SNIPPET = (
    '<script src="http://testserver/static/widget.js" data-concierge-url="http://testserver" async></script>'
)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(project_dir=tmp_path))


async def get(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


async def test_the_demo_page_embeds_the_widget_with_the_published_snippet(app: FastAPI) -> None:
    page = await get(app, "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Mariia Hub" in page.text
    assert SNIPPET in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_the_snippet_is_served_for_this_host(app: FastAPI) -> None:
    response = await get(app, "/widget/snippet")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == SNIPPET + "\n"
    behind_proxy = await get(app, "/widget/snippet", host="chat.mariiahub.example")
    assert 'data-concierge-url="http://chat.mariiahub.example"' in behind_proxy.text


async def test_a_forged_host_header_cannot_break_out_of_the_snippet(app: FastAPI) -> None:
    response = await get(app, "/widget/snippet", host='evil.example"onload="alert(1)')
    assert '"onload="' not in response.text
    assert response.text.count('"') == 4


async def test_the_console_asks_for_sign_in_first(app: FastAPI) -> None:
    page = await get(app, "/console")  # the signed-in home is tested in tests/console/routes/test_home.py
    assert page.status_code == 303 and page.headers["location"] == "/console/login?next=/console"


async def test_the_widget_files_are_served(app: FastAPI) -> None:
    script = await get(app, "/static/widget.js")
    style = await get(app, "/static/widget.css")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "data-concierge-url" in script.text and ".innerHTML" not in script.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
