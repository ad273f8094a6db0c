"""``GET /metrics``: Prometheus text exposition (``console/services/operations.py``).

Protected like the rest of the API, not left open: an admin's session, or an API token
with the ``metrics:read`` scope (Prometheus sends it with ``authorization: credentials:``).
Figures hold no personal data: channels, tiers, reason codes and counts only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from console.deps import Platform, ServicesDep, require_roles
from console.routes.analytics import handoff_config
from console.security.models import ConsoleUser
from console.services.operations import TurnMetrics, database_families, exposition

Scraper = Annotated[ConsoleUser, Depends(require_roles("admin", scope="metrics:read"))]


def router() -> APIRouter:
    """The metrics route."""
    routes = APIRouter()

    @routes.get("/metrics", response_class=Response, include_in_schema=False)
    async def metrics(request: Request, _: Scraper, platform: Platform, services: ServicesDep) -> Response:
        turns = getattr(request.app.state, "turn_metrics", None)
        # SLA clocks run on the handoff's clock, as the queue's countdowns do
        now = services.handoff.clock() if services is not None and services.handoff is not None else None
        families = await database_families(platform.store, handoff_config(request), now=now)
        body = exposition(turns if isinstance(turns, TurnMetrics) else None, families)
        return Response(content=body, media_type=CONTENT_TYPE_LATEST)

    return routes
