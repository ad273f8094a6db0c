"""The audit log: who did what to what, and when; a store of its own below every package
that writes or reads it.

The console writes an entry for every mutation and shows them to managers and admins;
the CLI and start-up code write as ``"cli"`` or ``"system"``; handoff audits client merges
(in the merge's transaction, :meth:`AuditLog.write`); privacy audits its runs
(:func:`write_entry`), scrubs entries on erase and deletes them after their retention
(its ``AuditEraser`` works on :data:`audit`). Entries are append-only for everyone else.

The table keeps its first name, ``console_audit`` (Alembic revision ``0005_console``
created it); it lives on its own :data:`METADATA`, which ``bot/migrations/env.py`` lists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import Column, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.tables import NAMING_CONVENTION, BigIntId, JSONType, UTCDateTime

METADATA = MetaData(naming_convention=NAMING_CONVENTION)

audit = Table(
    "console_audit",
    METADATA,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("actor", String(64), nullable=False, index=True),
    Column("actor_role", String(16), nullable=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(200), nullable=False),
    Column("detail", JSONType, nullable=False, default=dict),
    # whom the entry is about (client:<id> or conversation:<id>, from the target; revision 0015),
    # so an erase reads only its subject's entries
    Column("subject", String(200), nullable=True, index=True),
)


class Actor(Protocol):
    """Who acted, when it is a signed-in person or an API token (the console's user)."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def is_token(self) -> bool: ...


MAX_TARGET = 200
#: targets that name a data subject (a client, or a conversation and so its client)
SUBJECT_KINDS = ("client:", "conversation:")


def subject_of(target: str) -> str | None:
    """Whom an entry with ``target`` is about: the target itself when it names a client or a
    conversation (``client:<id>``, ``conversation:<id>``), else None (users, tokens, articles)."""
    return target if target.startswith(SUBJECT_KINDS) else None


class AuditEntry(BaseModel):
    """One audit log entry as the console shows it."""

    id: int
    at: dt.datetime
    actor: str
    actor_role: str | None
    action: str
    target: str
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditFilter(BaseModel):
    """Which entries to list: by actor, action (exact or ``prefix.*``), target text and time."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=2**31 - 1)


class AuditLog:
    """Writer and reader of the audit table (the console's pages, the CLI, handoff's client
    merges, automation and privacy runs all write here)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(
        self,
        actor: Actor | str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> None:
        """Append one entry; ``actor`` is the signed-in user, a token's caller, or a name like ``"cli"``."""
        async with self.engine.begin() as conn:
            await self.write(conn, actor, action, target, detail, at=at)

    async def write(
        self,
        conn: AsyncConnection,
        actor: Actor | str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> None:
        """Append one entry on ``conn``, inside the caller's transaction: the client store
        writes a merge's entry this way, so the merge and its entry commit together."""
        if isinstance(actor, str):
            name, role = actor, None
        else:
            name, role = actor.username, ("token" if actor.is_token else actor.role)
        await write_entry(conn, at or dt.datetime.now(dt.UTC), name, role, action, target, detail or {})

    async def entries(self, query: AuditFilter) -> tuple[list[AuditEntry], int]:
        """Entries matching ``query``, newest first, and how many match in all."""
        conditions = []
        if query.actor:
            conditions.append(audit.c.actor == query.actor.strip().lower())
        if query.action:
            if query.action.endswith(".*"):
                conditions.append(audit.c.action.startswith(query.action[:-1], autoescape=True))
            else:
                conditions.append(audit.c.action == query.action)
        if query.target:
            conditions.append(audit.c.target.contains(query.target, autoescape=True))
        if query.since:
            conditions.append(audit.c.at >= query.since)
        if query.until:
            conditions.append(audit.c.at < query.until)
        stmt = (
            select(audit)
            .where(*conditions)
            .order_by(audit.c.at.desc(), audit.c.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
            total = (
                await conn.execute(select(func.count()).select_from(audit).where(*conditions))
            ).scalar_one()
        return [AuditEntry.model_validate(dict(row)) for row in rows], int(total)


async def write_entry(
    conn: AsyncConnection,
    at: dt.datetime,
    actor: str,
    role: str | None,
    action: str,
    target: str,
    detail: dict[str, Any],
) -> None:
    """Insert one entry on ``conn``, inside the caller's transaction, cut to the column sizes;
    its ``subject`` comes from the target (:func:`subject_of`)."""
    await conn.execute(
        audit.insert().values(
            at=at,
            actor=actor[:64],
            actor_role=role,
            action=action[:64],
            target=target[:MAX_TARGET],
            detail=detail,
            subject=subject_of(target[:MAX_TARGET]),
        )
    )
