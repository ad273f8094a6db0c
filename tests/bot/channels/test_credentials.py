"""credentials.yml: Rasa's format, ${ENV} substitution, channels off until their secrets are set."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.credentials import load_credentials, parse_credentials
from bot.channels.registry import CHANNELS
from bot.channels.whatsapp_twilio import TwilioWhatsAppChannel
from bot.engine import Engine
from bot.errors import ConfigError, FormatError
from bot.loaders.yaml_io import parse_yaml_text
from bot.settings import Settings

from .whatsapp_support import credentials_from, running_app

REPO = Path(__file__).resolve().parents[3]
TWILIO_ENV = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "auth-token-1234",
    "TWILIO_WHATSAPP_NUMBER": "+14155238886",
    "CONCIERGE_PUBLIC_URL": "https://bot.example.com",
}


def test_env_references_are_substituted_with_defaults() -> None:
    credentials = credentials_from(
        """
whatsapp:
  account_sid: ${SID}
  auth_token: "prefix-${TOKEN}-suffix"
  twilio_number: ${NUMBER:-whatsapp:+10000000000}
  public_url: ${URL:-}
""",
        {"SID": "AC" + "1" * 32, "TOKEN": "secret"},
    )
    assert credentials.enabled() == ["whatsapp"]
    assert credentials.section("whatsapp") == {
        "account_sid": "AC" + "1" * 32,
        "auth_token": "prefix-secret-suffix",
        "twilio_number": "whatsapp:+10000000000",
        "public_url": "",
    }


def test_a_channel_with_unset_secrets_is_off_and_says_what_to_set() -> None:
    credentials = credentials_from(
        "rest:\nwhatsapp:\n  account_sid: ${SID}\n  auth_token: ${TOKEN}\n  twilio_number: x\n",
        {"SID": "AC1"},
    )
    assert credentials.enabled() == ["rest"]
    assert credentials.disabled() == {"whatsapp": "set TOKEN to enable"}


def test_enabled_false_switches_a_configured_channel_off() -> None:
    credentials = credentials_from("whatsapp_cloud:\n  enabled: false\n  phone_number_id: '1'\n", {})
    assert credentials.enabled() == []
    assert credentials.disabled() == {"whatsapp_cloud": "disabled in credentials.yml"}


def test_rasa_keys_we_do_not_serve_are_skipped_not_fatal() -> None:
    credentials = credentials_from(
        "rest:\nsocketio:\n  user_message_evt: user_uttered\naddons.custom_channel.MyIO:\n  key: x\n", {}
    )
    assert credentials.enabled() == ["rest"]
    assert credentials.ignored == ["socketio", "addons.custom_channel.MyIO"]


def test_the_outbox_section_configures_retries() -> None:
    credentials = credentials_from("outbox:\n  max_attempts: ${ATTEMPTS:-3}\n  base_delay: 0.5\n", {})
    assert (credentials.outbox.max_attempts, credentials.outbox.base_delay) == (3, 0.5)
    assert credentials.channels == {}
    with pytest.raises(ConfigError, match="section outbox: max_attempts"):
        credentials_from("outbox:\n  max_attempts: 0\n", {})


def test_a_section_that_is_not_a_mapping_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="section whatsapp: expected options as a mapping"):
        parse_credentials(parse_yaml_text("whatsapp: [1, 2]\n", "c.yml"), CHANNELS, environ={})
    with pytest.raises(FormatError, match="expected a mapping"):
        parse_credentials(parse_yaml_text("- rest\n", "c.yml"), CHANNELS, environ={})


def test_a_wrong_option_names_the_file_section_and_field() -> None:
    with pytest.raises(
        ConfigError, match=r"credentials.yml, section whatsapp: account_sid: String should match"
    ):
        TwilioWhatsAppChannel.from_credentials(
            {"account_sid": "not-a-sid", "auth_token": "auth-token-1234", "twilio_number": "+1"}, None
        )
    with pytest.raises(ConfigError, match="auth_tokn: Extra inputs are not permitted"):
        TwilioWhatsAppChannel.from_credentials({**TWILIO_ENV, "auth_tokn": "typo"}, None)


def test_a_missing_file_means_no_extra_channels(tmp_path: Path) -> None:
    credentials = load_credentials(tmp_path / "credentials.yml")
    assert credentials.enabled() == [] and credentials.disabled() == {}


def test_the_demo_file_loads_with_every_channel_off_until_secrets_are_set() -> None:
    off = load_credentials(REPO / "credentials.yml", environ={})
    assert "rest" in off.enabled()
    assert {"whatsapp", "whatsapp_cloud"} <= set(off.disabled())
    assert "TWILIO_AUTH_TOKEN" in off.disabled()["whatsapp"]
    on = load_credentials(REPO / "credentials.yml", environ=TWILIO_ENV)
    assert "whatsapp" in on.enabled()
    channel = TwilioWhatsAppChannel.from_credentials(on.section("whatsapp"), None)
    assert channel.config.templates == {}  # template sids not set: none configured, not an error
    assert channel.rate_limit.per_second == 10


async def test_create_app_mounts_enabled_channels_and_health_lists_the_others(
    engine: Engine, trained: Settings
) -> None:
    credentials = load_credentials(REPO / "credentials.yml", environ=TWILIO_ENV)
    async with running_app(trained, engine, credentials) as running:
        assert set(running.app.state.channels) >= {"rest", "widget", "whatsapp"}
        assert "whatsapp_cloud" not in running.app.state.channels
        unsigned = await running.http.post(
            "/webhooks/whatsapp/webhook", content=b"Body=hi&From=whatsapp%3A%2B1"
        )
        assert unsigned.status_code == 403
        missing = await running.http.post("/webhooks/whatsapp_cloud/webhook", content=b"{}")
        assert missing.status_code == 404
        report = (await running.http.get("/health")).json()["components"]
        assert report["channel:whatsapp"]["status"] == "ok"
        assert report["channel:whatsapp_cloud"]["detail"].startswith("off: set META_APP_SECRET")
        assert report["outbox"] == {"status": "ok", "detail": "0 waiting, 0 failed"}
    assert running.app.state.outbox is None  # the app shut down cleanly: its outbox stopped
