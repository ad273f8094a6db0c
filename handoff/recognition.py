"""Who is writing: the client behind an inbound message, recognised only from proof.

A channel adapter puts on each message what it *proved* about the sender
(``InboundMessage.identities``: a signed WhatsApp number, a Telegram or Meta id, the From of
a mail in our mailbox, a widget token the website signed) and, apart, what the sender
merely claims (``InboundMessage.hints``). Only proven identities go to
:meth:`ClientStore.identify`, which finds the one client behind them (creating a profile
for a proven newcomer; merging two profiles, audited, when two proven identities of one
message belong to two clients). Hints never recognise, create or merge anyone: an
anonymous widget visitor or a REST caller creates no client profile at all, whatever
phone or e-mail its metadata names; agents see the hints labelled unverified.

A conversation recognised once keeps its client for its later anonymous messages (e.g. a
widget token that expired mid-chat): the proof was given in this conversation.

The result reaches the dialogue as slots (``client_id``, ``tier``,
``client_first_name``), set with ``SlotSet`` events only when their value changes, so
responses can vary by tier (Rasa's conditional response variations).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.channels.addresses import AddressBook, is_opaque
from bot.domain import Domain
from bot.events import Event, SlotSet, UserUttered
from bot.models import ContactHints, InboundMessage
from handoff.clients import ClientNotFound, ClientProfile, ClientStore
from handoff.identity import CHANNEL_KINDS, Identity, InvalidIdentity

log = logging.getLogger(__name__)

CLIENT_SLOT = "client_id"
TIER_SLOT = "tier"
NAME_SLOT = "client_first_name"
#: the metadata recognition puts on the slots it sets
RECOGNISED = {"set_by": "recognition"}
#: where the engine keeps a message's claimed contact details (``UserUttered.metadata``)
UNVERIFIED_KEY = "unverified_contact"
CACHE_SIZE = 10_000
#: how long a conversation's profile is reused before it is read again (a tier changed in
#: the console reaches the bot within this time)
PROFILE_TTL_SECONDS = 60.0


def proven_identities(message: InboundMessage) -> list[Identity]:
    """The normalised identities the message's channel proved (never its hints)."""
    found: list[Identity] = []
    for verified in message.identities:
        try:
            identity = Identity.from_verified(verified)
        except InvalidIdentity:  # never log the value: it is personal data
            log.info("ignoring an unusable %s identity on a %s message", verified.kind, message.channel)
            continue
        if identity not in found:
            found.append(identity)
    return found


def name_fields(hints: ContactHints) -> dict[str, str]:
    """``first_name``/``last_name`` from a name hint (they only fill gaps of a proven client)."""
    name = " ".join((hints.name or "").split())
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
    """``SlotSet`` for every wanted value the conversation does not already have, marked as
    recognition's own (see :func:`recognised_client`)."""
    return [
        SlotSet(name=name, value=value, timestamp=timestamp, metadata=dict(RECOGNISED))
        for name, value in wanted.items()
        if current.get(name) != value
    ]


def recognised_client(events: Sequence[Event]) -> str | None:
    """The client id recognition last set in a conversation (None if it never recognised one).

    Only ``client_id`` slots that recognition set count: a project whose domain lets the
    slot fill from an entity must not let a client name another client's id.
    """
    for event in reversed(events):
        if (
            isinstance(event, SlotSet)
            and event.name == CLIENT_SLOT
            and event.metadata.get("set_by") == RECOGNISED["set_by"]
        ):
            return str(event.value) if event.value else None
    return None


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
        addresses: AddressBook | None = None,
    ) -> None:
        self.clients = clients
        #: the channel address behind an opaque conversation id (bot/channels/addresses.py)
        self.addresses = addresses
        self.cache_size = cache_size
        self.ttl = ttl
        self.monotonic = monotonic
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    async def recognise(
        self, message: InboundMessage, known_client: str | None = None
    ) -> ClientProfile | None:
        """The client behind ``message``, or None for an anonymous sender.

        Only the identities the channel proved count (a proven newcomer gets a profile);
        without any, ``known_client`` (the conversation's ``client_id`` slot, set when an
        earlier message proved who is writing) is kept, and nothing is ever created.
        """
        identities = proven_identities(message)
        key = message.conversation_id
        known = self._seen.get(key)
        if not identities:
            if known_client is None:
                return None
            try:
                if known is not None and known.profile.id == known_client:
                    return await self._fresh(known)
                profile = await self.clients.get(known_client)
            except ClientNotFound:
                return None
            self._remember(key, known.identities if known else frozenset(), profile)
            return profile
        if known is not None and set(identities) <= known.identities:
            self._seen.move_to_end(key)
            try:
                return await self._fresh(known)
            except ClientNotFound:
                pass  # deleted meanwhile: identify again
        profile = await self.clients.identify(
            identities, actor="bot", context=message.channel, **name_fields(message.hints)
        )
        seen = frozenset(identities) | (known.identities if known else frozenset())
        self._remember(key, seen, profile)
        return profile

    async def _fresh(self, known: _Seen) -> ClientProfile:
        """The remembered profile, read again once it is older than the TTL."""
        if self.monotonic() - known.read_at >= self.ttl:
            known.profile, known.read_at = await self.clients.get(known.profile.id), self.monotonic()
        return known.profile

    def _remember(self, key: str, identities: frozenset[Identity], profile: ClientProfile) -> None:
        self._seen[key] = _Seen(identities, profile, self.monotonic())
        self._seen.move_to_end(key)
        while len(self._seen) > self.cache_size:
            self._seen.popitem(last=False)

    def forget(self, conversation_id: str | None = None) -> None:
        """Drop what is remembered (for one conversation, or all), e.g. after an agent edits a client."""
        if conversation_id is None:
            self._seen.clear()
        else:
            self._seen.pop(conversation_id, None)

    async def for_conversation(self, channel: str, sender_id: str) -> ClientProfile | None:
        """The known client behind a conversation's sender id, on channels whose sender ids
        the provider signs (never creates one; None for the widget and REST)."""
        if channel not in CHANNEL_KINDS:
            return None
        if is_opaque(sender_id):  # the address is on file, not in the id
            address = await self.addresses.address(f"{channel}:{sender_id}") if self.addresses else None
            if address is None:
                return None
            sender_id = address
        try:
            identity = Identity.from_channel(channel, sender_id)
        except InvalidIdentity:
            return None
        return await self.clients.find(identity)


def unverified_contact(events: Sequence[Event]) -> ContactHints | None:
    """The contact details the client last claimed in a conversation (REST metadata, a
    display name), for agents to see labelled unverified; None when it claimed none."""
    for event in reversed(events):
        if isinstance(event, UserUttered):
            claimed = event.metadata.get(UNVERIFIED_KEY)
            if isinstance(claimed, dict) and claimed:
                try:
                    return ContactHints.model_validate(claimed)
                except ValidationError:
                    return None
    return None
