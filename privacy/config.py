"""Retention: how long each kind of personal data is kept, per client tier.

Read from the ``privacy:`` section of the project's ``handoff.yml`` (every key optional;
``null`` keeps a kind forever)::

    privacy:
      retention:
        conversations_days: {VIP: 1095, Premium: 730, Standard: 730}
        profiles_days: {VIP: 1095, Premium: 730, Standard: 730}
        anonymous_conversations_days: 90
        inbound_payload_days: 30
        outbox_days: 30
        gaps_days: 365
        audit_days: 730
      interval_hours: 24

A conversation's age counts from its last activity. "Anonymous" conversations are the
ones no client profile is linked to. A client profile's age counts from the client's last
activity (their last conversation, visit, note or profile update); a stale profile is
erased like an erase request (everything about the client, in every store). The
storage-limitation principle (GDPR Art. 5(1)(e)) is what these defaults serve:
conversations and profiles of a known client are kept two years from their last activity
(three for VIPs, whose concierges rely on their history), strangers' 90 days, the raw
inbound journal and the delivery records a month.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import FormatError
from handoff.config import Tier

Days = int | None
#: a TTL in days (at least one) or None: kept until erased
PositiveDays = Annotated[int, Field(ge=1)] | None


def _default_conversation_days() -> dict[Tier, Days]:
    return {"VIP": 1095, "Premium": 730, "Standard": 730}


class RetentionConfig(BaseModel):
    """Time to live, in days, of each kind of personal data (None: kept until erased)."""

    model_config = ConfigDict(extra="forbid")
    conversations_days: dict[Tier, PositiveDays] = Field(
        default_factory=_default_conversation_days,
        description="conversations (events, inbound journal, outbox, gaps, read models) of a client "
        "of each tier, from their last activity; a tier left out keeps Standard's",
    )
    profiles_days: dict[Tier, PositiveDays] = Field(
        default_factory=_default_conversation_days,
        description="client profiles (identities, visits, spend, preferences, notes, and with them "
        "everything else about the client) of each tier, from the client's last activity (last "
        "conversation, visit, note or profile update); a tier left out keeps Standard's",
    )
    anonymous_conversations_days: Days = Field(
        default=90, ge=1, description="conversations no client profile is linked to"
    )
    inbound_payload_days: Days = Field(
        default=30, ge=1, description="inbound journal rows, counted from when they were processed"
    )
    outbox_days: Days = Field(
        default=30, ge=1, description="outbox rows that reached an end (sent, delivered, read, failed)"
    )
    gaps_days: Days = Field(default=365, ge=1, description="knowledge gaps (the questions clients asked)")
    audit_days: Days = Field(default=730, ge=1, description="audit log entries")

    def conversation_days(self, tier: str | None) -> Days:
        """The TTL of a conversation of a client of ``tier`` (None: an anonymous one)."""
        if tier is None:
            return self.anonymous_conversations_days
        days = self.conversations_days
        return days.get(tier, days.get("Standard"))  # type: ignore[call-overload]

    def profile_days(self, tier: str) -> Days:
        """The TTL of the profile of a client of ``tier``, from their last activity."""
        days = self.profiles_days
        return days.get(tier, days.get("Standard"))  # type: ignore[call-overload]


class PrivacyConfig(BaseModel):
    """The ``privacy:`` section of ``handoff.yml``."""

    model_config = ConfigDict(extra="forbid")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    interval_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="how often the server's retention job runs"
    )
    first_run_minutes: float = Field(
        default=10.0, ge=0, description="how long after start-up the server's first retention run waits"
    )


def load_privacy_config(path: Path | None) -> PrivacyConfig:
    """The ``privacy:`` section of the YAML file at ``path`` (defaults when absent)."""
    if path is None or not Path(path).is_file():
        return PrivacyConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FormatError(str(path), f"invalid YAML: {exc}") from None
    section = raw.get("privacy") if isinstance(raw, dict) else None
    if section is None:
        return PrivacyConfig()
    try:
        return PrivacyConfig.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(
            f"privacy.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise FormatError(str(path), problems) from None
