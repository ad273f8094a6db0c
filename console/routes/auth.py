"""Signing in and out: the login page, ``POST /console/login``, ``POST /console/logout``,
``GET /api/me``.

The session token lives only in an HttpOnly, SameSite=Strict cookie (Secure over https);
the database keeps its hash. Signing in always starts a new session (any session the
browser had is ended), so a token planted before login is worthless. Wrong credentials
get one generic message; too many failures get 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from console.audit import record
from console.deps import CurrentUser, Platform, current_user
from console.errors import error_response
from console.security.models import ConsoleUser, Role
from console.security.platform import LoginFailed, LoginThrottled
from console.security.sessions import (
    CSRF_HEADER,
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    csrf_for,
    csrf_matches,
    new_token,
)
from console.web import nav_for, render

DEFAULT_NEXT = "/console"


class LoginRequest(BaseModel):
    """What the login form sends."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    next: str | None = Field(default=None, max_length=500)


class MePublic(BaseModel):
    """The signed-in user as the console's JavaScript sees them."""

    id: int
    username: str
    display_name: str
    role: Role
    agent_id: str | None
    sections: list[str] = Field(description="the console sections this role may open")
    csrf_token: str = Field(description=f"send it back in the {CSRF_HEADER} header on changes")


class LoginResult(BaseModel):
    """A successful sign-in: who, and where to go next."""

    user: MePublic
    next: str


def safe_next(target: str | None) -> str:
    """``target`` if it is a console page on this site, else the console's home."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return DEFAULT_NEXT


def client_ip(request: Request) -> str:
    """The peer's address (a reverse proxy should be configured to pass the real one to uvicorn)."""
    return (request.client.host if request.client else "unknown")[:64]


def _me(user: ConsoleUser, token: str) -> MePublic:
    return MePublic(
        **user.model_dump(),
        sections=[item.key for item in nav_for(user.role)],
        csrf_token=csrf_for(token),
    )


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def router() -> APIRouter:
    """The sign-in routes."""
    routes = APIRouter()

    @routes.get("/console/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(
        request: Request, platform: Platform, next: Annotated[str | None, Query(max_length=500)] = None
    ) -> Response:
        session = await platform.sessions.resolve(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        prelogin = request.cookies.get(PRELOGIN_COOKIE) or new_token()
        response = render(request, "login.html", {"login_csrf": csrf_for(prelogin), "next": safe_next(next)})
        response.set_cookie(
            PRELOGIN_COOKIE,
            prelogin,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path="/console/login",
        )
        return response

    @routes.post("/console/login", response_model=LoginResult)
    async def login(body: LoginRequest, request: Request, platform: Platform) -> Response:
        header = request.headers.get(CSRF_HEADER)
        # the login page's token, or (signing in again while signed in) the session's
        if not (
            csrf_matches(request.cookies.get(PRELOGIN_COOKIE), header)
            or csrf_matches(request.cookies.get(SESSION_COOKIE), header)
        ):
            return error_response(
                403, "csrf_failed", "The sign-in form has expired. Reload the page and try again."
            )
        ip = client_ip(request)
        try:
            user = await platform.authenticate(body.username, body.password, ip)
        except LoginThrottled as exc:
            await record(platform, body.username.strip().lower()[:64], "auth.login_throttled", f"ip:{ip}")
            return error_response(
                429, "login_throttled", str(exc), headers={"Retry-After": str(exc.retry_after)}
            )
        except LoginFailed as exc:
            await record(platform, body.username.strip().lower()[:64], "auth.login_failed", f"ip:{ip}")
            return error_response(401, "login_failed", str(exc))
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            await platform.sessions.end(old)  # rotate: never keep a token from before sign-in
        token = await platform.sessions.create(user.id)
        await record(platform, user, "auth.login", f"user:{user.username}", {"ip": ip})
        result = LoginResult(user=_me(user, token), next=safe_next(body.next))
        response = JSONResponse(result.model_dump(mode="json"))
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(platform.sessions.absolute.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path="/",
        )
        response.delete_cookie(PRELOGIN_COOKIE, path="/console/login")
        return response

    @routes.post("/console/logout", status_code=status.HTTP_204_NO_CONTENT)
    async def logout(request: Request, user: CurrentUser, platform: Platform) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await platform.sessions.end(token)
        await record(platform, user, "auth.logout", f"user:{user.username}")
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @routes.get("/api/me", response_model=MePublic)
    async def me(request: Request, user: Annotated[ConsoleUser, Depends(current_user)]) -> MePublic:
        return _me(user, request.cookies.get(SESSION_COOKIE, ""))

    return routes
