"""HTML pages: the Mariia Hub demo page (hosting the widget) and the embed snippet."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.templating import Jinja2Templates

from bot.channels.widget_identity import sign_identity

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# The demo page's "chat as" picker: demo clients from data/clients.csv, one per tier. The
# page gets their widget tokens from GET /demo/identity/<key>, which exists only in demo
# mode with a widget secret set (a real site signs its logged-in customer on its server).
DEMO_CLIENTS: dict[str, tuple[str, str, str]] = {
    "vip": ("Aleksandra Wiśniewska", "VIP", "ola.wisniewska@example.pl"),
    "premium": ("Emily Carter", "Premium", "emily.carter@example.com"),
    "standard": ("Hannah Brooks", "Standard", "hannah.brooks@example.com"),
}


def _demo_secret(request: Request) -> str | None:
    """The widget secret when the app runs in demo mode with one set, else None."""
    settings = getattr(request.app.state, "settings", None)
    secret = getattr(settings, "widget_secret", None)
    if settings is None or not getattr(settings, "demo", False) or secret is None:
        return None
    return str(secret.get_secret_value())


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
    """``GET /`` (demo) and ``GET /widget/snippet``."""
    routes = APIRouter()
    templates = Jinja2Templates(directory=TEMPLATES)
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}

    @routes.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo(request: Request) -> HTMLResponse:
        demo_clients = (
            [{"key": key, "name": name, "tier": tier} for key, (name, tier, _) in DEMO_CLIENTS.items()]
            if _demo_secret(request)
            else []
        )
        return templates.TemplateResponse(
            request,
            "demo.html",
            {"concierge_url": _base_url(request), "demo_clients": demo_clients},
            headers=headers,
        )

    @routes.get("/demo/identity/{key}", include_in_schema=False)
    async def demo_identity(key: str, request: Request) -> JSONResponse:
        """A demo client's widget token (demo mode only: 404 otherwise, and for unknown keys)."""
        secret = _demo_secret(request)
        if secret is None or key not in DEMO_CLIENTS:
            raise HTTPException(status_code=404, detail="not found")
        name, tier, email = DEMO_CLIENTS[key]
        return JSONResponse(
            {"token": sign_identity("email", email, secret), "name": name, "tier": tier},
            headers={"Cache-Control": "no-store"},
        )

    # GET /console (the console's home, behind sign-in) lives in console/routes/home.py

    @routes.get("/widget/snippet", response_class=PlainTextResponse)
    async def snippet(request: Request) -> PlainTextResponse:
        """The embed snippet for this server, ready to paste into a page's HTML."""
        return PlainTextResponse(widget_snippet(_base_url(request)) + "\n")

    return routes
