"""Manager analytics: ``/console/analytics`` (page) and the JSON API under ``/api/analytics``.

- ``GET /api/analytics/report?start=YYYY-MM-DD&end=YYYY-MM-DD``: containment, first response
  by tier against its SLA, CSAT and handoff reasons (default: the last 30 days);
- ``GET /api/analytics/gaps?start=...``: the knowledge gaps asked since ``start``.

All computed from the event log on request (``console/services/analytics.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from console.deps import ANALYTICS_ROLES, Platform, require_roles
from console.errors import error_response
from console.security.models import ConsoleUser
from console.services.analytics import MAX_DAYS, AnalyticsReport, DateRange, analytics_report
from console.web import render
from handoff.config import HandoffConfig, load_handoff_config
from knowledge.gaps import GapGroup

Manager = Annotated[ConsoleUser, Depends(require_roles(*ANALYTICS_ROLES))]
# the API also admits BI tools whose API token has ``analytics:read``
Reader = Annotated[ConsoleUser, Depends(require_roles(*ANALYTICS_ROLES, scope="analytics:read"))]
DEFAULT_DAYS = 30


def handoff_config(request: Request) -> HandoffConfig:
    """The running handoff configuration, else the project's ``handoff.yml`` (or defaults)."""
    engine = getattr(request.app.state.handler, "engine", None)
    runtime = getattr(engine, "handoff", None)
    config = getattr(runtime, "config", None)
    if isinstance(config, HandoffConfig):
        return config
    path = request.app.state.settings.project_dir / "handoff.yml"
    return load_handoff_config(path if path.is_file() else None)


def date_range(
    start: Annotated[dt.date | None, Query(description="first day (UTC), default 29 days before end")] = None,
    end: Annotated[dt.date | None, Query(description="last day (UTC), default today")] = None,
) -> DateRange | str:
    """The requested range, or a message saying what is wrong with it."""
    end = end or dt.datetime.now(dt.UTC).date()
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        return "start must not be after end"
    if (end - start).days + 1 > MAX_DAYS:
        return f"a range may span at most {MAX_DAYS} days"
    return DateRange(start=start, end=end)


Period = Annotated[DateRange | str, Depends(date_range)]


def router() -> APIRouter:
    """The analytics routes."""
    routes = APIRouter()

    @routes.get("/console/analytics", response_class=HTMLResponse, include_in_schema=False)
    async def analytics_page(request: Request, user: Manager) -> HTMLResponse:
        return render(request, "analytics.html", {}, user=user, section="analytics")

    @routes.get("/api/analytics/report", response_model=AnalyticsReport)
    async def report(request: Request, _: Reader, platform: Platform, period: Period) -> object:
        if isinstance(period, str):
            return error_response(422, "invalid_request", period)
        return await analytics_report(platform.store, period, handoff_config(request))

    @routes.get("/api/analytics/gaps", response_model=list[GapGroup])
    async def gaps(
        request: Request,
        _: Reader,
        period: Period,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> object:
        if isinstance(period, str):
            return error_response(422, "invalid_request", period)
        engine = getattr(request.app.state.handler, "engine", None)
        log = getattr(getattr(engine, "knowledge", None), "gaps", None)
        if log is None:
            return []
        days = max(1, (dt.datetime.now(dt.UTC).date() - period.start).days + 1)
        return await log.report(days=days, limit=limit)

    return routes
