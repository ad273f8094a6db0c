"""Rendering console pages: one layout, the navigation each role may see, the CSRF meta tag.

Every console page extends ``layout.html`` and is rendered with :func:`render`, which adds
the signed-in user, the navigation filtered by role and the CSRF token for the page's
JavaScript. Jinja's autoescape is on: text from users and clients is shown as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from console.security.models import (
    ADMIN_ROLES,
    ANALYTICS_ROLES,
    AUDIT_ROLES,
    CLIENT_READ_ROLES,
    KNOWLEDGE_READ_ROLES,
    WORKSPACE_ROLES,
    ConsoleUser,
    Role,
)
from console.security.sessions import SESSION_COOKIE, csrf_for

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the console's navigation and the roles that see it."""

    key: str
    label: str
    href: str
    roles: tuple[Role, ...]


NAV: tuple[NavItem, ...] = (
    NavItem("workspace", "Workspace", "/console/workspace", WORKSPACE_ROLES),
    NavItem("clients", "Clients", "/console/clients", CLIENT_READ_ROLES),
    NavItem("proactive", "Outreach", "/console/proactive", WORKSPACE_ROLES),
    NavItem("knowledge", "Knowledge", "/console/knowledge", KNOWLEDGE_READ_ROLES),
    NavItem("analytics", "Analytics", "/console/analytics", ANALYTICS_ROLES),
    NavItem("users", "Users", "/console/users", ADMIN_ROLES),
    NavItem("automation", "Automation", "/console/automation", AUDIT_ROLES),
    NavItem("audit", "Audit", "/console/audit", AUDIT_ROLES),
)


def nav_for(role: str) -> list[NavItem]:
    """The sections ``role`` may open, in menu order."""
    return [item for item in NAV if role in item.roles]


@cache
def templates() -> Jinja2Templates:
    """The console's Jinja2 templates (autoescaping HTML), made once per process on first use."""
    return Jinja2Templates(directory=TEMPLATES)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    user: ConsoleUser | None = None,
    section: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """``name`` rendered in the console layout for the signed-in user (if any)."""
    user = user or getattr(request.state, "console_user", None)
    token = request.cookies.get(SESSION_COOKIE)
    values = {
        "user": user,
        "nav": nav_for(user.role) if user else [],
        "section": section,
        "csrf_token": csrf_for(token) if token and user else "",
        **(context or {}),
    }
    return templates().TemplateResponse(request, name, values, status_code=status_code)
