"""Who an export or an erase is about: a :class:`DataSubject`, resolved from what an admin types.

``concierge privacy erase CLIENT`` takes a client id, a phone number in any common
notation, an e-mail address or a conversation id (``whatsapp:<token>``; an opaque id names
the person whose address is on file for it, bot/channels/addresses.py). The subject is
the client behind it together with every profile merged into that client (merged-away
rows still hold names), all of their identities, and every conversation that is theirs:
those recognised as the client (the ``client_id`` slot) and those whose channel address
(``channel_addresses``; the sender id itself for ids from before opaque ids) is one of
their identities. A phone or e-mail nobody's profile holds still names the
conversations written from it (an anonymous sender can ask for erasure too).

The subject also knows how its personal data is written in free text (a phone as
``+48 601 234 567``, ``0048601234567`` or ``601-234-567``), so stores that must keep a
record (the audit log) can scrub the values and tests can search for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import phonenumbers
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.channels.addresses import is_opaque
from bot.channels.tables import channel_addresses
from bot.errors import ConciergeError
from bot.store.tables import conversations, events
from handoff.identity import CHANNEL_KINDS, Identity, InvalidIdentity
from handoff.tables import client_identities, clients
from privacy.base import ERASED

#: the slot recognition sets to the client's id (handoff.recognition.CLIENT_SLOT)
CLIENT_SLOT = "client_id"
_SEPARATORS = r"[\s.\-()/]*"
_SQUEEZE = re.compile(r"[\s.\-()/]+")


class SubjectNotFound(ConciergeError):
    """Nothing is held about what was asked for (no such client, identity or conversation)."""


def phone_pattern(e164: str) -> str:
    """A regex for one phone number in the notations people write it in.

    ``+48 601 234 567``, ``(+48) 601-234-567``, ``0048601234567``, ``48601234567`` and the
    national ``601 234 567`` all match ``+48601234567``; the digits may not run on into
    longer numbers.
    """
    number = phonenumbers.parse(e164)
    cc = str(number.country_code)
    digits = str(number.national_number)
    prefix = rf"(?:(?:\+|00)?{_SEPARATORS}{cc}{_SEPARATORS}|0{_SEPARATORS})?"
    return rf"(?<!\d){prefix}{_SEPARATORS.join(digits)}(?!\d)"


def _literal(value: str) -> str:
    return rf"(?<![\w@.+-]){re.escape(value)}(?![\w@-])"


@dataclass(frozen=True)
class DataSubject:
    """A person (or, for retention, a set of expired conversations) whose data is handled."""

    client_ids: frozenset[str] = frozenset()
    identities: frozenset[Identity] = frozenset()
    conversation_ids: frozenset[str] = frozenset()
    #: full names and last names, as free text may carry them
    names: frozenset[str] = frozenset()
    #: the surviving client's id (None: an anonymous sender, or conversations only)
    primary: str | None = None

    @classmethod
    def of_conversations(cls, conversation_ids: Iterable[str]) -> DataSubject:
        """Only these conversations (what retention expires)."""
        return cls(conversation_ids=frozenset(conversation_ids))

    @property
    def audit_target(self) -> str:
        """What the audit entry of an erase names: the (opaque) client id, never a phone or e-mail."""
        if self.primary:
            return f"client:{self.primary}"
        return "conversations" if not self.identities else "anonymous sender"

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        parts: list[str] = []
        for identity in sorted(self.identities, key=str):
            if identity.kind == "phone":
                parts.append(phone_pattern(identity.value))
            elif len(identity.value) >= 3:
                parts.append(_literal(identity.value))
        # conversation ids are not listed: theirs carry one of these identities, and retention's
        # subjects (thousands of ids, no identities) are matched by key, never by text
        parts += [
            r"(?<!\w)" + r"\s+".join(re.escape(word) for word in name.split()) + r"(?!\w)"
            for name in sorted(self.names, key=lambda n: (-len(n), n))  # the longest first
            if name
        ]
        if not parts:
            return None
        return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)

    def pattern(self) -> re.Pattern[str] | None:
        """One regex for every way this subject's data is written in free text (None: nothing)."""
        return self._pattern

    @cached_property
    def _anchors(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Cheap substrings every match contains: lower-case words, and phones' national digits."""
        words = [i.value.lower() for i in self.identities if i.kind != "phone" and len(i.value) >= 3]
        words += [max(name.lower().split(), key=len) for name in self.names if name.strip()]
        digits = [
            str(phonenumbers.parse(i.value).national_number) for i in self.identities if i.kind == "phone"
        ]
        return tuple(words), tuple(digits)

    def mentions(self, text: str) -> bool:
        """Whether ``text`` carries any of this subject's data."""
        pattern = self.pattern()
        return bool(pattern and self._may_mention(text) and pattern.search(text))

    def _may_mention(self, text: str) -> bool:
        """A fast test that is never False when :meth:`mentions` would be True."""
        words, digits = self._anchors
        lower = text.lower()
        if any(word in lower for word in words):
            return True
        return bool(digits) and any(d in _SQUEEZE.sub("", lower) for d in digits)

    def scrub(self, text: str) -> str:
        """``text`` with each of this subject's values replaced by ``[erased]``."""
        pattern = self.pattern()
        return pattern.sub(ERASED, text) if pattern and self._may_mention(text) else text


async def resolve_subject(conn: AsyncConnection, raw: str) -> DataSubject:
    """The subject ``raw`` names (client id, phone, e-mail or conversation id).

    Raises :class:`SubjectNotFound` when it names nobody we hold anything about.
    """
    text = raw.strip()
    if not text or not text.isprintable():  # control characters name nobody (and PostgreSQL refuses NUL)
        raise SubjectNotFound("name a client id, a phone number, an e-mail address or a conversation id")
    identity: Identity | None = None
    client_id = await _survivor(conn, text)
    if client_id is None:
        named = await _with_address(conn, text)
        # an opaque id with no address on file names no identity (a token is no handle)
        identity = None if ":" in named and is_opaque(named) else _identity_of(named)
        if identity is not None:
            owner = (
                await conn.execute(
                    select(client_identities.c.client_id).where(
                        client_identities.c.kind == identity.kind, client_identities.c.value == identity.value
                    )
                )
            ).scalar_one_or_none()
            client_id = await _survivor(conn, owner) if owner else None
    if client_id is None and identity is None and ":" in text:
        exists = (await conn.execute(select(conversations.c.id).where(conversations.c.id == text))).first()
        if exists:  # a conversation of a channel without identities (e.g. the shell)
            return DataSubject.of_conversations([text])
    if client_id is None and identity is None:
        raise SubjectNotFound("no client, identity or conversation matches that")
    family = await _family(conn, client_id) if client_id else frozenset()
    identities: set[Identity] = {identity} if identity else set()
    names: set[str] = set()
    if family:
        rows = await conn.execute(
            select(client_identities.c.kind, client_identities.c.value).where(
                client_identities.c.client_id.in_(family)
            )
        )
        identities |= {Identity(kind=r.kind, value=r.value) for r in rows}
        for row in await conn.execute(
            select(clients.c.first_name, clients.c.last_name).where(clients.c.id.in_(family))
        ):
            full = f"{row.first_name} {row.last_name}".strip()
            names |= {n for n in (full, row.last_name.strip()) if len(n) >= 3}
    found = await _conversations(conn, family, identities)
    if not family and not found:
        raise SubjectNotFound("nothing is held for that phone number or address")
    return DataSubject(
        client_ids=family,
        identities=frozenset(identities),
        conversation_ids=found,
        names=frozenset(names),
        primary=client_id,
    )


def _identity_of(text: str) -> Identity | None:
    """A phone, an e-mail or a conversation id's sender identity; None when it is none of them."""
    channel, sep, sender = text.partition(":")
    try:
        if sep:
            return Identity.from_channel(channel, sender) if channel in CHANNEL_KINDS else None
        return Identity.of("email" if "@" in text else "phone", text)
    except InvalidIdentity:
        return None


async def _with_address(conn: AsyncConnection, text: str) -> str:
    """An opaque conversation id as ``<channel>:<address>`` (its address on file), so it
    names the person behind it; anything else as it is."""
    if ":" not in text or not is_opaque(text):
        return text
    address = (
        await conn.execute(
            select(channel_addresses.c.channel, channel_addresses.c.address).where(
                channel_addresses.c.conversation_id == text
            )
        )
    ).first()
    return f"{address.channel}:{address.address}" if address is not None else text


async def _survivor(conn: AsyncConnection, client_id: str) -> str | None:
    """The live client ``client_id`` is (or was merged into); None if there is no such client."""
    seen: set[str] = set()
    current = client_id
    while current not in seen:
        seen.add(current)
        merged = (
            await conn.execute(select(clients.c.id, clients.c.merged_into).where(clients.c.id == current))
        ).first()
        if merged is None:
            return None
        if merged.merged_into is None:
            return str(merged.id)
        current = merged.merged_into
    return current


async def _family(conn: AsyncConnection, client_id: str) -> frozenset[str]:
    """``client_id`` and every profile merged into it, directly or through others."""
    family = {client_id}
    frontier = {client_id}
    while frontier:
        rows = await conn.execute(select(clients.c.id).where(clients.c.merged_into.in_(frontier)))
        frontier = {r.id for r in rows} - family
        family |= frontier
    return frozenset(family)


def _search_key(identity: Identity) -> str:
    if identity.kind == "phone":
        return str(phonenumbers.parse(identity.value).national_number)
    return identity.value.lower()


async def _conversations(
    conn: AsyncConnection, family: frozenset[str], identities: set[Identity]
) -> frozenset[str]:
    """Conversations recognised as one of ``family`` or written from one of ``identities``."""
    found: set[str] = set()
    if family:
        name = events.c.data["name"].as_string()
        value = events.c.data["value"].as_string()
        rows = await conn.execute(
            select(events.c.conversation_id)
            .where(events.c.type == "slot", name == CLIENT_SLOT, value.in_(family))
            .distinct()
        )
        found |= {r.conversation_id for r in rows}
    if identities:
        keys = [_search_key(i) for i in identities]
        candidates = await conn.execute(
            select(conversations.c.id, conversations.c.channel, conversations.c.sender_id).where(
                or_(*(func.lower(conversations.c.sender_id).contains(k, autoescape=True) for k in keys))
            )
        )
        for row in candidates:
            try:
                if Identity.from_channel(row.channel, row.sender_id) in identities:
                    found.add(row.id)
            except InvalidIdentity:
                continue
        # opaque ids: the address is on file in channel_addresses (bot/channels/addresses.py)
        on_file = await conn.execute(
            select(
                channel_addresses.c.conversation_id, channel_addresses.c.channel, channel_addresses.c.address
            ).where(
                or_(*(func.lower(channel_addresses.c.address).contains(k, autoescape=True) for k in keys))
            )
        )
        for row in on_file:
            try:
                if Identity.from_channel(row.channel, row.address) in identities:
                    found.add(row.conversation_id)
            except InvalidIdentity:
                continue
    return frozenset(found)
