"""``GET /health``: the state of every component, for operators and load balancers."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.channels.base import ChannelAdapter, MessageHandler
from bot.models import ComponentHealth

log = logging.getLogger(__name__)


class HealthReport(BaseModel):
    """``ok`` when every component is ``ok``; otherwise ``degraded``, with each one's detail."""

    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]


async def collect_health(handler: MessageHandler, channels: dict[str, ChannelAdapter]) -> HealthReport:
    """The engine's components plus one ``channel:<name>`` entry per mounted channel."""
    try:
        components = dict(await handler.health())
    except Exception as exc:  # a health check must answer even when the engine cannot
        log.exception("engine health check failed")
        components = {"engine": ComponentHealth(status="down", detail=type(exc).__name__)}
    for name, adapter in channels.items():
        components[f"channel:{name}"] = adapter.health()
    healthy = all(c.status == "ok" for c in components.values())
    status: Literal["ok", "degraded"] = "ok" if healthy else "degraded"
    return HealthReport(status=status, components=components)


def router() -> APIRouter:
    """The health route; answers 503 when a component is down, so balancers stop sending traffic."""
    routes = APIRouter()

    @routes.get("/health", response_model=HealthReport)
    async def health(request: Request) -> JSONResponse:
        report = await collect_health(request.app.state.handler, request.app.state.channels)
        down = any(c.status == "down" for c in report.components.values())
        return JSONResponse(report.model_dump(mode="json"), status_code=503 if down else 200)

    return routes
