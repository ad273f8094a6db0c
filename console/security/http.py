"""HTTP hardening for the whole app: security headers, the CSRF check, sign-in redirects.

:func:`install_security` adds, to every response, ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: same-origin``; to console responses (``/console...`` and ``/api/...``)
also a strict Content-Security-Policy (own scripts and styles only, no framing),
``X-Frame-Options: DENY`` and ``Cache-Control: no-store``. A route that sets its own
header keeps it.

CSRF: a mutating console request (POST, PUT, PATCH, DELETE) that carries a session
cookie must send ``X-CSRF-Token: <token>``, where the token is the one in the page's
``<meta name="csrf-token">`` (an HMAC of the session cookie; :func:`csrf_for`). Cross-site
pages cannot read it or set custom headers, and the cookie is ``SameSite=Strict`` too.
Requests without a session cookie pass on and get 401 from the route. Requests that
carry ``Authorization: Bearer <token>`` (another system with an API token) need no CSRF
token: a cross-site page cannot set that header, and such a request is judged by its token
alone, never by the cookie (:mod:`console.deps`). The login form
(which may have no session, or a dead one) is checked by the login route itself, against
the session cookie or its own pre-login cookie.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.deps import Forbidden, LoginRequired, TokenRejected, bearer_token
from console.errors import error_response
from console.security.nul import nul_problem
from console.security.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_matches

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_PATH = "/console/login"


def is_console_path(path: str) -> bool:
    """The console's pages and API (not the channels' webhooks, the demo page or static files)."""
    return path == "/console" or path.startswith(("/console/", "/api/"))


#: paths outside ``/api/`` that machines call (a Prometheus scraper): 401 JSON, never a login redirect
MACHINE_PATHS = frozenset({"/metrics"})


def is_page_request(request: Request) -> bool:
    """A browser asking for a page (gets redirects and HTML errors), not an API call."""
    path = request.url.path
    return request.method in ("GET", "HEAD") and not path.startswith("/api/") and path not in MACHINE_PATHS


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is treated as no cookie
                continue
    return {k: m.value for k, m in jar.items()}


class SecurityMiddleware:
    """Pure ASGI middleware (WebSockets and streaming pass untouched): headers, CSRF, and no
    NUL characters in console requests (:mod:`console.security.nul`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        console = is_console_path(scope["path"])
        if console:  # a NUL would reach PostgreSQL and fail there: refuse it here, with a reason
            problem, receive = await nul_problem(scope, receive)
            if problem is not None:
                await _with_headers(error_response(422, "invalid_request", problem), console)(
                    scope, receive, send
                )
                return
        # the login form is checked by its route (against the session or the pre-login cookie)
        if console and scope["method"] in MUTATING and scope["path"] != LOGIN_PATH and not _has_bearer(scope):
            token = _cookies(scope).get(SESSION_COOKIE)
            header = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == CSRF_HEADER.lower().encode()), None
            )
            if token and not csrf_matches(token, header):
                response = error_response(
                    403,
                    "csrf_failed",
                    f"This request lacks a valid {CSRF_HEADER} header. Reload the page and try again.",
                )
                await _with_headers(response, console)(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(MutableHeaders(scope=message), console)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _has_bearer(scope: Scope) -> bool:
    """True when the request authenticates with an API token (``Authorization: Bearer ...``)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return bearer_token(value.decode("latin-1")) is not None
    return False


def _add_headers(headers: MutableHeaders, console: bool) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if console:
        headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cache-Control", "no-store")


def _with_headers(response: Response, console: bool) -> Response:
    _add_headers(response.headers, console)
    return response


async def _login_required(request: Request, exc: Exception) -> Response:
    if is_page_request(request) and not isinstance(exc, TokenRejected):  # systems get JSON
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303)
    assert isinstance(exc, LoginRequired)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(401, "unauthorized", str(exc.detail), headers=headers)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    message = str(exc.detail)
    if is_page_request(request):
        from console.web import render

        response = render(request, "forbidden.html", {"message": message}, status_code=403)
        assert isinstance(response, HTMLResponse)
        return response
    return error_response(403, "forbidden", message)


def install_security(app: FastAPI) -> None:
    """Add the middleware and the sign-in / forbidden translations to ``app``."""
    app.add_middleware(SecurityMiddleware)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)
