"""The app's edge: who the client is, how big a request may be, how often an address may call.

:class:`EdgeMiddleware` (pure ASGI, outermost) does three things before any route runs:

1. **Client address.** ``X-Forwarded-For`` is believed only when the peer is one of the
   trusted proxies (``CONCIERGE_TRUSTED_PROXIES``: addresses or networks, default none);
   the client is then the right-most hop that is not itself a trusted proxy. The resolved
   address replaces ``scope["client"]``, so sign-in throttling, rate limits and logs all
   see the same one. (Run uvicorn with ``--no-proxy-headers``: ``concierge run`` does.)
2. **Body size** per route (:data:`ROUTE_LIMITS`, else ``CONCIERGE_MAX_REQUEST_BYTES``): a
   ``Content-Length`` over the limit is answered 413 before the body is read; a body
   streamed without one is counted as it arrives and cut off with 413 at the limit.
3. **Rate limits per address** (:mod:`bot.ratelimit`, Redis-backed when
   ``CONCIERGE_REDIS_URL`` is set): REST chat requests and widget connections share the
   chat budget (``CONCIERGE_CHAT_PER_IP_PER_MINUTE``), sign-in attempts have their own
   (``CONCIERGE_LOGIN_PER_IP_PER_MINUTE``). Over budget: 429 with ``Retry-After`` (a widget
   connection is refused with close code 1008). Per-sender budgets are the channels'
   (:mod:`bot.channels.limits`); per username and address, the sign-in throttle's
   (:mod:`console.security.throttle`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.channels.limits import address_key
from bot.ratelimit import Rate, RateLimiter
from bot.settings import Settings
from console.errors import error_response

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

KB = 1024
MB = 1024 * KB
EMAIL_BYTES = 32 * MB  # a raw MIME mail with attachments; the route checks its own max_bytes too
IMPORT_BYTES = 6 * MB  # the clients CSV (the route refuses over 5 MB with its own message)
PROVIDER_BYTES = 1 * MB  # provider callbacks are small JSON or forms; media comes by reference
#: (path prefix, largest body in bytes); the first match wins; the chat limit comes from settings
ROUTE_LIMITS: tuple[tuple[str, int], ...] = (
    ("/webhooks/email/", EMAIL_BYTES),
    ("/api/clients/import", IMPORT_BYTES),
    ("/webhooks/", PROVIDER_BYTES),
)
CHAT_PATH = "/webhooks/rest/"
WIDGET_SOCKET = "/webhooks/widget/ws"
LOGIN_PATH = "/console/login"


def parse_networks(text: str) -> list[Network]:
    """``"10.0.0.1, 192.168.0.0/24"`` as networks; a bad entry is a ValueError naming it."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"CONCIERGE_TRUSTED_PROXIES: {item!r} is not an address or network"
                ) from None
    return networks


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str, forwarded: str | None, proxies: Sequence[Network]) -> str:
    """The client's address: ``peer``, unless ``peer`` is a trusted proxy that forwarded one.

    Hops are read right to left (each proxy appends the address it saw), skipping trusted
    proxies; the first other hop is the client. A hop that is not an address ends the walk
    at the last trusted one, so a forged header can never name an arbitrary string.
    """
    if not proxies or not forwarded or not _trusted(peer, proxies):
        return peer
    client = peer
    for hop in reversed([h.strip() for h in forwarded.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client
        client = hop
        if not _trusted(hop, proxies):
            return hop
    return client


@dataclass(frozen=True)
class EdgeConfig:
    """Everything :class:`EdgeMiddleware` enforces, built from the settings."""

    max_request_bytes: int = MB
    max_chat_bytes: int = 64 * KB
    trusted_proxies: list[Network] = field(default_factory=list)
    chat_per_ip: Rate = field(default_factory=lambda: Rate(0))
    login_per_ip: Rate = field(default_factory=lambda: Rate(0))

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeConfig:
        """The edge's bounds from ``CONCIERGE_*`` settings."""
        return cls(
            max_request_bytes=settings.max_request_bytes,
            max_chat_bytes=settings.max_chat_request_bytes,
            trusted_proxies=parse_networks(settings.trusted_proxies),
            chat_per_ip=Rate(settings.chat_per_ip_per_minute),
            login_per_ip=Rate(settings.login_per_ip_per_minute),
        )

    def body_limit(self, path: str) -> int:
        """The largest body accepted on ``path``."""
        if path.startswith(CHAT_PATH):
            return self.max_chat_bytes
        return next(
            (limit for prefix, limit in ROUTE_LIMITS if path.startswith(prefix)), self.max_request_bytes
        )


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is over the limit of {_size(limit)} for this address.")


def _size(limit: int) -> str:
    return f"{limit // MB} MB" if limit >= MB and limit % MB == 0 else f"{limit // KB} KB"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class EdgeMiddleware:
    """Pure ASGI middleware for the whole app (see the module docstring)."""

    def __init__(self, app: ASGIApp, config: EdgeConfig, limiter: RateLimiter) -> None:
        self.app = app
        self.config = config
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = self._with_client(scope)
        address = scope["client"][0] if scope.get("client") else "unknown"
        if scope["type"] == "websocket":
            if scope["path"] == WIDGET_SOCKET:
                if await self.limiter.hit(address_key(address), self.config.chat_per_ip) is not None:
                    await send({"type": "websocket.close", "code": 1008, "reason": "too many connections"})
                    return
            await self.app(scope, receive, send)
            return
        wait = await self._rate(scope, address)
        if wait is not None:
            response = error_response(
                429,
                "rate_limited",
                f"Too many requests from your address. Please wait {wait} s and try again.",
                headers={"Retry-After": str(wait)},
            )
            await response(scope, receive, send)
            return
        limit = self.config.body_limit(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await error_response(413, "too_large", _TooLarge(limit).detail)(scope, receive, send)
            return
        await self._bounded(scope, receive, send, limit)

    def _with_client(self, scope: Scope) -> Scope:
        peer = scope["client"][0] if scope.get("client") else "unknown"
        address = client_address(peer, _header(scope, b"x-forwarded-for"), self.config.trusted_proxies)
        if address == peer:
            return scope
        port = scope["client"][1] if scope.get("client") else 0
        return {**scope, "client": (address, port)}

    async def _rate(self, scope: Scope, address: str) -> int | None:
        if scope["method"] != "POST":
            return None
        path = scope["path"]
        if path.startswith(CHAT_PATH):
            return await self.limiter.hit(address_key(address), self.config.chat_per_ip)
        if path == LOGIN_PATH:
            return await self.limiter.hit(f"login:ip:{address}", self.config.login_per_ip)
        return None

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app, counting the body's bytes as they arrive; 413 past ``limit``."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)  # the app's handlers answer it (413) if it reads on
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge as exc:
            if started:
                raise
            await error_response(413, "too_large", exc.detail)(scope, receive, send)


def install_limits(app: ASGIApp, settings: Settings, limiter: RateLimiter) -> EdgeConfig:
    """Add :class:`EdgeMiddleware` to a FastAPI ``app`` (call it after the other middleware,
    so it runs first); returns the config it enforces."""
    config = EdgeConfig.from_settings(settings)
    app.add_middleware(EdgeMiddleware, config=config, limiter=limiter)  # type: ignore[attr-defined]
    return config
