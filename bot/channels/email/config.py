"""The ``email:`` section of ``credentials.yml``: mailbox, SMTP relay, inbound webhook.

Example (secrets come from the environment through ``${...}``)::

    email:
      address: hello@mariia-hub.pl          # our address: From of replies, never ingested
      from_name: Mariia Hub
      smtp:
        host: smtp.mariia-hub.pl
        port: 587
        starttls: true                       # or ssl: true for port 465
        username: ${EMAIL_SMTP_USER}
        password: ${EMAIL_SMTP_PASSWORD}
      imap:                                  # optional: poll a mailbox
        host: imap.mariia-hub.pl
        port: 993
        ssl: true
        username: ${EMAIL_IMAP_USER}
        password: ${EMAIL_IMAP_PASSWORD}
        mailbox: INBOX
        poll_interval: 30
      inbound_webhook:                       # optional: SendGrid Inbound Parse style
        username: inbound
        password: ${EMAIL_WEBHOOK_PASSWORD}

At least one inbound path (``imap`` or ``inbound_webhook``) is required, and ``smtp``
always (replies go out by SMTP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from bot.channels.base import ChannelSection

__all__ = ["EmailConfig", "ImapConfig", "InboundWebhookConfig", "SmtpConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpConfig(_Strict):
    """Where replies are sent: an SMTP relay (STARTTLS and login optional)."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    ssl: bool = Field(default=False, description="implicit TLS from the first byte (port 465)")
    starttls: bool | None = Field(
        default=None, description="true: require STARTTLS; false: never; unset: use it when offered"
    )
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0)
    validate_certs: bool = True

    @model_validator(mode="before")
    @classmethod
    def _blank_login_is_none(cls, data: Any) -> Any:
        """``${EMAIL_SMTP_USER:-}`` left empty means: no login."""
        if isinstance(data, dict):
            data = {k: (None if k in ("username", "password") and v == "" else v) for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _tls_once(self) -> SmtpConfig:
        if self.ssl and self.starttls:
            raise ValueError("choose ssl (implicit TLS) or starttls, not both")
        return self


class ImapConfig(_Strict):
    """A mailbox to poll. aioimaplib has no STARTTLS: use ``ssl`` (port 993) off loopback."""

    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    ssl: bool = True
    username: str = Field(min_length=1)
    password: SecretStr
    mailbox: str = "INBOX"
    poll_interval: float = Field(default=30.0, gt=0, description="seconds between checks")
    timeout: float = Field(default=30.0, gt=0)


class InboundWebhookConfig(_Strict):
    """HTTP Basic credentials the inbound-parse provider sends (``https://user:pass@host/...``)."""

    username: str = Field(min_length=1)
    password: SecretStr = Field(min_length=12)
    max_bytes: int = Field(default=30_000_000, gt=0, description="largest request accepted")


class EmailConfig(ChannelSection):
    """Everything the email channel needs; see the module docstring for an example."""

    address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str | None = None
    message_id_domain: str | None = Field(default=None, description="default: the address's domain")
    subject: str = Field(default="Your message", description="subject when no client mail started the thread")
    smtp: SmtpConfig
    imap: ImapConfig | None = None
    inbound_webhook: InboundWebhookConfig | None = None
    html: bool = Field(default=False, description="also send an HTML alternative")
    option_line: str = Field(default="Reply {number} for {title}", description="how buttons are written")
    attachments_dir: Path | None = Field(default=None, description="default: <state_dir>/attachments/email")
    max_attachment_bytes: int = Field(default=20_000_000, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _blank_parts_are_off(cls, data: Any) -> Any:
        """An ``imap`` section without a host, or an ``inbound_webhook`` without a password, is
        off (``credentials.yml`` lists both with ``${...:-}`` defaults; a deployment sets one)."""
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("imap"), dict) and not data["imap"].get("host"):
                data["imap"] = None
            if isinstance(data.get("inbound_webhook"), dict) and not data["inbound_webhook"].get("password"):
                data["inbound_webhook"] = None
        return data

    @model_validator(mode="after")
    def _needs_inbound(self) -> EmailConfig:
        if self.imap is None and self.inbound_webhook is None:
            raise ValueError("configure imap or inbound_webhook (or both): otherwise no mail comes in")
        if "{number}" not in self.option_line or "{title}" not in self.option_line:
            raise ValueError("option_line must contain {number} and {title}")
        return self

    @property
    def domain(self) -> str:
        """The domain of our Message-IDs."""
        return self.message_id_domain or self.address.rsplit("@", 1)[1]
