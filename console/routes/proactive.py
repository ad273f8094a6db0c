"""Proactive messages waiting for an agent's approval (VIP outreach): ``/console/proactive``
(page) and the API, for agents, managers and admins.

``GET /api/proactive/approvals`` the waiting messages, soonest first, with the text the
client would read; ``POST /api/proactive/approvals/{id}/approve`` schedules one (it goes
out at its time, within quiet hours, opt-outs and the WhatsApp window), ``.../reject``
cancels it. Each decision is audited (``proactive.approve`` / ``proactive.reject``) in the
transaction that makes it; 409 when the message is not waiting any more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from bot.channels.service_window import fill
from console.deps import WORKSPACE_ROLES, ServicesDep, require_roles
from console.routes.fields import RowId
from console.running import AppServices
from console.security.models import ConsoleUser
from console.web import render
from proactive.config import load_config
from proactive.schedule import Approvals

Agent = Annotated[ConsoleUser, Depends(require_roles(*WORKSPACE_ROLES))]


class ApprovalView(BaseModel):
    """One message waiting for approval, as the page lists it."""

    id: int
    kind: str
    conversation_id: str
    client_id: str | None
    due_at: datetime
    text: str


class Decision(BaseModel):
    """What became of a message an agent decided on."""

    id: int
    kind: str
    state: str


def _approvals(services: AppServices | None) -> Approvals:
    if services is None:
        raise HTTPException(409, detail={"message": "the bot is not running; nothing is scheduled"})
    return Approvals(services.engine.store.engine)


def router() -> APIRouter:
    """The proactive approval routes."""
    routes = APIRouter()

    @routes.get("/console/proactive", response_class=HTMLResponse, include_in_schema=False)
    async def proactive_page(request: Request, user: Agent) -> HTMLResponse:
        return render(request, "proactive.html", {}, user=user, section="proactive")

    @routes.get("/api/proactive/approvals", response_model=list[ApprovalView])
    async def waiting(request: Request, _: Agent, services: ServicesDep) -> list[ApprovalView]:
        config = load_config(request.app.state.settings.project_dir)
        rows = await _approvals(services).waiting()
        views = []
        for row in rows:
            kind = config.kind(row["kind"])
            pattern = kind.messages.get(row["language"] or "en") or kind.messages.get("en", "")
            text = fill(pattern, {str(k): str(v) for k, v in (row["params"] or {}).items()})
            fields = {k: row[k] for k in ApprovalView.model_fields if k != "text"}
            views.append(ApprovalView(text=text, **fields))
        return views

    async def decide(user: ConsoleUser, services: AppServices | None, row_id: int, approve: bool) -> Decision:
        decided = await _approvals(services).decide(row_id, approve, by=user.username, role=user.role)
        if decided is None:
            message = f"proactive message {row_id} is not waiting for approval"
            raise HTTPException(409, detail={"message": message})
        return Decision(**decided)

    @routes.post("/api/proactive/approvals/{row_id}/approve", response_model=Decision)
    async def approve(user: Agent, services: ServicesDep, row_id: RowId) -> Decision:
        return await decide(user, services, row_id, True)

    @routes.post("/api/proactive/approvals/{row_id}/reject", response_model=Decision)
    async def reject(user: Agent, services: ServicesDep, row_id: RowId) -> Decision:
        return await decide(user, services, row_id, False)

    return routes
