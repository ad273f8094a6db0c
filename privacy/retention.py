"""Which conversations are past their time to live, by the tier of the client they belong to.

A conversation belongs to the client recognised in it (its last ``client_id`` slot) or,
failing that, to the client holding its sender's identity; one that belongs to nobody is
anonymous. Its age is counted from its last activity (``conversations.updated_at``), and
its TTL is the tier's (:class:`~privacy.config.RetentionConfig`). The tier is the client's
tier *now* (a Standard client who became VIP keeps their history longer).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.channels.addresses import is_opaque
from bot.channels.tables import channel_addresses
from bot.store.tables import conversations, events
from handoff.config import TierConfig
from handoff.identity import Identity, InvalidIdentity
from handoff.profiles import load_profile
from handoff.tables import client_identities
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked
from privacy.subject import CLIENT_SLOT, _survivor


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
