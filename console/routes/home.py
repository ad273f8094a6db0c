"""``GET /console``: the console's home page, with the sections the signed-in role may open."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from console.deps import CurrentUser
from console.routes.pages import widget_snippet
from console.web import render


def router() -> APIRouter:
    """The home page route."""
    routes = APIRouter()

    @routes.get("/console", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request, user: CurrentUser) -> HTMLResponse:
        snippet = widget_snippet(str(request.base_url).rstrip("/"))
        return render(request, "home.html", {"snippet": snippet}, user=user)

    return routes
