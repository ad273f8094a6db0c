"""What every Meta channel shares: webhook signatures, the verification handshake, the Graph API.

WhatsApp Cloud API, Messenger and Instagram all sign their webhooks the same way, answer
the same GET handshake when the webhook is configured, and report send errors in the same
Graph API envelope. This module is that common part; the channel modules only add their
payload shapes.

- :func:`signature_valid`: ``X-Hub-Signature-256: sha256=<hex>`` is HMAC-SHA256 of the raw
  request body with the app secret; compared in constant time.
- :func:`verification_response`: ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...``
  answers the challenge as plain text when the token matches, else 403.
- :class:`GraphClient`: ``POST`` JSON to (or ``GET`` a node at) ``{base_url}/{version}/{path}``
  with the access token over an injected :class:`httpx.AsyncClient`, translating Meta's error
  responses into :mod:`bot.errors` (:func:`graph_error`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from bot.errors import ChannelError, OutsideWindow, RateLimited

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
GRAPH_URL = "https://graph.facebook.com"
GRAPH_VERSION = "v21.0"

# Graph API error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling,
# WhatsApp Cloud API error codes). Throttling: app (4), user (17), page (32), custom (613),
# business-use-case limits (80001-80014; 80007 is the WhatsApp Business Account limit),
# Cloud API throughput (130429), pair rate (131056), spam rate (131048).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 130429, 131048, 131056, *range(80001, 80015)})
# Seconds to wait when a throttling error carries no Retry-After: Meta's documented advice
# (pair rate: one message per ~6 s to one user; account limits reset over minutes).
RATE_LIMIT_WAIT = {131056: 6.0, 130429: 1.0, 4: 60.0, 17: 60.0, 32: 60.0, 613: 60.0}
DEFAULT_RATE_LIMIT_WAIT = 60.0
# Transient on Meta's side: "unknown" (1), "service" (2), WhatsApp "something went wrong"
# (131000), "service unavailable" (131016), "server temporarily unavailable" (133004).
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 133004})
# Access token expired or invalid (190), session key (102), auth exception (0).
AUTH_CODES = frozenset({0, 102, 190})
# The customer-service window is closed: WhatsApp re-engagement (131047), Messenger
# (code 10 / subcode 2018278) and Instagram (code 10 / subcode 2534022).
WINDOW_CODES = frozenset({131047})
WINDOW_SUBCODES = frozenset({2018278, 2534022})


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body`` (``sha256=<hex>``)."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is Meta's signature of the raw ``body`` under ``app_secret``.

    A missing header, another algorithm or any mismatch is False; the comparison takes
    the same time however many characters match.
    """
    if not header or not app_secret:
        return False
    return hmac.compare_digest(
        sign(app_secret, body).encode("ascii"), header.strip().encode("ascii", "replace")
    )


def verification_response(params: Mapping[str, str], verify_token: str) -> Response:
    """Answer Meta's GET handshake: the challenge (200, text) when the token matches, else 403.

    Meta sends ``hub.mode=subscribe``, the ``hub.verify_token`` configured in the app
    dashboard and a ``hub.challenge`` to echo back.
    """
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge")
    if (
        mode == "subscribe"
        and challenge is not None
        and verify_token
        and hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8"))
    ):
        return PlainTextResponse(challenge)
    log.warning(
        "meta: webhook verification refused (mode=%r, token %s)", mode, "given" if token else "missing"
    )
    return JSONResponse(
        {"error": "forbidden", "message": "verification token does not match"}, status_code=403
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def graph_error(response: httpx.Response) -> ChannelError:
    """Translate a Graph API error response into :mod:`bot.errors`.

    Throttling -> :class:`RateLimited` (Retry-After, else the code's documented wait);
    a closed customer-service window -> :class:`OutsideWindow`; 5xx and Meta's transient
    codes -> retryable :class:`ChannelError`; token/permission problems and other 4xx ->
    non-retryable :class:`ChannelError`. Messages name the code, never the payload.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    try:
        code = int(code) if code is not None else None
        subcode = int(subcode) if subcode is not None else None
    except (TypeError, ValueError):
        code = subcode = None
    message = str(error.get("message") or response.reason_phrase or "error")[:300]
    what = f"Graph API {response.status_code} (code {code}, subcode {subcode}): {message}"
    if code in RATE_LIMIT_CODES or response.status_code == 429:
        wait = _retry_after(response)
        if wait is None:
            wait = RATE_LIMIT_WAIT.get(code or 0, DEFAULT_RATE_LIMIT_WAIT)
        return RateLimited(what, retry_after=wait)
    if code in WINDOW_CODES or subcode in WINDOW_SUBCODES:
        return OutsideWindow(f"the 24-hour customer-service window is closed ({what})")
    if code in AUTH_CODES or response.status_code in (401, 403) or (code is not None and 200 <= code < 300):
        return ChannelError(f"access token or permission rejected: {what}", retryable=False)
    if response.status_code >= 500 or code in TRANSIENT_CODES or error.get("is_transient") is True:
        return ChannelError(what, retryable=True)
    return ChannelError(what, retryable=False)


class GraphClient:
    """Sends to Meta's Graph API over an injected :class:`httpx.AsyncClient`.

    ``base_url`` points at ``https://graph.facebook.com`` in production and at a local
    stand-in in tests. The access token travels as a Bearer header, never in the URL.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        access_token: str,
        *,
        base_url: str = GRAPH_URL,
        version: str = GRAPH_VERSION,
        timeout: float = 15.0,
    ) -> None:
        self.http = http
        self.access_token = access_token
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.timeout = timeout

    def url(self, path: str) -> str:
        """The absolute URL of a Graph API path, e.g. ``123/messages``."""
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    async def post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``payload`` as JSON; the parsed success body, or a :mod:`bot.errors` error."""
        return await self._call("POST", path, dict(payload))

    async def get(self, path: str) -> dict[str, Any]:
        """GET a Graph node (e.g. a media object); the parsed body, or a :mod:`bot.errors` error."""
        return await self._call("GET", path, None)

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        try:
            response = await self.http.request(
                method,
                self.url(path),
                json=payload,
                headers={"Authorization": f"Bearer {self.access_token}"},
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise ChannelError(f"Graph API timed out: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise ChannelError(f"Graph API unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise graph_error(response)
        try:
            body = response.json()
        except ValueError:
            # the message may have gone out: retrying could send it twice
            raise ChannelError("Graph API answered with a body that is not JSON", retryable=False) from None
        if not isinstance(body, dict):
            raise ChannelError("Graph API answered with an unexpected body", retryable=False)
        return body
