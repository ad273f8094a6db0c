"""Signed identity for the website widget: the site vouches for its logged-in customer.

The website knows who is logged in; Concierge must not take the browser's word for it.
The site's server signs the customer's e-mail or phone with a secret it shares with
Concierge (``CONCIERGE_WIDGET_SECRET``) and puts the token on the embed script::

    <script src=".../static/widget.js" data-concierge-url="..." data-client-token="TOKEN" async>

The widget sends the token in its ``hello`` frame. A token is
``base64url("email:<address>" | "phone:<number>") + "." + hex(HMAC-SHA256(secret, that text))``,
so it names the identity and proves the site signed it. A valid token puts
``contact_email`` or ``contact_phone`` on the metadata of the conversation's messages,
and the handoff runtime recognises the client behind them; an invalid one is ignored
(with a log line, never the token) and the chat stays anonymous. A token does not
expire: the site should render it only for a logged-in customer, over HTTPS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Literal

IdentityKind = Literal["email", "phone"]
METADATA_KEYS: dict[IdentityKind, str] = {"email": "contact_email", "phone": "contact_phone"}
MAX_IDENTITY = 320


class InvalidToken(ValueError):
    """A client token that is malformed or not signed with our secret."""


def _mac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign_identity(kind: IdentityKind, value: str, secret: str) -> str:
    """The token for ``kind:value`` (what the website's server computes for the embed)."""
    if kind not in METADATA_KEYS:
        raise ValueError(f"kind must be email or phone, not {kind!r}")
    payload = f"{kind}:{value.strip()}"
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, payload)}"


def verify_token(token: str, secret: str) -> tuple[IdentityKind, str]:
    """``(kind, value)`` of a token signed with ``secret``; raises :class:`InvalidToken`."""
    encoded, sep, mac = token.strip().partition(".")
    if not sep or not encoded or not mac:
        raise InvalidToken("not a client token")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidToken("not a client token") from None
    if not hmac.compare_digest(_mac(secret, payload), mac.lower()):
        raise InvalidToken("bad signature")
    kind, _, value = payload.partition(":")
    if kind not in METADATA_KEYS or not value or len(value) > MAX_IDENTITY:
        raise InvalidToken("the token names no e-mail or phone")
    return kind, value  # type: ignore[return-value]


def identity_metadata(token: str, secret: str) -> dict[str, str]:
    """The message metadata a valid token gives (``{"contact_email": ...}``); raises :class:`InvalidToken`."""
    kind, value = verify_token(token, secret)
    return {METADATA_KEYS[kind]: value}
