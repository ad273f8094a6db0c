"""Client profiles: who is writing, across every channel, and what tier they are.

A client has any number of identities (phone in E.164, e-mail, Telegram, Instagram,
Messenger); each identity belongs to one client. Two profiles are merged only when
identities that point at both are *proven* to belong to one person (a Telegram user
shares their own number, which Telegram vouches for, and a client with that number
exists) or when a manager says so (linking an identity, an upsert, a CSV import): the
older profile survives and receives the other's identities, visits and notes, so neither
history is lost; every merge is audited or refused (:mod:`handoff.merges`). Tier and
milestones are computed on read from visits and config (:mod:`handoff.tiers`), never stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import ConciergeError
from bot.store.database import create_engine
from handoff.config import TierConfig
from handoff.identity import Identity
from handoff.merges import ClientAudit, MergeCause, MergeRefused, merge_profiles
from handoff.profiles import (
    PROFILE_FIELDS,
    ClientChanges,
    ClientProfile,
    ClientUpsert,
    Note,
    Visit,
    load_profile,
)
from handoff.tables import client_identities, client_notes, client_visits, clients

__all__ = [
    "ClientAudit",
    "ClientChanges",
    "ClientConflict",
    "ClientNotFound",
    "ClientProfile",
    "ClientStore",
    "ClientUpsert",
    "MergeRefused",
    "Note",
    "Visit",
]


class ClientNotFound(ConciergeError):
    """No client with that id."""


class ClientConflict(ConciergeError):
    """A change that would give a client another client's external id."""


def _now() -> datetime:
    return datetime.now(UTC)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ClientStore:
    """Client profiles in SQL (the event store's database: SQLite by default, PostgreSQL by URL)."""

    def __init__(
        self,
        engine: AsyncEngine,
        tiers: TierConfig | None = None,
        *,
        today: Callable[[], date] = date.today,
        audit: ClientAudit | None = None,
    ) -> None:
        self.engine = engine
        self.tiers = tiers or TierConfig()
        self.today = today
        self.audit = audit

    @classmethod
    def from_url(
        cls,
        url: str,
        tiers: TierConfig | None = None,
        *,
        schema: str | None = None,
        audit: ClientAudit | None = None,
    ) -> ClientStore:
        """A store with its own engine; usually share the event store's: ``ClientStore(store.engine)``.

        The tables come from the Alembic revisions (``EventStore.migrate()``).
        """
        return cls(create_engine(url, schema=schema, pool_pre_ping=True), tiers, audit=audit)

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()

    # ---- reads ---------------------------------------------------------------------
    async def get(self, client_id: str, as_of: date | None = None) -> ClientProfile:
        """The client's profile (a merged-away id resolves to the survivor)."""
        async with self.engine.connect() as conn:
            return await load_profile(
                conn, await self._resolve(conn, client_id), as_of or self.today(), self.tiers
            )

    async def find(self, identity: Identity, as_of: date | None = None) -> ClientProfile | None:
        """The client with this identity, if any."""
        async with self.engine.connect() as conn:
            client_id = await self._owner(conn, identity)
            return (
                await load_profile(conn, client_id, as_of or self.today(), self.tiers) if client_id else None
            )

    async def lookup(self, data: ClientUpsert) -> str | None:
        """The client an upsert of ``data`` would update (None: it would create one)."""
        async with self.engine.connect() as conn:
            owners = await self._owners(conn, data)
        return owners[0] if owners else None

    async def has_any(self) -> bool:
        """Whether the store holds any client at all (e.g. to import the shipped CSV once)."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(clients.c.id).limit(1))).first() is not None

    async def list_ids(self) -> list[str]:
        """Ids of all live (not merged-away) clients, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(clients.c.id)
                .where(clients.c.merged_into.is_(None))
                .order_by(clients.c.created_at, clients.c.id)
            )
            return [r.id for r in rows]

    async def search(self, query: str = "", *, limit: int = 50, offset: int = 0) -> tuple[list[str], int]:
        """Ids of live clients whose name, external id or any identity contains ``query``
        (case-insensitive; all clients when empty), by name; and how many match in all."""
        condition: ColumnElement[bool] = clients.c.merged_into.is_(None)
        words = query.strip().lower().split()
        for word in words:
            pattern = f"%{_escape_like(word)}%"
            holders = select(client_identities.c.client_id).where(
                func.lower(client_identities.c.value).like(pattern, escape="\\")
            )
            condition &= or_(
                func.lower(clients.c.first_name).like(pattern, escape="\\"),
                func.lower(clients.c.last_name).like(pattern, escape="\\"),
                func.lower(func.coalesce(clients.c.external_id, "")).like(pattern, escape="\\"),
                clients.c.id.in_(holders),
            )
        async with self.engine.connect() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(clients).where(condition))
            ).scalar_one()
            rows = await conn.execute(
                select(clients.c.id)
                .where(condition)
                .order_by(clients.c.last_name, clients.c.first_name, clients.c.created_at, clients.c.id)
                .limit(limit)
                .offset(offset)
            )
            return [r.id for r in rows], int(total)

    # ---- writes ----------------------------------------------------------------------
    async def identify(
        self,
        identities: Sequence[Identity],
        *,
        actor: str = "bot",
        context: str | None = None,
        **fields: object,
    ) -> ClientProfile:
        """The one client behind ``identities``: created if none is known, merged if several are.

        Only for identities a channel *proved* (:mod:`handoff.recognition` passes nothing
        else): a merge here is a proven one, audited as ``actor`` with ``context`` (the
        channel). ``fields`` (e.g. ``first_name`` from a Telegram profile) fill gaps but
        never overwrite.
        """
        if not identities:
            raise ConciergeError("identify needs at least one identity")
        data = ClientUpsert(identities=list(identities))
        async with self.engine.begin() as conn:
            why = MergeCause(actor, "proven identities", context)
            client_id = await self._upsert(conn, data, fill_only=fields, why=why)
        return await self.get(client_id)

    async def upsert(self, data: ClientUpsert, *, actor: str = "system") -> ClientProfile:
        """Create or update a client from ``data`` (see :class:`ClientUpsert`)."""
        return (await self.upsert_reporting(data, actor=actor))[0]

    async def upsert_reporting(
        self, data: ClientUpsert, *, actor: str = "system"
    ) -> tuple[ClientProfile, bool]:
        """:meth:`upsert`, and whether it created the client (in the same transaction)."""
        async with self.engine.begin() as conn:
            created = not await self._owners(conn, data)
            client_id = await self._upsert(conn, data, fill_only={}, why=MergeCause(actor, "upsert"))
        return await self.get(client_id), created

    async def update(self, client_id: str, changes: ClientChanges) -> ClientProfile:
        """Change a known client's fields; a field given as None is cleared (a name becomes "").

        Unlike :meth:`upsert`, which only sets what it is given, this is an editor's change
        of one profile: the tier override or the named concierge can be taken away.
        ``preferences``, when given, replace the stored ones as a whole.
        """
        values = changes.model_dump(exclude_unset=True)
        for name in ("first_name", "last_name"):
            if name in values and values[name] is None:
                values[name] = ""
        if "preferences" in values:
            values["preferences"] = values["preferences"] or {}
        try:
            async with self.engine.begin() as conn:
                client_id = await self._resolve(conn, client_id)
                if values:
                    values["updated_at"] = _now()
                    await conn.execute(update(clients).where(clients.c.id == client_id).values(**values))
        except IntegrityError:
            raise ClientConflict(
                f"another client has the external id {values.get('external_id')!r}"
            ) from None
        return await self.get(client_id)

    async def link(self, client_id: str, identity: Identity, *, actor: str = "system") -> ClientProfile:
        """Attach an identity to a client; if another client owns it, the two are merged (audited)."""
        async with self.engine.begin() as conn:
            survivor = await self._attach(
                conn, await self._resolve(conn, client_id), identity, MergeCause(actor, "link")
            )
        return await self.get(survivor)

    async def merge(self, first_id: str, second_id: str, *, actor: str = "system") -> ClientProfile:
        """Merge two clients into the older one (audited); returns the survivor's profile."""
        async with self.engine.begin() as conn:
            survivor = await self._merge(
                conn,
                await self._resolve(conn, first_id),
                await self._resolve(conn, second_id),
                MergeCause(actor, "merge"),
            )
        return await self.get(survivor)

    async def add_visit(self, client_id: str, visit: Visit) -> None:
        """Record a visit (idempotent for an identical visit on the same day)."""
        async with self.engine.begin() as conn:
            await self._add_visits(conn, await self._resolve(conn, client_id), [visit])

    async def add_note(self, client_id: str, author: str, text: str) -> None:
        """Add an internal note."""
        async with self.engine.begin() as conn:
            await conn.execute(
                client_notes.insert().values(
                    client_id=await self._resolve(conn, client_id),
                    author=author,
                    text=text,
                    created_at=_now(),
                )
            )

    # ---- internals -------------------------------------------------------------------
    async def _resolve(self, conn: AsyncConnection, client_id: str) -> str:
        seen: set[str] = set()
        current = client_id
        while True:
            row = (await conn.execute(select(clients.c.merged_into).where(clients.c.id == current))).first()
            if row is None:
                raise ClientNotFound(f"no client {client_id!r}")
            if row.merged_into is None or current in seen:
                return current
            seen.add(current)
            current = row.merged_into

    async def _owner(self, conn: AsyncConnection, identity: Identity) -> str | None:
        row = (
            await conn.execute(
                select(client_identities.c.client_id).where(
                    client_identities.c.kind == identity.kind, client_identities.c.value == identity.value
                )
            )
        ).first()
        return await self._resolve(conn, row.client_id) if row else None

    async def _owners(self, conn: AsyncConnection, data: ClientUpsert) -> list[str]:
        """The live clients ``data`` points at: by external id first, then by each identity."""
        return list(await self._owners_by(conn, data))

    async def _owners_by(self, conn: AsyncConnection, data: ClientUpsert) -> dict[str, str]:
        """:meth:`_owners`, each with what led to it (``external_id`` or an identity's kind)."""
        owners: dict[str, str] = {}
        if data.external_id:
            row = (
                await conn.execute(select(clients.c.id).where(clients.c.external_id == data.external_id))
            ).first()
            if row:
                owners[await self._resolve(conn, row.id)] = "external_id"
        for identity in data.identities:
            owner = await self._owner(conn, identity)
            if owner and owner not in owners:
                owners[owner] = identity.kind
        return owners

    async def _upsert(
        self, conn: AsyncConnection, data: ClientUpsert, fill_only: dict[str, object], why: MergeCause
    ) -> str:
        owners = await self._owners_by(conn, data)
        if owners:
            client_id, *others = owners
            for other in others:
                client_id = await self._merge(
                    conn, client_id, other, replace(why, identity_kind=owners[other])
                )
        else:
            client_id = uuid.uuid4().hex
            now = _now()
            await conn.execute(
                clients.insert().values(
                    id=client_id,
                    external_id=data.external_id,
                    first_name="",
                    last_name="",
                    preferences={},
                    created_at=now,
                    updated_at=now,
                )
            )
        await self._apply_fields(conn, client_id, data, fill_only)
        for identity in data.identities:
            client_id = await self._attach(conn, client_id, identity, why)
        await self._add_visits(conn, client_id, data.visits)
        for text in data.notes:
            await conn.execute(
                client_notes.insert().values(
                    client_id=client_id, author="import", text=text, created_at=_now()
                )
            )
        return client_id

    async def _apply_fields(
        self, conn: AsyncConnection, client_id: str, data: ClientUpsert, fill_only: dict[str, object]
    ) -> None:
        row = (await conn.execute(select(clients).where(clients.c.id == client_id))).one()
        names = PROFILE_FIELDS
        given = {n: getattr(data, n) for n in names if getattr(data, n) is not None}
        # Another system's record of a person we know (matched by identity, different
        # external id) fills gaps only: it must not rename or re-key the profile.
        same_record = data.external_id is None or row.external_id in (None, data.external_id)
        if same_record:
            values: dict[str, object] = dict(given)
        else:
            values = {n: v for n, v in given.items() if n != "external_id" and not getattr(row, n)}
        for name, value in fill_only.items():
            if name in names and value and not getattr(row, name):
                values[name] = value
        if data.preferences is not None:
            stored = row.preferences or {}
            values["preferences"] = (
                {**stored, **data.preferences} if same_record else {**data.preferences, **stored}
            )
        if values:
            values["updated_at"] = _now()
            await conn.execute(update(clients).where(clients.c.id == client_id).values(**values))

    async def _attach(
        self, conn: AsyncConnection, client_id: str, identity: Identity, why: MergeCause
    ) -> str:
        owner = await self._owner(conn, identity)
        if owner == client_id:
            return client_id
        if owner is not None:
            return await self._merge(conn, client_id, owner, why.naming(identity))
        await conn.execute(
            client_identities.insert().values(
                client_id=client_id, kind=identity.kind, value=identity.value, created_at=_now()
            )
        )
        return client_id

    async def _merge(self, conn: AsyncConnection, first: str, second: str, why: MergeCause) -> str:
        return await merge_profiles(conn, first, second, why, self.audit)

    async def _add_visits(self, conn: AsyncConnection, client_id: str, visits: Sequence[Visit]) -> None:
        for visit in visits:
            minor = round(visit.amount * 100)
            exists = (
                await conn.execute(
                    select(client_visits.c.id).where(
                        client_visits.c.client_id == client_id,
                        client_visits.c.visited_on == visit.visited_on,
                        client_visits.c.category == visit.category,
                        client_visits.c.service == visit.service,
                        client_visits.c.amount_minor == minor,
                    )
                )
            ).first()
            if exists is None:
                await conn.execute(
                    client_visits.insert().values(
                        client_id=client_id,
                        visited_on=visit.visited_on,
                        category=visit.category,
                        service=visit.service,
                        location=visit.location,
                        amount_minor=minor,
                        currency=visit.currency,
                        staff=visit.staff,
                    )
                )
