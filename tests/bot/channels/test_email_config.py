"""The email section of credentials.yml: off until its settings are given, clear errors when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.credentials import load_credentials
from bot.channels.email import EmailChannel
from bot.errors import ConfigError

BASE = {"EMAIL_ADDRESS": "hello@mariia-hub.pl", "EMAIL_SMTP_HOST": "smtp.mariia-hub.pl"}


def email_section(repo_dir: Path, environ: dict[str, str]) -> dict[str, object] | None:
    credentials = load_credentials(repo_dir / "credentials.yml", environ=environ)
    return credentials.section("email") if "email" in credentials.enabled() else None


def test_the_shipped_section_is_off_until_address_and_smtp_host_are_set(repo_dir: Path) -> None:
    credentials = load_credentials(repo_dir / "credentials.yml", environ={})
    assert "email" not in credentials.enabled()
    assert credentials.disabled()["email"] == "set EMAIL_ADDRESS, EMAIL_SMTP_HOST to enable"


def test_with_a_webhook_password_only_the_webhook_is_on(repo_dir: Path) -> None:
    section = email_section(repo_dir, {**BASE, "EMAIL_WEBHOOK_PASSWORD": "a-long-webhook-secret"})
    channel = EmailChannel.from_credentials(section, None)
    assert channel.email.imap is None
    assert channel.email.inbound_webhook is not None and channel.email.inbound_webhook.username == "inbound"
    smtp = channel.email.smtp
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username, smtp.password) == (
        "smtp.mariia-hub.pl",
        587,
        True,
        None,
        None,
    )
    assert channel.rate_limit.per_second == 2


def test_with_an_imap_host_the_mailbox_is_polled(repo_dir: Path) -> None:
    environ = {
        **BASE,
        "EMAIL_IMAP_HOST": "imap.mariia-hub.pl",
        "EMAIL_IMAP_USER": "hello",
        "EMAIL_IMAP_PASSWORD": "imap-pass",
        "EMAIL_SMTP_USER": "hello",
        "EMAIL_SMTP_PASSWORD": "smtp-pass",
    }
    channel = EmailChannel.from_credentials(email_section(repo_dir, environ), None)
    assert channel.email.inbound_webhook is None
    imap = channel.email.imap
    assert imap is not None and (imap.host, imap.port, imap.ssl, imap.mailbox) == (
        "imap.mariia-hub.pl",
        993,
        True,
        "INBOX",
    )
    assert (
        channel.email.smtp.password is not None
        and channel.email.smtp.password.get_secret_value() == "smtp-pass"
    )
    assert "smtp-pass" not in repr(channel.email)  # secrets never printed


@pytest.mark.parametrize(
    ("environ", "mentions"),
    [
        (BASE, "configure imap or inbound_webhook"),
        ({**BASE, "EMAIL_WEBHOOK_PASSWORD": "short"}, "inbound_webhook.password"),
        (
            {**BASE, "EMAIL_WEBHOOK_PASSWORD": "a-long-webhook-secret", "EMAIL_ADDRESS": "not-an-address"},
            "address",
        ),
        ({**BASE, "EMAIL_WEBHOOK_PASSWORD": "a-long-webhook-secret", "EMAIL_SMTP_PORT": "smtp"}, "smtp.port"),
    ],
)
def test_a_wrong_section_is_a_config_error_naming_the_field(
    repo_dir: Path, environ: dict[str, str], mentions: str
) -> None:
    with pytest.raises(ConfigError, match="section email") as raised:
        EmailChannel.from_credentials(email_section(repo_dir, environ), None)
    assert mentions in str(raised.value)


def test_implicit_tls_and_starttls_together_are_refused() -> None:
    section = {
        "address": "a@b.c",
        "smtp": {"host": "h", "ssl": True, "starttls": True},
        "inbound_webhook": {"username": "u", "password": "a-long-webhook-secret"},
    }
    with pytest.raises(ConfigError, match="choose ssl"):
        EmailChannel.from_credentials(section, None)


def test_attachments_and_the_imap_cursor_live_in_the_state_dir(tmp_path: Path) -> None:
    from bot.settings import Settings

    section = {
        "address": "a@b.c",
        "smtp": {"host": "h"},
        "inbound_webhook": {"username": "u", "password": "a-long-webhook-secret"},
    }
    channel = EmailChannel.from_credentials(
        section, Settings(project_dir=tmp_path, state_dir=tmp_path / "state")
    )
    assert channel.files.directory == tmp_path / "state" / "attachments" / "email"
    assert channel.cursor_path == tmp_path / "state" / "email" / "imap-cursor.json"
