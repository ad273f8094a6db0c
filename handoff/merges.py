"""Merging two client profiles: only on proof or a person's say-so, and never unaudited.

Two profiles become one when identities proven to belong to one person point at both (a
Telegram user shares their own number, which Telegram vouches for, and a client with that
number exists), or when a manager or a system with ``clients:write`` says so (linking an
identity, an upsert, a CSV import). The older profile survives and receives the other's
identities, visits and notes; the absorbed row keeps ``merged_into`` so old references
still resolve.

Every merge writes one audit entry (``client.merge``: the actor, the survivor as target,
the absorbed client, the cause, the channel, the *kind* of identity the two shared; never
its value) on the merge's own connection, so the merge and its entry commit or roll back
together. Without an audit log (:class:`ClientAudit`) the merge is refused
(:class:`MergeRefused`), never done silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import ConciergeError
from handoff.identity import Identity
from handoff.profiles import PROFILE_FIELDS
from handoff.tables import client_identities, client_notes, client_visits, clients


class MergeRefused(ConciergeError):
    """Two profiles would merge, but the store has no audit log to record it in."""


class ClientAudit(Protocol):
    """Where merges are recorded (the console's audit log implements it)."""

    async def write(
        self, conn: AsyncConnection, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        """Append one entry on ``conn`` (``detail`` holds no personal data)."""
        ...


@dataclass(frozen=True)
class MergeCause:
    """Who asked for a write that may merge, and why: what a merge's audit entry says."""

    actor: str
    cause: str
    context: str | None = None
    identity_kind: str | None = None

    def naming(self, identity: Identity) -> MergeCause:
        """The same, naming the kind of identity two clients shared (never its value)."""
        return MergeCause(self.actor, self.cause, self.context, identity.kind)

    def detail(self, absorbed: str) -> dict[str, Any]:
        """The audit entry's detail: the absorbed client, the cause; no personal data."""
        detail: dict[str, Any] = {"absorbed": absorbed, "cause": self.cause}
        if self.context:
            detail["context"] = self.context
        if self.identity_kind:  # what the two profiles shared: an identity's kind or external_id
            detail["shared"] = self.identity_kind
        return detail


def _now() -> datetime:
    return datetime.now(UTC)


async def merge_profiles(
    conn: AsyncConnection, first: str, second: str, why: MergeCause, audit: ClientAudit | None
) -> str:
    """Merge two live clients into the older one on ``conn`` (audited); returns the survivor's id."""
    if first == second:
        return first
    if audit is None:
        raise MergeRefused("two client profiles would merge, but no audit log is configured")
    rows = {r.id: r for r in await conn.execute(select(clients).where(clients.c.id.in_([first, second])))}
    survivor, absorbed = sorted((rows[first], rows[second]), key=lambda r: (r.created_at, r.id))
    await audit.write(conn, why.actor, "client.merge", f"client:{survivor.id}", why.detail(absorbed.id))
    for table in (client_identities, client_visits, client_notes):
        await conn.execute(
            update(table).where(table.c.client_id == absorbed.id).values(client_id=survivor.id)
        )
    await conn.execute(
        update(clients).where(clients.c.merged_into == absorbed.id).values(merged_into=survivor.id)
    )
    filled = {
        name: getattr(absorbed, name)
        for name in PROFILE_FIELDS[1:]  # the survivor keeps its own external id
        if not getattr(survivor, name) and getattr(absorbed, name)
    }
    await conn.execute(
        update(clients)
        .where(clients.c.id == survivor.id)
        .values(
            **filled,
            preferences={**(absorbed.preferences or {}), **(survivor.preferences or {})},
            updated_at=_now(),
        )
    )
    await conn.execute(
        update(clients).where(clients.c.id == absorbed.id).values(merged_into=survivor.id, updated_at=_now())
    )
    name = f"{absorbed.first_name} {absorbed.last_name}".strip() or absorbed.id
    await conn.execute(
        client_notes.insert().values(
            client_id=survivor.id,
            author="system",
            text=f"merged with client {absorbed.id} ({name})",
            created_at=_now(),
        )
    )
    return str(survivor.id)
