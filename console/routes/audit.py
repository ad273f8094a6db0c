"""The audit log, for managers and admins: ``/console/audit`` (page) and ``GET /api/audit``.

Filters: ``actor`` (username), ``action`` (exact, or a prefix like ``user.*``), ``target``
(contains), ``since`` / ``until`` (ISO date or date-time, UTC when no zone is given).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from console.audit import AuditEntry, AuditFilter
from console.deps import AUDIT_ROLES, Platform, require_roles
from console.routes.fields import Offset
from console.security.models import ConsoleUser
from console.web import render

Reader = Annotated[ConsoleUser, Depends(require_roles(*AUDIT_ROLES))]
# the API also admits systems (a SIEM) whose API token has ``audit:read``
ApiReader = Annotated[ConsoleUser, Depends(require_roles(*AUDIT_ROLES, scope="audit:read"))]


class AuditPage(BaseModel):
    """One page of audit entries, newest first, and how many match in all."""

    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def router() -> APIRouter:
    """The audit log routes."""
    routes = APIRouter()

    @routes.get("/console/audit", response_class=HTMLResponse, include_in_schema=False)
    async def audit_page(request: Request, user: Reader) -> HTMLResponse:
        return render(request, "audit.html", {}, user=user, section="audit")

    @routes.get("/api/audit", response_model=AuditPage)
    async def list_audit(
        _: ApiReader,
        platform: Platform,
        actor: Annotated[str | None, Query(max_length=64)] = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
        target: Annotated[str | None, Query(max_length=200)] = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> AuditPage:
        query = AuditFilter(
            actor=actor or None,
            action=action or None,
            target=target or None,
            since=_utc(since),
            until=_utc(until),
            limit=limit,
            offset=offset,
        )
        entries, total = await platform.audit.entries(query)
        return AuditPage(entries=entries, total=total, limit=limit, offset=offset)

    return routes
