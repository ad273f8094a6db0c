"""Retention settings from handoff.yml's ``privacy:`` section: defaults, overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from privacy.config import PrivacyConfig, load_privacy_config


def test_defaults_when_absent(tmp_path: Path) -> None:
    assert load_privacy_config(None) == PrivacyConfig()
    assert load_privacy_config(tmp_path / "missing.yml") == PrivacyConfig()
    (tmp_path / "handoff.yml").write_text("sla:\n  first_response_seconds: {VIP: 30}\n")
    config = load_privacy_config(tmp_path / "handoff.yml")
    assert config.retention.conversation_days("Standard") == 730
    assert config.retention.conversation_days("VIP") == 1095
    assert config.retention.conversation_days(None) == 90  # anonymous


def test_the_demo_project_states_its_ttls(repo_dir: Path) -> None:
    config = load_privacy_config(repo_dir / "handoff.yml")
    assert config.retention.inbound_payload_days == 30 and config.retention.outbox_days == 30
    assert config.retention.profiles_days == {"VIP": 1095, "Premium": 730, "Standard": 730}
    assert "profiles_days:" in (repo_dir / "handoff.yml").read_text(encoding="utf-8")


def test_profile_ttls_per_tier(tmp_path: Path) -> None:
    assert load_privacy_config(None).retention.profile_days("VIP") == 1095
    path = tmp_path / "handoff.yml"
    path.write_text("privacy:\n  retention:\n    profiles_days: {VIP: null, Standard: 400}\n")
    retention = load_privacy_config(path).retention
    assert retention.profile_days("VIP") is None  # kept until erased
    assert retention.profile_days("Premium") == 400  # a tier left out keeps Standard's
    path.write_text("privacy:\n  retention:\n    profiles_days: {VIP: 0}\n")
    with pytest.raises(FormatError, match=r"profiles_days\.VIP"):
        load_privacy_config(path)


def test_overrides_and_keep_forever(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text(
        "privacy:\n  retention:\n    conversations_days: {VIP: null, Standard: 365}\n"
        "    gaps_days: null\n  interval_hours: 6\n"
    )
    config = load_privacy_config(path)
    assert config.retention.conversation_days("VIP") is None  # kept until erased
    assert config.retention.conversation_days("Premium") == 365  # a tier left out keeps Standard's
    assert config.retention.gaps_days is None and config.interval_hours == 6


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("privacy:\n  retention:\n    outbox_days: 0\n", "privacy.retention.outbox_days"),
        (
            "privacy:\n  retention:\n    conversations_days: {Gold: 10}\n",
            "privacy.retention.conversations_days",
        ),
        ("privacy:\n  retention_days: 10\n", "privacy.retention_days"),
        ("privacy:\n  retention:\n    conversations_days: {VIP: -1}\n", "conversations_days.VIP"),
        ("privacy: [\n", "invalid YAML"),
    ],
)
def test_bad_settings_name_the_file_and_key(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text(text)
    with pytest.raises(FormatError) as refused:
        load_privacy_config(path)
    assert problem in str(refused.value) and str(path) in str(refused.value)
