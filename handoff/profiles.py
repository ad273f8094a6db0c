"""What an agent's client card shows: the profile read model and its pydantic types.

The store (:mod:`handoff.clients`) writes identities, visits and notes; this module
reads them back into a :class:`ClientProfile` with the tier and milestones computed
for a given day, so nothing derived is ever stored.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from handoff.config import Tier, TierConfig
from handoff.identity import Identity
from handoff.tables import client_identities, client_notes, client_visits, clients
from handoff.tiers import Milestone, compute_tier, upcoming_milestones

RECENT_VISITS = 10

#: the profile's own fields (everything but identities, visits, notes and preferences)
PROFILE_FIELDS = (
    "external_id",
    "first_name",
    "last_name",
    "language",
    "birthday",
    "membership",
    "tier_override",
    "concierge_agent_id",
    "home_location",
)


class Visit(BaseModel):
    """One past visit: when, what (service category and name), where, how much."""

    visited_on: date
    category: str
    service: str = ""
    location: str | None = None
    amount: float = Field(default=0.0, ge=0, description="in ``currency`` major units")
    currency: str = "PLN"
    staff: str | None = None


class Note(BaseModel):
    """An internal note about a client (never shown to the client)."""

    author: str
    text: str
    created_at: datetime


class ClientUpsert(BaseModel):
    """Fields to create or update a client; ``None`` leaves a stored value as it is.

    The client is found by ``external_id`` first, then by any of ``identities``. When
    the identities lead to a client that carries a different ``external_id`` (the same
    person in another system), the data only fills gaps in that profile.
    ``visits`` already stored (same day, category, service and amount) are not repeated.
    """

    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    birthday: date | None = None
    membership: str | None = None
    tier_override: Tier | None = None
    concierge_agent_id: str | None = None
    home_location: str | None = None
    preferences: dict[str, str] | None = None
    identities: list[Identity] = Field(default_factory=list)
    visits: list[Visit] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class ClientChanges(BaseModel):
    """An editor's change to one client's fields: only the fields given change, and a field
    given as ``null`` is cleared (see :meth:`handoff.clients.ClientStore.update`)."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(default=None, max_length=64)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=8)
    birthday: date | None = None
    membership: str | None = Field(default=None, max_length=32)
    tier_override: Tier | None = None
    concierge_agent_id: str | None = Field(default=None, max_length=64)
    home_location: str | None = Field(default=None, max_length=64)
    preferences: dict[str, str] | None = None


class ClientProfile(BaseModel):
    """Everything an agent's client card shows, with the tier computed for ``as_of``."""

    id: str
    external_id: str | None
    first_name: str
    last_name: str
    language: str | None
    birthday: date | None
    membership: str | None
    tier: Tier
    tier_reason: str
    tier_override: Tier | None
    concierge_agent_id: str | None
    home_location: str | None
    preferences: dict[str, str]
    identities: list[Identity]
    recent_visits: list[Visit]
    visit_count: int
    visits_12m: int
    spend_12m: float
    first_visit: date | None
    notes: list[Note]
    milestones: list[Milestone]
    as_of: date

    @property
    def display_name(self) -> str:
        """First and last name, or the first identity when the client is nameless."""
        name = f"{self.first_name} {self.last_name}".strip()
        return name or (str(self.identities[0]) if self.identities else self.id)


async def load_profile(
    conn: AsyncConnection, client_id: str, as_of: date, tiers: TierConfig
) -> ClientProfile:
    """Read a client's profile, computing tier and milestones for ``as_of``."""
    row = (await conn.execute(select(clients).where(clients.c.id == client_id))).one()
    identities = [
        Identity(kind=r.kind, value=r.value)
        for r in await conn.execute(
            select(client_identities)
            .where(client_identities.c.client_id == client_id)
            .order_by(client_identities.c.id)
        )
    ]
    since = as_of - timedelta(days=365)
    window = (
        (client_visits.c.client_id == client_id)
        & (client_visits.c.visited_on > since)
        & (client_visits.c.visited_on <= as_of)
    )
    visits_12m, spend_minor = (
        await conn.execute(
            select(
                func.count(client_visits.c.id), func.coalesce(func.sum(client_visits.c.amount_minor), 0)
            ).where(window)
        )
    ).one()
    total, first_visit = (
        await conn.execute(
            select(func.count(client_visits.c.id), func.min(client_visits.c.visited_on)).where(
                client_visits.c.client_id == client_id
            )
        )
    ).one()
    recent = [
        Visit(
            visited_on=v.visited_on,
            category=v.category,
            service=v.service,
            location=v.location,
            amount=v.amount_minor / 100,
            currency=v.currency,
            staff=v.staff,
        )
        for v in await conn.execute(
            select(client_visits)
            .where(client_visits.c.client_id == client_id)
            .order_by(client_visits.c.visited_on.desc(), client_visits.c.id.desc())
            .limit(RECENT_VISITS)
        )
    ]
    notes = [
        Note(author=n.author, text=n.text, created_at=n.created_at)
        for n in await conn.execute(
            select(client_notes).where(client_notes.c.client_id == client_id).order_by(client_notes.c.id)
        )
    ]
    spend = int(spend_minor) / 100
    decision = compute_tier(
        spend_12m=spend,
        visits_12m=int(visits_12m),
        membership=row.membership,
        override=row.tier_override,
        config=tiers,
    )
    if isinstance(first_visit, str):  # SQLite's MIN() over a Date column returns text
        first_visit = date.fromisoformat(first_visit)
    return ClientProfile(
        id=row.id,
        external_id=row.external_id,
        first_name=row.first_name,
        last_name=row.last_name,
        language=row.language,
        birthday=row.birthday,
        membership=row.membership,
        tier=decision.tier,
        tier_reason=decision.reason,
        tier_override=row.tier_override,
        concierge_agent_id=row.concierge_agent_id,
        home_location=row.home_location,
        preferences=dict(row.preferences or {}),
        identities=identities,
        recent_visits=recent,
        visit_count=int(total),
        visits_12m=int(visits_12m),
        spend_12m=spend,
        first_visit=first_visit,
        notes=notes,
        milestones=upcoming_milestones(
            today=as_of, birthday=row.birthday, first_visit=first_visit, visit_count=int(total)
        ),
        as_of=as_of,
    )
