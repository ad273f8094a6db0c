"""Manager analytics: ``/console/analytics`` (page) and the JSON/CSV API under ``/api/analytics``.

- ``GET /api/analytics/report?start=YYYY-MM-DD&end=YYYY-MM-DD&grouping=day|week|month&reopen_days=7``:
  outcomes, containment, durable and first-contact resolution, first human response by tier
  against its SLA (delivered replies only), CSAT by tier, sentiment, handoff reasons in words,
  and the same KPIs by period, tier, channel, language and agent (default: the last 30 days);
  ``&format=csv``: one CSV row per conversation with its facts instead;
- ``GET /api/analytics/report/{table}.csv``: one table of the report (``period``, ``tier``,
  ``channel``, ``language``, ``agent``, ``first_response``, ``reasons``, ``csat_by_tier``,
  ``outcomes``) as CSV;
- ``GET /api/analytics/conversations?...&outcome=&rated=&tier=&channel=&language=&agent=&handed_off=
  &within_sla=&first_contact=&csat=``: the conversations behind a number (drill-down), as JSON,
  or ``&format=csv`` as the per-conversation CSV;
- ``GET /api/analytics/conversations/{id}/quality``: the conversation's bot and agent replies
  scored on the eight auto-QA categories (by the LLM judge when the knowledge base has an LLM,
  the rules for whatever it does not answer: :mod:`console.services.analytics.quality_judge`);
- ``GET /api/analytics/gaps?start=...&end=...``: the knowledge gaps asked in the range.

All read from the read models (``console/services/analytics``), never whole event logs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from console.deps import ANALYTICS_ROLES, Platform, require_roles
from console.errors import error_response
from console.routes import analytics_schedule, analytics_staffing
from console.running import running_services
from console.security.models import ConsoleUser
from console.security.platform import ConsolePlatform
from console.services.analytics import (
    MAX_DAYS,
    REPORT_TABLES,
    AnalyticsReport,
    DateRange,
    FactRow,
    Grouping,
    Selection,
    compute_report,
    facts_csv,
    load_fact_rows,
    report_table_csv,
    select_rows,
)
from console.services.analytics.quality import ConversationQuality, conversation_quality, quality_table
from console.services.analytics.quality_judge import judge_from
from console.services.analytics.roi import roi_of
from console.services.analytics.settings import AnalyticsConfig, load_analytics_config
from console.web import render
from handoff.config import HandoffConfig, load_handoff_config
from handoff.outcomes import DEFAULT_REOPEN_DAYS
from knowledge.gaps import GapGroup

Manager = Annotated[ConsoleUser, Depends(require_roles(*ANALYTICS_ROLES))]
# the API also admits BI tools whose API token has ``analytics:read``
Reader = Annotated[ConsoleUser, Depends(require_roles(*ANALYTICS_ROLES, scope="analytics:read"))]
DEFAULT_DAYS = 30
# dates a report may name: far enough apart for any real range, and never so far that
# "29 days before" or a timestamp falls off the calendar (a 500 for year 1)
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)
ReopenDays = Annotated[
    int, Query(ge=0, le=90, description="a client returning within this many days deducts a resolution")
]


def handoff_config(request: Request) -> HandoffConfig:
    """The running handoff configuration, else the project's ``handoff.yml`` (or defaults)."""
    services = running_services(request)
    if services is not None and services.handoff is not None:
        return services.handoff.config
    path = request.app.state.settings.project_dir / "handoff.yml"
    return load_handoff_config(path if path.is_file() else None)


def analytics_config(request: Request) -> AnalyticsConfig:
    """The ``analytics:`` section of the project's ``handoff.yml`` (defaults without one)."""
    return load_analytics_config(request.app.state.settings.project_dir / "handoff.yml")


def date_range(
    start: Annotated[
        dt.date | None,
        Query(ge=FIRST_DAY, le=LAST_DAY, description="first day (UTC), default 29 days before end"),
    ] = None,
    end: Annotated[
        dt.date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="last day (UTC), default today")
    ] = None,
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


async def conversations_of(
    request: Request, platform: ConsolePlatform, period: DateRange, reopen_days: int
) -> list[FactRow]:
    """The range's conversations classified with the running configuration."""
    return await load_fact_rows(
        platform.store,
        period,
        handoff_config(request),
        reopen_days=reopen_days,
        business_hours=analytics_config(request).business_hours,
    )


def _csv(text: str, period: DateRange, what: str = "conversations") -> Response:
    name = f"{what}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def router() -> APIRouter:
    """The analytics routes."""
    routes = APIRouter()
    routes.include_router(analytics_schedule.router())
    routes.include_router(analytics_staffing.router(handoff_config))

    @routes.get("/console/analytics", response_class=HTMLResponse, include_in_schema=False)
    async def analytics_page(request: Request, user: Manager) -> HTMLResponse:
        return render(request, "analytics.html", {}, user=user, section="analytics")

    @routes.get(
        "/api/analytics/report",
        response_model=AnalyticsReport,
        responses={200: {"content": {"text/csv": {}}, "description": "the report (format=csv: the CSV)"}},
    )
    async def report(
        request: Request,
        _: Reader,
        platform: Platform,
        period: Period,
        grouping: Grouping = "day",
        reopen_days: ReopenDays = DEFAULT_REOPEN_DAYS,
        format: Literal["json", "csv"] = "json",
    ) -> object:
        if isinstance(period, str):
            return error_response(422, "invalid_request", period)
        config = handoff_config(request)
        rows = await conversations_of(request, platform, period, reopen_days)
        if format == "csv":
            return _csv(facts_csv(rows), period)
        settings = analytics_config(request)
        report = compute_report(rows, period, config, grouping=grouping, reopen_days=reopen_days)
        return report.model_copy(
            update={
                "roi": roi_of(report, settings.roi),
                "business_hours": settings.business_hours,
                "quality": await quality_table(platform.store, period),
            }
        )

    @routes.get(
        "/api/analytics/report/{table}.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "one table of the report"}},
    )
    async def report_table(
        request: Request,
        _: Reader,
        platform: Platform,
        period: Period,
        table: Literal[REPORT_TABLES],  # type: ignore[valid-type]
        grouping: Grouping = "day",
        reopen_days: ReopenDays = DEFAULT_REOPEN_DAYS,
    ) -> Response:
        if isinstance(period, str):
            return error_response(422, "invalid_request", period)
        config = handoff_config(request)
        rows = await conversations_of(request, platform, period, reopen_days)
        report = compute_report(rows, period, config, grouping=grouping, reopen_days=reopen_days)
        if table == "quality":
            report.quality = await quality_table(platform.store, period)
        return _csv(report_table_csv(report, table), period, f"{table.replace('_', '-')}")

    @routes.get(
        "/api/analytics/conversations",
        response_model=list[FactRow],
        responses={200: {"content": {"text/csv": {}}, "description": "the rows (format=csv: CSV)"}},
    )
    async def conversations(
        request: Request,
        _: Reader,
        platform: Platform,
        period: Period,
        selection: Annotated[Selection, Query()],
        reopen_days: ReopenDays = DEFAULT_REOPEN_DAYS,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        format: Literal["json", "csv"] = "json",
    ) -> object:
        if isinstance(period, str):
            return error_response(422, "invalid_request", period)
        rows = await conversations_of(request, platform, period, reopen_days)
        wanted = select_rows(rows, selection)
        if format == "csv":  # the whole selection, not a page of it
            return _csv(facts_csv(wanted), period)
        return wanted[:limit]

    @routes.get("/api/analytics/conversations/{conversation_id}/quality", response_model=ConversationQuality)
    async def quality(
        request: Request,
        _: Reader,
        platform: Platform,
        conversation_id: Annotated[str, Path(max_length=255)],
    ) -> object:
        services = running_services(request)
        judge = judge_from(services.knowledge if services is not None else None)  # None: the rules
        scored = await conversation_quality(platform.store, conversation_id, judge)
        if scored is None:
            return error_response(404, "not_found", "no such conversation")
        return scored

    @routes.get("/api/analytics/gaps", response_model=list[GapGroup])
    async def gaps(
        request: Request,
        _: Reader,
        period: Period,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> object:
        if isinstance(period, str):
            return error_response(422, "invalid_request", period)
        services = running_services(request)
        log = services.knowledge.gaps if services is not None and services.knowledge is not None else None
        if log is None:
            return []
        since = dt.datetime.fromtimestamp(period.start_ts, dt.UTC)
        until = dt.datetime.fromtimestamp(period.end_ts, dt.UTC)
        return await log.report(since=since, until=until, limit=limit)

    return routes
