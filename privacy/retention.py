"""Which conversations are past their time to live, by the tier of the client they belong to.

A conversation belongs to the client recognised in it (its last ``client_id`` slot) or,
failing that, to the client holding its sender's identity; one that belongs to nobody is
anonymous. Its age is counted from its last activity (``conversations.updated_at``), and
its TTL is the tier's (:class:`~privacy.config.RetentionConfig`). The tier is the client's
tier *now* (a Standard client who became VIP keeps their history longer).

A client profile is stale when the client's last activity (the latest of the profile's or a
merged profile's update, a visit, a note, and the last activity of any of their
conversations) is older than the ``profiles_days`` TTL of their tier now;
:func:`stale_profiles` names them, and the service erases each as an erase request would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.channels.addresses import is_opaque
from bot.channels.tables import channel_addresses
from bot.store.tables import conversations, events
from handoff.config import TierConfig
from handoff.identity import Identity, InvalidIdentity
from handoff.profiles import load_profile
from handoff.tables import client_identities, client_notes, client_visits, clients
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked
from privacy.subject import CLIENT_SLOT, DataSubject, _survivor, resolve_subject


async def expired_conversations(
    conn: AsyncConnection, retention: RetentionConfig, tiers: TierConfig, now: datetime
) -> list[str]:
    """Ids of the conversations whose last activity is older than their TTL."""
    ttls = [d for d in (*retention.conversations_days.values(), retention.anonymous_conversations_days) if d]
    if not ttls:
        return []
    oldest_allowed = now - timedelta(days=min(ttls))
    rows = (
        await conn.execute(
            select(
                conversations.c.id,
                conversations.c.channel,
                conversations.c.sender_id,
                conversations.c.updated_at,
            )
            .where(conversations.c.updated_at < oldest_allowed)
            .order_by(conversations.c.id)
        )
    ).all()
    if not rows:
        return []
    owner = await _owners(conn, [r.id for r in rows])
    tier_of: dict[str | None, str | None] = {None: None}
    expired: list[str] = []
    for row in rows:
        client_id = owner.get(row.id) or await _by_identity(conn, row.channel, row.sender_id)
        if client_id not in tier_of:
            live = await _survivor(conn, client_id) if client_id else None
            tier_of[client_id] = (
                (await load_profile(conn, live, now.date(), tiers)).tier if live is not None else None
            )
        days = retention.conversation_days(tier_of[client_id])
        if days is not None and row.updated_at < now - timedelta(days=days):
            expired.append(row.id)
    return expired


async def _owners(conn: AsyncConnection, ids: list[str]) -> dict[str, str]:
    """The last ``client_id`` slot value of each conversation that has one."""
    found: dict[str, str] = {}
    name = events.c.data["name"].as_string()
    value = events.c.data["value"].as_string()
    for chunk in chunked(ids):
        rows = await conn.execute(
            select(events.c.conversation_id, value.label("client_id"))
            .where(events.c.conversation_id.in_(chunk), events.c.type == "slot", name == CLIENT_SLOT)
            .order_by(events.c.conversation_id, events.c.seq)
        )
        for row in rows:
            if row.client_id:
                found[row.conversation_id] = row.client_id
    return found


async def _by_identity(conn: AsyncConnection, channel: str, sender_id: str) -> str | None:
    if is_opaque(sender_id):  # the address is on file, not in the id
        address = (
            await conn.execute(
                select(channel_addresses.c.address).where(
                    channel_addresses.c.conversation_id == f"{channel}:{sender_id}"
                )
            )
        ).scalar_one_or_none()
        if address is None:
            return None
        sender_id = address
    try:
        identity = Identity.from_channel(channel, sender_id)
    except InvalidIdentity:
        return None
    return (
        await conn.execute(
            select(client_identities.c.client_id).where(
                client_identities.c.kind == identity.kind, client_identities.c.value == identity.value
            )
        )
    ).scalar_one_or_none()


async def stale_profiles(
    conn: AsyncConnection, retention: RetentionConfig, tiers: TierConfig, now: datetime
) -> list[DataSubject]:
    """The clients (with the profiles merged into them) whose last activity is older than
    their tier's profile TTL, as erase subjects.

    Only profiles not updated within the shortest TTL are looked at; their last activity is
    read in a few grouped queries (updates, visits, notes, and conversations recognised as
    theirs: the ``client_id`` slot), so a run costs the same for a client who chats every day
    as for one gone quiet; a subject is resolved only for a profile that is stale.
    """
    ttls = [d for d in retention.profiles_days.values() if d]
    if not ttls:
        return []
    oldest_allowed = now - timedelta(days=min(ttls))
    candidates = list(
        (
            await conn.execute(
                select(clients.c.id)
                .where(clients.c.merged_into.is_(None), clients.c.updated_at < oldest_allowed)
                .order_by(clients.c.id)
            )
        ).scalars()
    )
    if not candidates:
        return []
    families = await _families(conn, candidates)
    last = await _last_activity(conn, [member for family in families.values() for member in family])
    stale: list[DataSubject] = []
    for client_id in candidates:
        moments = [last[m] for m in families[client_id] if m in last]
        if moments and max(moments) >= oldest_allowed:
            continue
        tier = (await load_profile(conn, client_id, now.date(), tiers)).tier
        days = retention.profile_days(tier)
        if days is None or (moments and max(moments) >= now - timedelta(days=days)):
            continue
        stale.append(await resolve_subject(conn, client_id))
    return stale


async def _families(conn: AsyncConnection, survivors: list[str]) -> dict[str, set[str]]:
    """Each of ``survivors`` with every profile merged into it (directly or through others)."""
    merged = (
        await conn.execute(
            select(clients.c.id, clients.c.merged_into).where(clients.c.merged_into.is_not(None))
        )
    ).all()
    children: dict[str, list[str]] = {}
    for row in merged:
        children.setdefault(row.merged_into, []).append(row.id)
    families: dict[str, set[str]] = {}
    for survivor in survivors:
        family, frontier = {survivor}, [survivor]
        while frontier:
            found = [c for parent in frontier for c in children.get(parent, ()) if c not in family]
            family.update(found)
            frontier = found
        families[survivor] = family
    return families


async def _last_activity(conn: AsyncConnection, client_ids: list[str]) -> dict[str, datetime]:
    """The latest update, visit, note or recognised conversation's activity of each client."""
    last: dict[str, datetime] = {}

    def seen(client_id: str, moment: datetime | None) -> None:
        if moment is not None and (client_id not in last or moment > last[client_id]):
            last[client_id] = moment

    slot_name = events.c.data["name"].as_string()
    slot_value = events.c.data["value"].as_string()
    for chunk in chunked(client_ids):
        queries = (
            select(clients.c.id, clients.c.updated_at).where(clients.c.id.in_(chunk)),
            select(client_notes.c.client_id, func.max(client_notes.c.created_at))
            .where(client_notes.c.client_id.in_(chunk))
            .group_by(client_notes.c.client_id),
            select(slot_value, func.max(conversations.c.updated_at))
            .select_from(events.join(conversations, conversations.c.id == events.c.conversation_id))
            .where(events.c.type == "slot", slot_name == CLIENT_SLOT, slot_value.in_(chunk))
            .group_by(slot_value),
        )
        for query in queries:
            for key, moment in await conn.execute(query):
                seen(key, moment)
        visits = (
            select(client_visits.c.client_id, func.max(client_visits.c.visited_on))
            .where(client_visits.c.client_id.in_(chunk))
            .group_by(client_visits.c.client_id)
        )
        for key, day in await conn.execute(visits):
            if day is not None:
                seen(key, datetime(day.year, day.month, day.day, tzinfo=UTC))
    return last
