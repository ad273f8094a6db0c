"""The widget's signed identity: tokens, and what a real socket does with good and bad ones."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.channels.widget_identity import InvalidToken, identity_metadata, sign_identity, verify_token
from bot.engine import Engine
from bot.settings import Settings
from console.app import create_app

from .helpers import WELCOME, serving, user_messages
from .test_widget import entries, widget

SECRET = "a-secret-only-the-site-and-concierge-know"


# ---- tokens -------------------------------------------------------------------------------
def test_a_token_names_the_identity_and_verifies_with_the_same_secret() -> None:
    token = sign_identity("email", "ola.wisniewska@example.pl", SECRET)
    assert verify_token(token, SECRET) == ("email", "ola.wisniewska@example.pl")
    assert identity_metadata(sign_identity("phone", "+48601234567", SECRET), SECRET) == {
        "contact_phone": "+48601234567"
    }


@pytest.mark.parametrize(
    "token",
    [
        sign_identity("email", "ola.wisniewska@example.pl", "another secret"),  # signed by someone else
        sign_identity("email", "ola.wisniewska@example.pl", SECRET).replace("b2xh", "amFu", 1),  # edited
        sign_identity("email", "ola.wisniewska@example.pl", SECRET)[:-2],  # truncated signature
        "ola.wisniewska@example.pl",  # no signature at all
        "!!!.0123",  # not base64
        "",
    ],
)
def test_forged_edited_or_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(token, SECRET)


def test_a_signed_token_for_another_kind_of_identity_is_refused() -> None:
    import base64
    import hashlib
    import hmac

    payload = "telegram:ola_w"
    mac = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    token = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=") + "." + mac
    with pytest.raises(InvalidToken, match="no e-mail or phone"):
        verify_token(token, SECRET)


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


async def test_a_valid_token_puts_the_customers_email_on_every_message(
    signed_url: str, engine: Engine
) -> None:
    token = sign_identity("email", "ola.wisniewska@example.pl", SECRET)
    sid, texts = await hello_with(signed_url, token)
    assert texts == ["hello", WELCOME]
    (stored,) = await user_messages(engine, f"widget:{sid}")
    assert stored.metadata["contact_email"] == "ola.wisniewska@example.pl"


async def test_a_bad_token_is_ignored_with_a_log_line_and_the_chat_stays_anonymous(
    signed_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    forged = sign_identity("email", "ola.wisniewska@example.pl", "guessed secret")
    with caplog.at_level(logging.WARNING, logger="bot.channels.widget"):
        sid, texts = await hello_with(signed_url, forged)
    assert texts == ["hello", WELCOME]  # the visitor is still served
    (stored,) = await user_messages(engine, f"widget:{sid}")
    assert "contact_email" not in stored.metadata and "contact_phone" not in stored.metadata
    assert any("client token rejected (bad signature)" in r.getMessage() for r in caplog.records)
    assert not any(forged in r.getMessage() for r in caplog.records)  # the token itself is never logged


async def test_without_a_secret_a_token_cannot_be_checked_and_is_ignored(
    base_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    token = sign_identity("phone", "+48601234567", SECRET)
    with caplog.at_level(logging.WARNING, logger="bot.channels.widget"):
        sid, _ = await hello_with(base_url, token)
    (stored,) = await user_messages(engine, f"widget:{sid}")
    assert "contact_phone" not in stored.metadata
    assert any("no widget secret is set" in r.getMessage() for r in caplog.records)
