"""Sending by SMTP against a real aiosmtpd: exact bytes, STARTTLS and login, error translation."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from bot.channels.email.compose import build_email
from bot.channels.email.config import SmtpConfig
from bot.channels.email.smtp import SmtpSender, flatten, translate
from bot.errors import ChannelError
from bot.models import OutboundMessage

from .email_servers import free_port, running_smtp, self_signed_certificate

SENDER = "hello@mariia-hub.test"


def a_mail(text: str = "Your visit is booked.") -> EmailMessage:
    return build_email(
        OutboundMessage(channel="email", recipient_id="ana@example.com", text=text),
        from_address=SENDER,
        from_name="Mariia Hub",
        to="ana@example.com",
        subject="Your message",
        thread=None,
        message_id="<concierge.0123456789abcdef0123456789abcdef@mariia-hub.test>",
        date=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
    )


async def test_the_server_receives_exactly_the_flattened_mail() -> None:
    mail = a_mail("Zażółć gęślą jaźń, see you at 10:00.")
    with running_smtp() as (controller, handler):
        sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=controller.port, starttls=False))
        await sender.send(mail, sender=SENDER, recipients=["ana@example.com"])
    (received,) = handler.received
    assert received.data == flatten(mail)
    assert (received.mail_from, received.rcpt_tos) == (SENDER, ["ana@example.com"])
    assert b"\r\n.\r\n" not in received.data


async def test_starttls_and_login_are_used_when_configured(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"smtp-secret", handled=False)

    options = {"tls_context": server_tls, "require_starttls": True, "authenticator": authenticator}
    client_tls = ssl.create_default_context(cafile=str(cert))
    with running_smtp(**options) as (controller, handler):
        config = SmtpConfig(
            host="127.0.0.1",
            port=controller.port,
            starttls=True,
            username="bot",
            password=SecretStr("smtp-secret"),
        )
        await SmtpSender(config, tls_context=client_tls).send(
            a_mail(), sender=SENDER, recipients=["ana@example.com"]
        )
        wrong = config.model_copy(update={"password": SecretStr("nope")})
        with pytest.raises(ChannelError, match="535") as refused:
            await SmtpSender(wrong, tls_context=client_tls).send(
                a_mail(), sender=SENDER, recipients=["a@b.c"]
            )
    assert logins[0] == (b"bot", b"smtp-secret")
    assert set(logins[1:]) == {(b"bot", b"nope")}  # aiosmtplib tries each offered mechanism
    assert len(handler.received) == 1
    assert refused.value.retryable is False


@pytest.mark.parametrize(
    ("failure", "retryable"),
    [
        ("451 4.3.0 Try again later", True),
        ("452 4.3.1 Insufficient system storage", True),
        ("421 4.7.0 Too many connections", True),
        ("550 5.1.1 Mailbox unavailable", False),
        ("554 5.7.1 Message rejected as spam", False),
    ],
)
async def test_4xx_answers_are_retryable_and_5xx_are_final(failure: str, retryable: bool) -> None:
    with running_smtp() as (controller, handler):
        handler.fail_next, handler.failure = 1, failure
        sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=controller.port, starttls=False))
        with pytest.raises(ChannelError) as raised:
            await sender.send(a_mail(), sender=SENDER, recipients=["ana@example.com"])
    assert raised.value.retryable is retryable
    assert failure in str(raised.value)
    assert handler.received == []


async def test_an_unreachable_server_is_retryable() -> None:
    sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=free_port(), starttls=False, timeout=2))
    with pytest.raises(ChannelError, match="unreachable") as raised:
        await sender.send(a_mail(), sender=SENDER, recipients=["ana@example.com"])
    assert raised.value.retryable is True


def test_refused_recipients_are_retryable_only_when_some_refusal_was_temporary() -> None:
    final = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b.c")])
    temporary = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(450, "greylisted", "a@b.c")]
    )
    assert translate(final).retryable is False and "550 no such user" in str(translate(final))
    assert translate(temporary).retryable is True
    assert translate(aiosmtplib.SMTPServerDisconnected("gone")).retryable is True
    assert translate(aiosmtplib.SMTPReadTimeoutError("slow")).retryable is True
