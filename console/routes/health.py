"""``GET /health``: the state of every component, for operators and load balancers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.channels.base import ChannelAdapter, MessageHandler
from bot.channels.outbox import Outbox
from bot.models import ComponentHealth

log = logging.getLogger(__name__)


class HealthReport(BaseModel):
    """``ok`` when every component is ``ok``; otherwise ``degraded``, with each one's detail."""

    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]


async def collect_health(
    handler: MessageHandler,
    channels: dict[str, ChannelAdapter],
    outbox: Outbox | None = None,
    disabled: Mapping[str, str] | None = None,
) -> HealthReport:
    """The engine's components, one ``channel:<name>`` entry per mounted channel (last inbound,
    last send, errors, outbox backlog), the outbox itself, and channels listed but off."""
    try:
        components = dict(await handler.health())
    except Exception as exc:  # a health check must answer even when the engine cannot
        log.exception("engine health check failed")
        components = {"engine": ComponentHealth(status="down", detail=type(exc).__name__)}
    if outbox is not None:
        try:
            backlog = await outbox.refresh_backlog()
            waiting = sum(n for counts in backlog.values() for s, n in counts.items() if s != "failed")
            failed = sum(counts.get("failed", 0) for counts in backlog.values())
            components["outbox"] = ComponentHealth(status="ok", detail=f"{waiting} waiting, {failed} failed")
        except Exception as exc:
            log.exception("outbox health check failed")
            components["outbox"] = ComponentHealth(status="degraded", detail=type(exc).__name__)
    for name, adapter in channels.items():
        components[f"channel:{name}"] = adapter.health()
    for name, reason in (disabled or {}).items():
        components[f"channel:{name}"] = ComponentHealth(status="ok", detail=f"off: {reason}")
    healthy = all(c.status == "ok" for c in components.values())
    status: Literal["ok", "degraded"] = "ok" if healthy else "degraded"
    return HealthReport(status=status, components=components)


def router() -> APIRouter:
    """The health route; answers 503 when a component is down, so balancers stop sending traffic."""
    routes = APIRouter()

    @routes.get("/health", response_model=HealthReport)
    async def health(request: Request) -> JSONResponse:
        state = request.app.state
        report = await collect_health(
            state.handler,
            state.channels,
            getattr(state, "outbox", None),
            getattr(state, "disabled_channels", None),
        )
        down = any(c.status == "down" for c in report.components.values())
        return JSONResponse(report.model_dump(mode="json"), status_code=503 if down else 200)

    return routes
