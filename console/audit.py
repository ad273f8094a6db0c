"""The audit log: who did what to what, and when. Every console mutation writes one entry.

Routes call ``await record(request, user, "user.create", "user:anna", {"role": "agent"})``;
the CLI and start-up code pass the app (or the platform) and an actor name such as
``"cli"`` or ``"system"``. Entries are append-only; managers and admins read them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.requests import HTTPConnection

from console.security.models import ConsoleUser
from console.tables import audit

MAX_TARGET = 200


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
    """The ``console_audit`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(
        self,
        actor: ConsoleUser | str,
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
        actor: ConsoleUser | str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> None:
        """Append one entry on ``conn``, inside the caller's transaction: the client store
        writes a merge's entry this way, so the merge and its entry commit together."""
        if isinstance(actor, ConsoleUser):
            name, role = actor.username, ("token" if actor.is_token else actor.role)
        else:
            name, role = str(actor), None
        await conn.execute(
            audit.insert().values(
                at=at or dt.datetime.now(dt.UTC),
                actor=name[:64],
                actor_role=role,
                action=action[:64],
                target=target[:MAX_TARGET],
                detail=detail or {},
            )
        )

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


async def record(
    request_or_app: Any,
    actor: ConsoleUser | str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write an audit entry through the app's console platform.

    ``request_or_app`` is a request / WebSocket (routes), the FastAPI app, or the
    :class:`~console.security.platform.ConsolePlatform` itself (CLI, start-up).
    """
    from console.security.platform import ConsolePlatform

    if isinstance(request_or_app, ConsolePlatform):
        platform = request_or_app
    else:
        app = request_or_app.app if isinstance(request_or_app, HTTPConnection) else request_or_app
        platform = app.state.console
    await (await platform.ready()).audit.record(actor, action, target, detail)
