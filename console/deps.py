"""Dependencies every console route uses: who is signed in, and may their role do this.

- ``CurrentUser``: the signed-in :class:`ConsoleUser`; 401 JSON for API requests, a redirect
  to ``/console/login`` for pages, when there is no valid session.
- ``require_roles("manager", "admin")``: a dependency returning the user, 403 for other
  roles. Roles are listed explicitly (no hierarchy); the ``*_ROLES`` tuples below name
  the usual sets (managers and admins can do everything agents can; editors cannot
  use the workspace; agents read the knowledge base but do not change it).
  ``require_roles(*CLIENT_WRITE_ROLES, scope="clients:write")`` also admits other systems
  whose API token (``Authorization: Bearer ...``, :mod:`console.security.tokens`) carries
  that scope. A route without a scope refuses every token (403), and so does
  ``CurrentUser``: pages, ``/api/me``, users and tokens are for people only. A bad, expired
  or revoked token gets 401 (never a fall-back to the session cookie); a refused token
  (expired, revoked, or lacking the scope) is audited as ``token.denied``.
- ``websocket_user(websocket, *roles)``: the same for WebSockets; closes with 4401 (no
  session) or 4403 (wrong role or a foreign Origin) and returns None.
- ``Platform``: the app's :class:`ConsolePlatform` (accounts, sessions, audit), opened.
- ``ServicesDep``: the running bot's services (:class:`console.running.AppServices`: engine,
  handoff, knowledge), None while the bot is starting.

Mutating requests (POST, PUT, PATCH, DELETE) with a session cookie must also carry the
``X-CSRF-Token`` header (see :mod:`console.security.http`); the console's JavaScript reads
it from ``<meta name="csrf-token">`` in every page. Requests with a bearer token need none.

Usage::

    @routes.post("/api/things")
    async def create(user: Annotated[ConsoleUser, Depends(require_roles(*WORKSPACE_ROLES))]): ...

    @routes.get("/api/things")  # people by role, other systems with a token holding the scope
    async def things(user: Annotated[ConsoleUser, Depends(require_roles(*ROLES, scope="things:read"))]): ...

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

from console.running import AppServices, running_services
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
from console.security.tokens import SCOPES, Scope, TokenRecord, TokenState

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
    "Scope",
    "ServicesDep",
    "TokenRejected",
    "Unavailable",
    "bearer_token",
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


class TokenRejected(LoginRequired):
    """An API token that is unknown, expired or revoked: 401 with ``WWW-Authenticate: Bearer``."""

    def __init__(self) -> None:
        HTTPException.__init__(
            self,
            status.HTTP_401_UNAUTHORIZED,
            "The API token is not valid: unknown, expired or revoked.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


class Forbidden(HTTPException):
    """Signed in, but the role may not do this: 403."""

    def __init__(self, message: str = "Your role may not do this.") -> None:
        super().__init__(status.HTTP_403_FORBIDDEN, message)


async def get_platform(request: Request) -> ConsolePlatform:
    """The app's console platform, opened."""
    platform: ConsolePlatform = request.app.state.console
    return await platform.ready()


Platform = Annotated[ConsolePlatform, Depends(get_platform)]

ServicesDep = Annotated[AppServices | None, Depends(running_services)]
"""The running bot's services for a route; None while the bot is starting."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (any case of ``Bearer``), else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def route_of(request: Request) -> str:
    """``METHOD /path/{template}`` of the matched route: never the concrete path, which may
    hold a conversation or client id (personal data in the audit log)."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', '?')}"


def token_caller(token: TokenRecord) -> ConsoleUser:
    """The caller an API token stands for (see :class:`ConsoleUser`: its scopes, never its role)."""
    return ConsoleUser(
        id=-token.id,
        username=f"token:{token.name}"[:64],
        display_name=token.name,
        role="agent",
        scopes=frozenset(token.scopes),
    )


async def _token_user(request: Request, secret: str) -> ConsoleUser:
    platform = await get_platform(request)
    token = await platform.tokens.resolve(secret)
    if token is None:  # unknown: nothing to name in the audit log
        raise TokenRejected()
    state = token.state()
    if state is not TokenState.ACTIVE:
        await platform.audit.record(
            token_caller(token),
            "token.denied",
            f"token:{token.id}",
            {"reason": state.value, "route": route_of(request)},
        )
        raise TokenRejected()
    return token_caller(token)


async def caller(request: Request) -> ConsoleUser:
    """Who is calling: an API token's caller when a bearer token is sent, else the signed-in user.

    :class:`TokenRejected` for a bad token (the session cookie is then not consulted),
    :class:`LoginRequired` when there is neither a token nor a live session.
    """
    cached = getattr(request.state, "console_user", None)
    if isinstance(cached, ConsoleUser):
        return cached
    secret = bearer_token(request.headers.get("authorization"))
    if secret is not None:
        user = await _token_user(request, secret)
        request.state.console_user = user
        return user
    return await _session_user(request)


async def _deny_token(request: Request, user: ConsoleUser, scope: str | None) -> None:
    """Audit a token refused by a route (no scope there, or not this token's), then 403."""
    platform = await get_platform(request)
    await platform.audit.record(
        user,
        "token.denied",
        f"token:{-user.id}",
        {"reason": "scope", "needed": scope, "route": route_of(request)},
    )
    if scope is None:
        raise Forbidden("API tokens cannot use this route; it is for people signed in to the console.")
    raise Forbidden(f"This API token lacks the {scope!r} scope.")


async def current_user(request: Request) -> ConsoleUser:
    """The signed-in person; :class:`LoginRequired` without a live session, 403 for an API token."""
    user = await caller(request)
    if user.is_token:
        await _deny_token(request, user, None)
    return user


async def _session_user(request: Request) -> ConsoleUser:
    """The signed-in user; :class:`LoginRequired` when the session is missing or dead."""
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


def require_roles(*roles: Role, scope: Scope | None = None) -> Callable[..., Awaitable[ConsoleUser]]:
    """A dependency returning the caller if they may use the route, else 403.

    A person may when their role is one of ``roles``; another system when its API token
    carries ``scope`` (no ``scope``: no token may).
    """
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"require_roles needs roles from {ROLES}, got {roles}")
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"require_roles needs a scope from {SCOPES}, got {scope!r}")
    allowed = frozenset(roles)

    async def check(request: Request) -> ConsoleUser:
        user = await caller(request)
        if user.is_token:
            if scope is None or user.scopes is None or scope not in user.scopes:
                await _deny_token(request, user, scope)
        elif user.role not in allowed:
            raise Forbidden()
        return user

    check.__name__ = f"require_{'_'.join(roles)}" + (f"_or_{scope.replace(':', '_')}" if scope else "")
    return check


class Unavailable:
    """Stands in for a service that is not there (the bot is starting, the project lacks it).

    A dependency returns it instead of raising, so FastAPI first validates the request
    (a malformed one gets its 422, as it would with the service up); the 503 is raised
    when the route first touches the service.
    """

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, name: str) -> object:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, self._message)


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
