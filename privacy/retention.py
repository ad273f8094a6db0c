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
    their tier's profile TTL, as erase subjects."""
    ttls = [d for d in retention.profiles_days.values() if d]
    if not ttls:
        return []
    oldest_allowed = now - timedelta(days=min(ttls))
    # a profile updated within the shortest TTL is active: only older ones are looked at closer
    candidates = (
        await conn.execute(
            select(clients.c.id)
            .where(clients.c.merged_into.is_(None), clients.c.updated_at < oldest_allowed)
            .order_by(clients.c.id)
        )
    ).all()
    stale: list[DataSubject] = []
    for (client_id,) in candidates:
        tier = (await load_profile(conn, client_id, now.date(), tiers)).tier
        days = retention.profile_days(tier)
        if days is None:
            continue
        subject = await resolve_subject(conn, client_id)
        if await _last_activity(conn, subject) < now - timedelta(days=days):
            stale.append(subject)
    return stale


async def _last_activity(conn: AsyncConnection, subject: DataSubject) -> datetime:
    """The latest update, visit, note or conversation activity of the subject's profiles."""
    family = sorted(subject.client_ids)
    moments: list[datetime] = []
    for query in (
        select(func.max(clients.c.updated_at)).where(clients.c.id.in_(family)),
        select(func.max(client_notes.c.created_at)).where(client_notes.c.client_id.in_(family)),
    ):
        moment = (await conn.execute(query)).scalar_one_or_none()
        if moment is not None:
            moments.append(moment)
    visited = (
        await conn.execute(
            select(func.max(client_visits.c.visited_on)).where(client_visits.c.client_id.in_(family))
        )
    ).scalar_one_or_none()
    if visited is not None:
        moments.append(datetime(visited.year, visited.month, visited.day, tzinfo=UTC))
    for chunk in chunked(subject.conversation_ids):
        moment = (
            await conn.execute(
                select(func.max(conversations.c.updated_at)).where(conversations.c.id.in_(chunk))
            )
        ).scalar_one_or_none()
        if moment is not None:
            moments.append(moment)
    return max(moments)
