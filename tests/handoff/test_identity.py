"""Identities are normalised so one person is recognised on every channel."""

from __future__ import annotations

import pytest

from handoff.identity import Identity, InvalidIdentity, normalise_phone


@pytest.mark.parametrize(
    "raw",
    [
        "+48 601 234 567",
        "0048601234567",
        "601-234-567",
        "(+48) 601 234 567",
        "48601234567",
        " 601234567 ",
        "+48-601-234-567",
        "0048 601 234 567",
    ],
)
def test_messy_polish_numbers_become_one_e164_number(raw: str) -> None:
    assert normalise_phone(raw) == "+48601234567"


def test_foreign_numbers_keep_their_country_and_landlines_work() -> None:
    assert normalise_phone("+380 67 412 3390") == "+380674123390"
    assert normalise_phone("0044 20 7946 0321") == "+442079460321"
    assert normalise_phone("22 598 41 07") == "+48225984107"


@pytest.mark.parametrize("raw", ["", "12", "call me", "+48 000 000 000", "601 234 56"])
def test_numbers_that_identify_nobody_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentity):
        normalise_phone(raw)


def test_emails_handles_and_platform_ids() -> None:
    assert Identity.of("email", "  Ola.Wisniewska@Example.PL ").value == "ola.wisniewska@example.pl"
    assert Identity.of("telegram", "@Ola_W").value == "ola_w"
    assert Identity.of("telegram", "123456789").value == "123456789"
    assert Identity.of("instagram", "@Ola.Studio").value == "ola.studio"
    assert Identity.of("messenger", " 4791203348812 ").value == "4791203348812"
    with pytest.raises(InvalidIdentity):
        Identity.of("email", "not-an-email")
    with pytest.raises(InvalidIdentity):
        Identity.of("instagram", "bad handle!")
    with pytest.raises(InvalidIdentity):
        Identity.of("fax", "123")


def test_channel_senders_map_to_identities() -> None:
    assert Identity.from_channel("telegram", "98765") == Identity(kind="telegram", value="98765")
    assert Identity.from_channel("whatsapp", "48601234567") == Identity(kind="phone", value="+48601234567")
    assert str(Identity.from_channel("facebook", "psid1")) == "messenger:psid1"
    with pytest.raises(InvalidIdentity):
        Identity.from_channel("carrier-pigeon", "x")


def test_every_channel_of_the_channel_seam_has_an_identity_kind() -> None:
    assert Identity.from_channel("whatsapp", "whatsapp:+48601234567") == Identity.of("phone", "601 234 567")
    assert Identity.from_channel("whatsapp_cloud", "380674123390") == Identity.of("phone", "+380674123390")
    assert Identity.from_channel("email", " Ola@Example.PL ") == Identity.of("email", "ola@example.pl")
    for channel in ("telegram", "messenger", "instagram"):
        assert Identity.for_channel(channel, "12345").kind == channel
