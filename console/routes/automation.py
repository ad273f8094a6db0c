"""Automation rules, for managers and admins: ``/console/automation`` (page) and the API.

``GET /api/automation/rules`` the rule set in force (YAML and version); ``PUT`` saves a
new version (validated first: 422 lists every problem; 409 when someone saved since the
editor loaded ``base_version``; audited as ``automation.rules.save``);
``GET /api/automation/versions`` the history; ``POST /api/automation/dry-run`` counts how
often each rule (the saved set, or the YAML given) would have fired on past conversations;
``GET /api/automation/firings`` the latest firings.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from automation.dry_run import DryRunReport
from automation.repository import RulesVersion, VersionConflict
from automation.rules import MAX_SOURCE, RulesInvalid, parse_rules
from automation.service import dry_run_for
from automation.tables import automation_firings
from bot.redact import conversation_ref
from console.deps import AUDIT_ROLES, Platform, ServicesDep, require_roles
from console.running import AppServices
from console.security.models import ConsoleUser
from console.services.automation import rules_repository
from console.web import render

Manager = Annotated[ConsoleUser, Depends(require_roles(*AUDIT_ROLES))]
DAY = 86_400.0


class RulesSave(BaseModel):
    """A new version of the rules."""

    source: str = Field(min_length=1, max_length=MAX_SOURCE)
    base_version: int = Field(ge=0)
    comment: str | None = Field(default=None, max_length=200)


class DryRunRequest(BaseModel):
    """What to dry-run: the YAML given (or the rules in force), over the last ``days``."""

    source: str | None = Field(default=None, max_length=MAX_SOURCE)
    days: int = Field(default=30, ge=1, le=3650)


class FiringView(BaseModel):
    """One firing as the page lists it."""

    rule_id: str
    conversation: str
    trigger: str
    seq: int
    rules_version: int
    fired_at: float
    status: str
    results: list[dict[str, Any]]


def _running(services: AppServices | None) -> AppServices:
    if services is None or services.handoff is None:
        raise HTTPException(409, detail={"message": "the bot is not running with handoff; no rules to run"})
    return services


def _invalid(exc: RulesInvalid) -> HTTPException:
    return HTTPException(422, detail={"message": "the rules do not validate", "problems": exc.problems})


def router() -> APIRouter:
    """The automation routes."""
    routes = APIRouter()

    @routes.get("/console/automation", response_class=HTMLResponse, include_in_schema=False)
    async def automation_page(request: Request, user: Manager) -> HTMLResponse:
        return render(request, "automation.html", {}, user=user, section="automation")

    @routes.get("/api/automation/rules", response_model=RulesVersion)
    async def current_rules(request: Request, _: Manager, services: ServicesDep) -> RulesVersion:
        return await rules_repository(request.app.state.settings, _running(services)).current()

    @routes.put("/api/automation/rules", response_model=RulesVersion)
    async def save_rules(
        request: Request, user: Manager, platform: Platform, services: ServicesDep, body: RulesSave
    ) -> RulesVersion:
        repository = rules_repository(request.app.state.settings, _running(services))
        try:
            return await repository.save(
                body.source,
                author=user,
                author_name=user.username,
                base=body.base_version,
                comment=body.comment,
                audit=platform.audit,
            )
        except RulesInvalid as exc:
            raise _invalid(exc) from None
        except VersionConflict as exc:
            raise HTTPException(409, detail={"message": str(exc)}) from None

    @routes.get("/api/automation/versions", response_model=list[RulesVersion])
    async def versions(request: Request, _: Manager, services: ServicesDep) -> list[RulesVersion]:
        return await rules_repository(request.app.state.settings, _running(services)).versions()

    @routes.post("/api/automation/dry-run", response_model=DryRunReport)
    async def dry_run(
        request: Request, _: Manager, services: ServicesDep, body: DryRunRequest
    ) -> DryRunReport:
        running = _running(services)
        runtime = running.handoff
        assert runtime is not None
        try:
            if body.source is not None:
                rules = parse_rules(body.source, "automation.yml (draft)")
            else:
                rules = (await rules_repository(request.app.state.settings, running).rules())[1]
        except RulesInvalid as exc:
            raise _invalid(exc) from None
        now = runtime.clock()
        return await dry_run_for(runtime.store, runtime, rules, now=now, since=now - body.days * DAY)

    @routes.get("/api/automation/firings", response_model=list[FiringView])
    async def firings(_: Manager, services: ServicesDep, limit: int = 50) -> list[FiringView]:
        runtime = _running(services).handoff
        assert runtime is not None
        engine = runtime.store.engine
        stmt = (
            select(automation_firings).order_by(automation_firings.c.id.desc()).limit(max(1, min(limit, 500)))
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            FiringView(
                rule_id=r.rule_id,
                conversation=conversation_ref(r.conversation_id),
                trigger=r.trigger,
                seq=r.seq,
                rules_version=r.rules_version,
                fired_at=r.fired_at,
                status=r.status,
                results=list(r.results),
            )
            for r in rows
        ]

    return routes
