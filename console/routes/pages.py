"""HTML pages: the Mariia Hub demo page (hosting the widget), the console shell, the embed snippet."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.templating import Jinja2Templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# pages load nothing from elsewhere and run no inline script, so injected markup cannot run
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)


def widget_snippet(base_url: str) -> str:
    """The one line a website adds to show the chat widget, served from ``base_url``.

    ``data-concierge-url`` tells the widget where its server is (the WebSocket goes to
    ``<url>/webhooks/widget/ws``); the script can be hosted anywhere.
    """
    base = escape(base_url.rstrip("/"), quote=True)
    return f'<script src="{base}/static/widget.js" data-concierge-url="{base}" async></script>'


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def router() -> APIRouter:
    """``GET /`` (demo), ``GET /console`` (console shell), ``GET /widget/snippet``."""
    routes = APIRouter()
    templates = Jinja2Templates(directory=TEMPLATES)
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}

    @routes.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "demo.html", {"concierge_url": _base_url(request)}, headers=headers
        )

    @routes.get("/console", response_class=HTMLResponse, include_in_schema=False)
    async def console(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "console.html", {"snippet": widget_snippet(_base_url(request))}, headers=headers
        )

    @routes.get("/widget/snippet", response_class=PlainTextResponse)
    async def snippet(request: Request) -> PlainTextResponse:
        """The embed snippet for this server, ready to paste into a page's HTML."""
        return PlainTextResponse(widget_snippet(_base_url(request)) + "\n")

    return routes
