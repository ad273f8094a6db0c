"""The widget's signed identity: short-lived HS256 tokens, and what a real socket does with them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.channels.widget import WidgetChannel
from bot.channels.widget_identity import InvalidToken, sign_identity, verify_token
from bot.engine import Engine
from bot.errors import ConfigError
from bot.models import VerifiedIdentity
from bot.settings import Settings
from console.app import create_app

from .helpers import WELCOME, journal, serving
from .test_widget import entries, widget

SECRET = "a-secret-only-the-site-and-concierge-know"
OLA = "ola.wisniewska@example.pl"
NOW = 1_790_000_000.0


def jwt(claims: dict[str, object], secret: str = SECRET, header: dict[str, object] | None = None) -> str:
    """A token made the way any JWT library on a site's backend makes one."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    signing_input = f"{part(header or {'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


# ---- tokens -------------------------------------------------------------------------------
def test_a_token_names_the_customer_and_verifies_with_the_same_secret() -> None:
    token = sign_identity("email", OLA, SECRET, now=NOW)
    assert verify_token(token, SECRET, now=NOW + 60) == VerifiedIdentity(
        kind="email", value=OLA, proof="site_token"
    )
    phone = sign_identity("phone", "+48601234567", SECRET, now=NOW)
    assert verify_token(phone, SECRET, now=NOW).value == "+48601234567"
    # what a site's own JWT library makes is accepted too (audience may be a list)
    claims = {"phone": "+48601234567", "aud": ["concierge-widget"], "exp": int(NOW) + 600}
    assert verify_token(jwt(claims), SECRET, now=NOW).kind == "phone"


def test_an_expired_token_is_refused() -> None:
    token = sign_identity("email", OLA, SECRET, ttl=3600, now=NOW)
    assert verify_token(token, SECRET, now=NOW + 3600 + 30).value == OLA  # within a minute's skew
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(token, SECRET, now=NOW + 3600 + 61)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (sign_identity("email", OLA, "another secret", now=NOW), "bad signature"),  # signed by someone else
        (jwt({"email": OLA, "aud": "concierge-widget"}), "no expiry"),  # a token that never expires
        (jwt({"email": OLA, "aud": "concierge-widget", "exp": NOW + 30 * 86400}), "longer than 7 days"),
        (jwt({"email": OLA, "exp": NOW + 60}), "not for concierge-widget"),  # minted for something else
        (jwt({"email": OLA, "aud": "concierge-widget", "exp": NOW + 60, "nbf": NOW + 3600}), "not valid yet"),
        (jwt({"telegram": "ola_w", "aud": "concierge-widget", "exp": NOW + 60}), "exactly one"),
        (
            jwt({"email": OLA, "phone": "+48601234567", "aud": "concierge-widget", "exp": NOW + 60}),
            "exactly one",
        ),
        (jwt({"email": OLA, "aud": "concierge-widget", "exp": NOW + 60}, header={"alg": "none"}), "HS256"),
        (jwt({"email": OLA, "aud": "concierge-widget", "exp": NOW + 60}, header={"alg": "HS512"}), "HS256"),
        (jwt({"email": OLA, "aud": "concierge-widget", "exp": float("nan")}), "no expiry"),
        (
            jwt({"email": OLA, "aud": "concierge-widget", "exp": NOW + 60, "iat": float("inf")}),
            "not valid yet",
        ),
        # a header nested deep enough to exhaust the JSON parser
        (base64.urlsafe_b64encode(b"[" * 1500).decode() + ".e30.AAAA", "not a client token"),
        (OLA, "not a client token"),  # no signature at all
        ("!!!.0123.xyz", "not a client token"),
        ("", "not a client token"),
    ],
)
def test_forged_expired_unbounded_or_malformed_tokens_are_refused(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        verify_token(token, SECRET, now=NOW)


def test_an_edited_token_is_refused() -> None:
    header, payload, signature = sign_identity("email", OLA, SECRET, now=NOW).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "james.reed@example.com"  # someone swaps in a VIP's address
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(f"{header}.{edited}.{signature}", SECRET, now=NOW)


def test_a_short_widget_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        WidgetChannel.from_settings(Settings(widget_secret=SecretStr("short")))


# ---- over the real socket ------------------------------------------------------------------------
@pytest.fixture
async def signed_url(engine: Engine, trained: Settings) -> AsyncIterator[str]:
    """The app served with a widget secret (``CONCIERGE_WIDGET_SECRET``)."""
    app = create_app(trained.model_copy(update={"widget_secret": SecretStr(SECRET)}), engine=engine)
    async with serving(app) as url:
        yield url


async def hello_with(base_url: str, token: str | None) -> tuple[str, list[str]]:
    sid = uuid.uuid4().hex
    async with widget(base_url) as w:
        frame: dict[str, object] = {"type": "hello", "session_id": sid, "last_seq": None}
        if token is not None:
            frame["client_token"] = token
        await w.send(frame)
        assert (await w.recv())["type"] == "history"
        await w.say("hello")
        texts = [e["text"] for e in entries(await w.turn())]
    return sid, texts


async def test_a_valid_token_proves_the_customer_on_every_message(signed_url: str, engine: Engine) -> None:
    sid, texts = await hello_with(signed_url, sign_identity("email", OLA, SECRET))
    assert texts == ["hello", WELCOME]
    (handed_over,) = await journal(engine, f"widget:{sid}")
    assert handed_over.identities == [VerifiedIdentity(kind="email", value=OLA, proof="site_token")]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: sign_identity("email", OLA, "guessed secret"), "bad signature"),
        (lambda: sign_identity("email", OLA, SECRET, ttl=60, now=time.time() - 3600), "has expired"),
    ],
)
async def test_a_forged_or_expired_token_is_ignored_with_a_log_line_and_the_chat_stays_anonymous(
    signed_url: str, engine: Engine, caplog: pytest.LogCaptureFixture, make: object, reason: str
) -> None:
    token = make()  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="bot.channels.widget"):
        sid, texts = await hello_with(signed_url, token)
    assert texts == ["hello", WELCOME]  # the visitor is still served
    (handed_over,) = await journal(engine, f"widget:{sid}")
    assert handed_over.identities == []
    assert any("client token rejected" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert not any(token in r.getMessage() for r in caplog.records)  # the token itself is never logged


async def test_without_a_secret_a_token_cannot_be_checked_and_is_ignored(
    base_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    token = sign_identity("phone", "+48601234567", SECRET)
    with caplog.at_level(logging.WARNING, logger="bot.channels.widget"):
        sid, _ = await hello_with(base_url, token)
    (handed_over,) = await journal(engine, f"widget:{sid}")
    assert handed_over.identities == []
    assert any("no widget secret is set" in r.getMessage() for r in caplog.records)
