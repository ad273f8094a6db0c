"""Who is writing: the client behind an inbound message, found (or created) across channels.

A message names its sender in the channel's terms (a WhatsApp number, a Telegram id, a
widget session); channel adapters add what the provider told them in the metadata
(``contact_phone``, ``contact_email``, ``contact_name``; the widget adds a verified
e-mail or phone of a logged-in customer). All of these identities go to
:meth:`ClientStore.identify`, which finds the one client behind them, merging two
profiles when a new identity proves they are the same person, so a VIP writing from a
new channel is still a VIP.

The result reaches the dialogue as slots (``client_id``, ``tier``,
``client_first_name``), set with ``SlotSet`` events only when their value changes, so
responses can vary by tier (Rasa's conditional response variations).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain import Domain
from bot.events import Event, SlotSet
from bot.models import InboundMessage
from handoff.clients import ClientNotFound, ClientProfile, ClientStore
from handoff.identity import CHANNEL_KINDS, Identity, InvalidIdentity

log = logging.getLogger(__name__)

CLIENT_SLOT = "client_id"
TIER_SLOT = "tier"
NAME_SLOT = "client_first_name"
#: metadata keys channels fill (see the channel seam) -> identity kind
HINTS = {"contact_phone": "phone", "contact_email": "email"}
CACHE_SIZE = 10_000
#: how long a conversation's profile is reused before it is read again (a tier changed in
#: the console reaches the bot within this time)
PROFILE_TTL_SECONDS = 60.0


def message_identities(channel: str, sender_id: str, metadata: Mapping[str, str]) -> list[Identity]:
    """The valid identities a message carries: its sender id and the contact hints."""
    found: list[Identity] = []
    if channel in CHANNEL_KINDS:
        try:
            found.append(Identity.from_channel(channel, sender_id))
        except InvalidIdentity as exc:
            log.debug("sender id on %s is not an identity: %s", channel, exc)
    for key, kind in HINTS.items():
        value = metadata.get(key)
        if not value:
            continue
        try:
            identity = Identity.of(kind, value)
        except InvalidIdentity:
            log.info("ignoring an invalid %s hint on a %s message", key, channel)  # never log the value
            continue
        if identity not in found:
            found.append(identity)
    return found


def name_fields(metadata: Mapping[str, str]) -> dict[str, str]:
    """``first_name``/``last_name`` from a ``contact_name`` hint (they only fill gaps)."""
    name = " ".join((metadata.get("contact_name") or "").split())
    if not name:
        return {}
    first, _, last = name.partition(" ")
    return {"first_name": first[:100], **({"last_name": last[:100]} if last else {})}


def client_slots(profile: ClientProfile, domain: Domain) -> dict[str, Any]:
    """The slot values a client gives a conversation, for the slots the domain declares."""
    values: dict[str, Any] = {
        CLIENT_SLOT: profile.id,
        TIER_SLOT: profile.tier,
        NAME_SLOT: profile.first_name or None,
    }
    return {name: value for name, value in values.items() if name in domain.slots}


def slot_events(wanted: Mapping[str, Any], current: Mapping[str, Any], timestamp: float) -> list[Event]:
    """``SlotSet`` for every wanted value the conversation does not already have."""
    return [
        SlotSet(name=name, value=value, timestamp=timestamp)
        for name, value in wanted.items()
        if current.get(name) != value
    ]


@dataclass
class _Seen:
    identities: frozenset[Identity]
    profile: ClientProfile
    read_at: float


class ClientRecognition:
    """Resolves messages to clients, remembering per conversation which identities it has
    resolved and the profile it read: a conversation's next messages cost nothing until
    the profile is :data:`PROFILE_TTL_SECONDS` old (then one read), and an upsert only
    when a message brings an identity not seen in the conversation before."""

    def __init__(
        self,
        clients: ClientStore,
        cache_size: int = CACHE_SIZE,
        ttl: float = PROFILE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = clients
        self.cache_size = cache_size
        self.ttl = ttl
        self.monotonic = monotonic
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    async def recognise(self, message: InboundMessage) -> ClientProfile | None:
        """The client behind ``message`` (created when new), or None when it carries no identity."""
        identities = message_identities(message.channel, message.sender_id, message.metadata)
        if not identities:
            return None
        key = message.conversation_id
        known = self._seen.get(key)
        if known is not None and set(identities) <= known.identities:
            self._seen.move_to_end(key)
            if self.monotonic() - known.read_at < self.ttl:
                return known.profile
            try:
                known.profile, known.read_at = await self.clients.get(known.profile.id), self.monotonic()
                return known.profile
            except ClientNotFound:
                pass  # deleted meanwhile: identify again
        profile = await self.clients.identify(identities, **name_fields(message.metadata))
        seen = frozenset(identities) | (known.identities if known else frozenset())
        self._seen[key] = _Seen(seen, profile, self.monotonic())
        self._seen.move_to_end(key)
        while len(self._seen) > self.cache_size:
            self._seen.popitem(last=False)
        return profile

    def forget(self, conversation_id: str | None = None) -> None:
        """Drop what is remembered (for one conversation, or all), e.g. after an agent edits a client."""
        if conversation_id is None:
            self._seen.clear()
        else:
            self._seen.pop(conversation_id, None)

    async def for_conversation(self, channel: str, sender_id: str) -> ClientProfile | None:
        """The known client behind a conversation's sender id (never creates one)."""
        for identity in message_identities(channel, sender_id, {}):
            profile = await self.clients.find(identity)
            if profile is not None:
                return profile
        return None
