"""Next week's forecast and staffing beside the roster (managers):
``GET /api/analytics/staffing`` -> :class:`StaffingForecast` (volume by hour of week, the
backtest error, agents needed per hour per tier by Erlang C with chat concurrency, and the
roster's size)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from console.deps import ANALYTICS_ROLES, Platform, require_roles
from console.security.models import ConsoleUser
from console.services.analytics.forecast import RosterSummary, StaffingForecast, staffing_forecast
from console.services.analytics.settings import load_analytics_config
from handoff.agents import load_agents
from handoff.config import HandoffConfig

Manager = Annotated[ConsoleUser, Depends(require_roles(*ANALYTICS_ROLES))]


def router(handoff_config: Callable[[Request], HandoffConfig]) -> APIRouter:
    """The staffing route; ``handoff_config`` reads the running handoff configuration."""
    routes = APIRouter()

    @routes.get("/api/analytics/staffing", response_model=StaffingForecast)
    async def staffing(request: Request, _: Manager, platform: Platform) -> StaffingForecast:
        config = handoff_config(request)
        project = request.app.state.settings.project_dir
        analytics = load_analytics_config(project / "handoff.yml")
        agents_file = project / config.agents_file
        roster = None
        if agents_file.is_file():
            profiles = load_agents(agents_file).agents
            roster = RosterSummary(agents=len(profiles), chat_slots=sum(a.max_chats for a in profiles))
        return await staffing_forecast(platform.store, config, analytics.staffing, roster=roster)

    return routes
