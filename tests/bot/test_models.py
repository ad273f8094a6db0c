"""Channel-boundary messages: typed flags, and journal rows written before them still read right;
what a channel proved about a sender, and what it only claims."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.models import ContactHints, InboundMessage, VerifiedIdentity


def test_record_only_is_a_typed_flag_that_survives_the_journal() -> None:
    message = InboundMessage(channel="whatsapp", sender_id="486012", text="\u2764\ufe0f", record_only=True)
    stored = message.model_dump(mode="json")  # what the inbound journal keeps
    assert stored["record_only"] is True
    assert InboundMessage.model_validate(stored).record_only is True
    assert InboundMessage(channel="widget", sender_id="s1", text="hi").record_only is False


def test_a_journal_row_from_before_the_typed_flag_is_still_recorded_not_answered() -> None:
    legacy = {"channel": "telegram", "sender_id": "42", "text": "edited", "metadata": {"record_only": "true"}}
    assert InboundMessage.model_validate(legacy).record_only is True
    assert InboundMessage.model_validate({**legacy, "metadata": {"record_only": "no"}}).record_only is False
    # an explicit field wins over the old string
    assert InboundMessage.model_validate({**legacy, "record_only": False}).record_only is False


def test_a_provider_value_that_cannot_be_an_identity_leaves_the_sender_anonymous() -> None:
    assert VerifiedIdentity.listed("phone", " +48601234567 ", "provider") == [
        VerifiedIdentity(kind="phone", value="+48601234567", proof="provider")
    ]
    assert VerifiedIdentity.listed("phone", "", "provider") == []  # Twilio's From "whatsapp:" alone
    assert VerifiedIdentity.listed("email", "a" * 321, "provider") == []


def test_only_the_proved_kinds_exist_and_a_widget_session_is_not_one() -> None:
    with pytest.raises(ValidationError):
        VerifiedIdentity(kind="widget", value="session-42", proof="site_token")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        VerifiedIdentity(kind="email", value="a@b.pl", proof="caller_said_so")  # type: ignore[arg-type]


def test_identities_and_hints_survive_the_inbound_journal_round_trip() -> None:
    message = InboundMessage(
        channel="telegram",
        sender_id="77001",
        text="hi",
        identities=[VerifiedIdentity(kind="telegram", value="77001", proof="provider")],
        hints=ContactHints(name="Olena"),
    )
    stored = InboundMessage.model_validate(message.model_dump(mode="json"))  # what recovery reads back
    assert stored.identities == message.identities and stored.hints == message.hints
    assert InboundMessage(channel="rest", sender_id="x").identities == []  # anonymous by default
    assert ContactHints().is_empty() and not ContactHints(phone="+48 600").is_empty()
