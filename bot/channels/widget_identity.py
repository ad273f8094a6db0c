"""Signed identity for the website widget: the site vouches for its logged-in customer.

The website knows who is logged in; Concierge must not take the browser's word for it.
The site's *server* signs a short-lived token naming the customer's e-mail or phone with
a secret it shares with Concierge (``CONCIERGE_WIDGET_SECRET``: at least 16 characters;
32+ random ones are better) and renders it on the embed script, only for a logged-in
customer, over HTTPS::

    <script src=".../static/widget.js" data-concierge-url="..." data-client-token="TOKEN" async>

The token is a standard JWT (RFC 7519) signed with HMAC-SHA256 (``alg: HS256``), so any
JWT library on the site's backend makes one. Claims:

- ``email`` *or* ``phone`` (exactly one): the customer, as the site knows them;
- ``aud``: ``"concierge-widget"`` (a token minted for something else is refused);
- ``exp``: expiry, seconds since the epoch; required, and at most
  :data:`MAX_LIFETIME_SECONDS` (7 days) ahead. One hour to a day (the site's own session
  length) is right: the widget re-sends the token when it reconnects;
- ``iat`` / ``nbf`` optional, checked when present.

Python (PyJWT)::

    jwt.encode({"email": user.email, "aud": "concierge-widget", "exp": int(time.time()) + 3600},
               SECRET, algorithm="HS256")

Node (jsonwebtoken)::

    jwt.sign({ email: user.email }, SECRET,
             { algorithm: "HS256", audience: "concierge-widget", expiresIn: "1h" })

The widget sends the token in its ``hello`` frame; a valid token gives the socket's
messages a :class:`~bot.models.VerifiedIdentity` (``proof="site_token"``) and the handoff
runtime recognises the client behind it. An invalid, forged or expired token is ignored
(logged without the token) and the chat stays anonymous. Only HS256 is accepted: a
token claiming ``alg: none`` or any other algorithm is refused before anything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from typing import Any, Literal, TypeGuard

from bot.models import VerifiedIdentity

TokenKind = Literal["email", "phone"]
AUDIENCE = "concierge-widget"
ALGORITHM = "HS256"
MAX_IDENTITY = 320
MAX_TOKEN = 2048
MIN_SECRET = 16
#: a token may not be minted to live longer than this (a leaked page must go stale)
MAX_LIFETIME_SECONDS = 7 * 24 * 3600
#: clock difference tolerated between the site's server and ours
LEEWAY_SECONDS = 60
DEFAULT_TTL_SECONDS = 3600


class InvalidToken(ValueError):
    """A client token that is malformed, expired, or not signed with our secret."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("not a client token") from None


def _mac(secret: str, signing_input: str) -> bytes:
    return hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()


def _json_part(text: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(text))
    except (ValueError, RecursionError):  # a bad encoding, or JSON nested to exhaust the parser
        raise InvalidToken("not a client token") from None
    if not isinstance(value, dict):
        raise InvalidToken("not a client token")
    return value


def _is_time(value: object) -> TypeGuard[float]:
    """A JSON number of seconds (Python's json reads NaN and Infinity too: not times)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sign_identity(
    kind: TokenKind,
    value: str,
    secret: str,
    *,
    ttl: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> str:
    """The token for the customer ``kind:value``: what a site's server computes (and the demo page)."""
    if kind not in ("email", "phone"):
        raise ValueError(f"kind must be email or phone, not {kind!r}")
    issued = int(time.time() if now is None else now)
    header = _b64encode(json.dumps({"alg": ALGORITHM, "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {kind: value.strip(), "aud": AUDIENCE, "iat": issued, "exp": issued + ttl}
    payload = _b64encode(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{_b64encode(_mac(secret, signing_input))}"


def verify_token(token: str, secret: str, *, now: float | None = None) -> VerifiedIdentity:
    """The identity a token signed with ``secret`` vouches for; raises :class:`InvalidToken`.

    Checked in this order: shape, algorithm (HS256 only), signature, audience, expiry
    (required; not too far ahead), then the claim naming the customer.
    """
    if not secret:
        raise InvalidToken("no widget secret is configured")
    token = token.strip()
    if len(token) > MAX_TOKEN or token.count(".") != 2:
        raise InvalidToken("not a client token")
    header_part, payload_part, signature_part = token.split(".")
    header = _json_part(header_part)
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("only HS256 tokens are accepted")
    if not hmac.compare_digest(_mac(secret, f"{header_part}.{payload_part}"), _b64decode(signature_part)):
        raise InvalidToken("bad signature")
    claims = _json_part(payload_part)
    audience = claims.get("aud")
    if audience != AUDIENCE and not (isinstance(audience, list) and AUDIENCE in audience):
        raise InvalidToken(f"the token is not for {AUDIENCE}")
    moment = time.time() if now is None else now
    expires = claims.get("exp")
    if not _is_time(expires):
        raise InvalidToken("the token has no expiry (exp)")
    if moment >= expires + LEEWAY_SECONDS:
        raise InvalidToken("the token has expired")
    if expires - moment > MAX_LIFETIME_SECONDS:
        raise InvalidToken("the token lives longer than 7 days")
    for name in ("nbf", "iat"):
        stamp = claims.get(name)
        if stamp is not None and (not _is_time(stamp) or stamp > moment + LEEWAY_SECONDS):
            raise InvalidToken(f"the token is not valid yet ({name})")
    named = [name for name in ("email", "phone") if claims.get(name) is not None]
    if len(named) != 1:
        raise InvalidToken("the token must name exactly one email or phone")
    kind: TokenKind = "email" if named[0] == "email" else "phone"
    value = claims[kind]
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_IDENTITY:
        raise InvalidToken("the token names no usable email or phone")
    return VerifiedIdentity(kind=kind, value=value.strip(), proof="site_token")
