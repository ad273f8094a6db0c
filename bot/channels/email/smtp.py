"""Sending through an SMTP relay with ``aiosmtplib``, errors translated for the outbox.

One connection per message (replies are few and far between; a pooled connection would
time out between them). The message is flattened here, once, with the SMTP policy (CRLF,
RFC 2047 headers), so the bytes the server receives are exactly :func:`flatten`'s.

Translation (RFC 5321 reply classes): a 4xx answer ("try again later", greylisting, a
full queue) is a retryable :class:`~bot.errors.ChannelError`; a 5xx answer (unknown
recipient, rejected content, bad credentials) is final. Connection failures and
timeouts are retryable.
"""

from __future__ import annotations

import email.policy
import logging
import ssl
from email.message import EmailMessage

import aiosmtplib

from bot.channels.email.config import SmtpConfig
from bot.errors import ChannelError

__all__ = ["SmtpSender", "flatten", "translate"]

log = logging.getLogger(__name__)


def flatten(mail: EmailMessage) -> bytes:
    """The wire form of ``mail`` (CRLF line ends, encoded headers)."""
    return mail.as_bytes(policy=email.policy.SMTP)


def translate(exc: Exception) -> ChannelError:
    """The :class:`ChannelError` for an ``aiosmtplib`` or socket failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        retryable = any(400 <= code < 500 for code in codes)
        return ChannelError(
            "SMTP refused the recipient: " + "; ".join(f"{r.code} {r.message}" for r in exc.recipients),
            retryable=retryable,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        retryable = 400 <= exc.code < 500
        kind = "temporary" if retryable else "permanent"
        return ChannelError(f"SMTP {kind} failure: {exc.code} {exc.message}", retryable=retryable)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return ChannelError("SMTP server timed out", retryable=True)
    return ChannelError(f"SMTP server unreachable: {type(exc).__name__}: {exc}", retryable=True)


class SmtpSender:
    """Delivers flattened messages to the configured relay."""

    def __init__(self, config: SmtpConfig, tls_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.tls_context = tls_context

    async def send(self, mail: EmailMessage, *, sender: str, recipients: list[str]) -> None:
        """One attempt; raises :class:`ChannelError` (``retryable`` per the reply class)."""
        config = self.config
        try:
            await aiosmtplib.send(
                flatten(mail),
                sender=sender,
                recipients=recipients,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password.get_secret_value() if config.password else None,
                use_tls=config.ssl,
                start_tls=config.starttls,
                validate_certs=config.validate_certs,
                tls_context=self.tls_context,
                timeout=config.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = translate(exc)
            log.warning("email: SMTP send failed (%s)", "retryable" if error.retryable else "final")
            raise error from None
