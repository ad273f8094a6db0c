"""Client identities across channels, normalised so the same person is recognised anywhere.

A phone number typed as "601-234-567", "0048 601 234 567" or "(+48) 601234567" is one
identity, ``+48601234567`` (E.164; national numbers default to Poland). E-mail addresses
are lower-cased; Telegram and Instagram handles lose their ``@`` and case; platform ids
(Messenger PSIDs, Telegram numeric ids) are kept as given, trimmed.

Which identities may *recognise* someone is decided at the channel edge: only those a
channel proved (:class:`bot.models.VerifiedIdentity`). A widget session or a REST sender
id is a conversation key chosen by the caller, never an identity (no entry in
:data:`CHANNEL_KINDS`); ``widget`` stays a valid kind only so that rows stored before
this rule still load.
"""

from __future__ import annotations

import re
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict

from bot.errors import ConciergeError
from bot.models import VerifiedIdentity

IdentityKind = Literal["phone", "email", "telegram", "instagram", "messenger", "widget"]
IDENTITY_KINDS: tuple[IdentityKind, ...] = ("phone", "email", "telegram", "instagram", "messenger", "widget")
DEFAULT_REGION = "PL"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HANDLE = re.compile(r"^[A-Za-z0-9_.]{1,64}$")

# channel name -> identity kind of its sender ids, for channels whose sender ids the provider
# signs (WhatsApp senders are phone numbers: "whatsapp:+48601234567" from Twilio, the bare
# wa_id "48601234567" from Meta's Cloud API). Used to find the known client behind a stored
# conversation; never to create one.
CHANNEL_KINDS: dict[str, IdentityKind] = {
    "telegram": "telegram",
    "instagram": "instagram",
    "messenger": "messenger",
    "facebook": "messenger",
    "whatsapp": "phone",
    "whatsapp_cloud": "phone",
    "sms": "phone",
    "email": "email",
}


class InvalidIdentity(ConciergeError):
    """A phone number, e-mail or handle that cannot identify anyone."""


class Identity(BaseModel):
    """One normalised way to reach a client; ``(kind, value)`` is unique across clients."""

    model_config = ConfigDict(frozen=True)
    kind: IdentityKind
    value: str

    @classmethod
    def of(cls, kind: str, raw: str, region: str = DEFAULT_REGION) -> Identity:
        """Normalise ``raw`` as an identity of ``kind``; raises :class:`InvalidIdentity`."""
        if kind not in IDENTITY_KINDS:
            raise InvalidIdentity(f"unknown identity kind {kind!r}")
        return cls(kind=kind, value=normalise(kind, raw, region))  # type: ignore[arg-type]

    @classmethod
    def from_verified(cls, verified: VerifiedIdentity) -> Identity:
        """The normalised identity of one a channel proved; raises :class:`InvalidIdentity`."""
        return cls.of(verified.kind, verified.value)

    @classmethod
    def from_channel(cls, channel: str, sender_id: str) -> Identity:
        """The identity behind a channel's sender id (e.g. ``telegram``, ``"12345"``)."""
        kind = CHANNEL_KINDS.get(channel)
        if kind is None:
            raise InvalidIdentity(f"channel {channel!r} has no identity kind")
        if kind == "phone":
            sender_id = sender_id.strip().removeprefix("whatsapp:")
            if sender_id.isdigit() and len(sender_id) > 9:  # a wa_id: country code without "+"
                sender_id = "+" + sender_id
        return cls.of(kind, sender_id)

    @classmethod
    def for_channel(cls, channel: str, sender_id: str) -> Identity:
        """Alias of :meth:`from_channel` (the name the channel seam uses)."""
        return cls.from_channel(channel, sender_id)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of a phone number written any common way; raises :class:`InvalidIdentity`."""
    text = (raw or "").strip()
    if not text:
        raise InvalidIdentity("empty phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"not a phone number: {raw!r} ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentity(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: str, raw: str, region: str = DEFAULT_REGION) -> str:
    """The canonical value of an identity of ``kind``."""
    value = (raw or "").strip()
    if not value:
        raise InvalidIdentity(f"empty {kind}")
    if kind == "phone":
        return normalise_phone(value, region)
    if kind == "email":
        value = value.lower()
        if not _EMAIL.match(value):
            raise InvalidIdentity(f"not an e-mail address: {raw!r}")
        return value
    if kind in ("telegram", "instagram"):
        value = value.removeprefix("@")
        if value.isdigit():  # a numeric platform id, not a handle
            return value
        if not _HANDLE.match(value):
            raise InvalidIdentity(f"not a {kind} handle: {raw!r}")
        return value.lower()
    return value
