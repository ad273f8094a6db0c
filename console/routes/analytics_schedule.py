"""Scheduled analytics reports' API (managers): who gets the daily or weekly e-mail.

- ``GET /api/analytics/subscriptions``: every subscription with its last period sent;
- ``POST /api/analytics/subscriptions`` ``{"email", "frequency": "daily"|"weekly"}``;
- ``DELETE /api/analytics/subscriptions/{id}``.

Changes are audited (the frequency, never the address). The sending itself is
:class:`console.services.analytics.scheduled.ReportScheduler`, run by every serving process
under one cross-process lease.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import Response

from console.audit import record
from console.deps import ANALYTICS_ROLES, Platform, require_roles
from console.errors import error_response
from console.security.models import ConsoleUser
from console.services.analytics.scheduled import Subscription, SubscriptionCreate, SubscriptionRepository

Manager = Annotated[ConsoleUser, Depends(require_roles(*ANALYTICS_ROLES))]
SubscriptionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def router() -> APIRouter:
    """The subscription routes."""
    routes = APIRouter()

    @routes.get("/api/analytics/subscriptions", response_model=list[Subscription])
    async def list_subscriptions(_: Manager, platform: Platform) -> list[Subscription]:
        return await SubscriptionRepository(platform.store).all()

    @routes.post(
        "/api/analytics/subscriptions", response_model=Subscription, status_code=status.HTTP_201_CREATED
    )
    async def subscribe(
        body: SubscriptionCreate, request: Request, manager: Manager, platform: Platform
    ) -> Response:
        made = await SubscriptionRepository(platform.store).add(
            body, manager.username, dt.datetime.now(dt.UTC)
        )
        if isinstance(made, str):
            return error_response(409, "conflict", made)
        await record(
            request, manager, "analytics.subscribe", f"subscription:{made.id}", {"frequency": made.frequency}
        )
        return Response(made.model_dump_json(), status_code=201, media_type="application/json")

    @routes.delete("/api/analytics/subscriptions/{subscription_id}", response_model=Subscription)
    async def unsubscribe(
        subscription_id: SubscriptionId, request: Request, manager: Manager, platform: Platform
    ) -> Response:
        removed = await SubscriptionRepository(platform.store).remove(subscription_id)
        if removed is None:
            return error_response(404, "not_found", f"no subscription {subscription_id}")
        await record(
            request,
            manager,
            "analytics.unsubscribe",
            f"subscription:{removed.id}",
            {"frequency": removed.frequency},
        )
        return Response(removed.model_dump_json(), media_type="application/json")

    return routes
