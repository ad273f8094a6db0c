"""Dependencies every console route uses: who is signed in, and may their role do this.

- ``CurrentUser``: the signed-in :class:`ConsoleUser`; 401 JSON for API requests, a redirect
  to ``/console/login`` for pages, when there is no valid session.
- ``require_roles("manager", "admin")``: a dependency returning the user, 403 for other
  roles. Roles are listed explicitly (no hierarchy); the ``*_ROLES`` tuples below name
  the usual sets (managers and admins can do everything agents can; editors cannot
  use the workspace; agents read the knowledge base but do not change it).
- ``websocket_user(websocket, *roles)``: the same for WebSockets; closes with 4401 (no
  session) or 4403 (wrong role or a foreign Origin) and returns None.
- ``Platform``: the app's :class:`ConsolePlatform` (accounts, sessions, audit), opened.

Mutating requests (POST, PUT, PATCH, DELETE) with a session cookie must also carry the
``X-CSRF-Token`` header (see :mod:`console.security.http`); the console's JavaScript reads
it from ``<meta name="csrf-token">`` in every page.

Usage::

    @routes.post("/api/things")
    async def create(user: Annotated[ConsoleUser, Depends(require_roles(*WORKSPACE_ROLES))]): ...

    @routes.websocket("/api/queue/ws")
    async def queue(websocket: WebSocket):
        user = await websocket_user(websocket, *WORKSPACE_ROLES)
        if user is None:
            return
        await websocket.accept()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, WebSocket, status

from console.security.models import (
    ADMIN_ROLES,
    ANALYTICS_ROLES,
    AUDIT_ROLES,
    CLIENT_READ_ROLES,
    CLIENT_WRITE_ROLES,
    KNOWLEDGE_READ_ROLES,
    KNOWLEDGE_WRITE_ROLES,
    ROLES,
    WORKSPACE_ROLES,
    ConsoleUser,
    Role,
)
from console.security.platform import ConsolePlatform
from console.security.sessions import CSRF_HEADER, SESSION_COOKIE

__all__ = [
    "ADMIN_ROLES",
    "ANALYTICS_ROLES",
    "AUDIT_ROLES",
    "CLIENT_READ_ROLES",
    "CLIENT_WRITE_ROLES",
    "CSRF_HEADER",
    "KNOWLEDGE_READ_ROLES",
    "KNOWLEDGE_WRITE_ROLES",
    "ROLES",
    "WORKSPACE_ROLES",
    "ConsoleUser",
    "CurrentUser",
    "Forbidden",
    "LoginRequired",
    "Platform",
    "Role",
    "get_platform",
    "require_roles",
    "websocket_user",
]

WS_NO_SESSION = 4401
WS_FORBIDDEN = 4403


class LoginRequired(HTTPException):
    """No valid session: 401 JSON for the API, a redirect to the login page for pages."""

    def __init__(self) -> None:
        super().__init__(status.HTTP_401_UNAUTHORIZED, "Please sign in.")


class Forbidden(HTTPException):
    """Signed in, but the role may not do this: 403."""

    def __init__(self, message: str = "Your role may not do this.") -> None:
        super().__init__(status.HTTP_403_FORBIDDEN, message)


async def get_platform(request: Request) -> ConsolePlatform:
    """The app's console platform, opened."""
    platform: ConsolePlatform = request.app.state.console
    return await platform.ready()


Platform = Annotated[ConsolePlatform, Depends(get_platform)]


async def current_user(request: Request) -> ConsoleUser:
    """The signed-in user; :class:`LoginRequired` when the session is missing or dead."""
    cached = getattr(request.state, "console_user", None)
    if isinstance(cached, ConsoleUser):
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:  # no cookie: no need to touch the database
        raise LoginRequired()
    platform = await get_platform(request)
    session = await platform.sessions.resolve(token)
    if session is None:
        raise LoginRequired()
    request.state.console_user = session.user
    return session.user


CurrentUser = Annotated[ConsoleUser, Depends(current_user)]


def require_roles(*roles: Role) -> Callable[..., Awaitable[ConsoleUser]]:
    """A dependency returning the signed-in user if their role is one of ``roles`` (else 403)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"require_roles needs roles from {ROLES}, got {roles}")
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> ConsoleUser:
        if user.role not in allowed:
            raise Forbidden()
        return user

    check.__name__ = f"require_{'_'.join(roles)}"
    return check


def same_origin(origin: str | None, host: str | None) -> bool:
    """True when a browser's ``Origin`` names this server's ``Host`` (WebSockets skip CORS)."""
    if not origin or not host:
        return origin is None  # non-browser clients send no Origin
    return urlsplit(origin).netloc.lower() == host.lower()


async def websocket_user(websocket: WebSocket, *roles: Role) -> ConsoleUser | None:
    """The signed-in user of a WebSocket whose role is one of ``roles`` (all roles if none).

    On failure the socket is accepted and closed with 4401 (no valid session) or 4403
    (wrong role, or opened from another site's page), and None is returned: the caller
    just returns. On success nothing is sent; the caller accepts.
    """
    code: int | None = None
    user: ConsoleUser | None = None
    token = websocket.cookies.get(SESSION_COOKIE)
    if not same_origin(websocket.headers.get("origin"), websocket.headers.get("host")):
        code = WS_FORBIDDEN
    elif not token:
        code = WS_NO_SESSION
    else:
        platform: ConsolePlatform = await websocket.app.state.console.ready()
        session = await platform.sessions.resolve(token)
        if session is None:
            code = WS_NO_SESSION
        elif roles and session.user.role not in roles:
            code = WS_FORBIDDEN
        else:
            user = session.user
    if code is not None:
        await websocket.accept()
        await websocket.close(code=code)
        return None
    return user
