"""Privacy over HTTP, for admins: a client's data as a JSON archive, and erasure.

- ``GET /api/privacy/clients/{client}/export``: everything held about the client (profiles,
  conversations with events and inbound journal, outbox, knowledge gaps, files in base64,
  audit entries about them, read-model rows) as one JSON document
  (``format: concierge.privacy.export/1``), served as a download that is never cached.
- ``POST /api/privacy/clients/{client}/erase`` with ``{"confirm": "<client>"}`` (the same
  text as in the path, so a stray request cannot erase): erases it all in one transaction;
  answers what was removed per kind.

``{client}`` is a client id, a phone number (any notation, URL-encoded), an e-mail address
or a conversation id. Both are audited (``privacy.export``, ``privacy.erase``) with the
client id as target, never the phone or e-mail. 404 when nothing is held about it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from console.deps import ADMIN_ROLES, get_platform, require_roles
from console.errors import error_response
from console.running import running_services
from console.security.models import ConsoleUser
from privacy.service import ErasureReport, PrivacyService
from privacy.subject import SubjectNotFound

Admin = Annotated[ConsoleUser, Depends(require_roles(*ADMIN_ROLES))]
ClientRef = Annotated[str, Path(min_length=1, max_length=320, description="client id, phone, e-mail")]


class EraseRequest(BaseModel):
    """Confirmation of an erase: repeat the client reference of the path."""

    model_config = ConfigDict(extra="forbid")
    confirm: str = Field(min_length=1, max_length=320)


async def get_privacy(request: Request) -> PrivacyService:
    """The app's privacy service on the console's database (built on first use)."""
    service: PrivacyService | None = getattr(request.app.state, "privacy", None)
    if service is None:
        platform = await get_platform(request)
        service = PrivacyService.for_settings(request.app.state.settings, platform.store.engine)
        request.app.state.privacy = service
    return service


Privacy = Annotated[PrivacyService, Depends(get_privacy)]


def _forget_profiles(request: Request) -> None:
    """Drop the running bot's cached profiles, so an erased client is not greeted from memory."""
    services = running_services(request)
    if services is not None and services.handoff is not None:
        services.handoff.recognition.forget()


def router() -> APIRouter:
    """The privacy routes (admins only)."""
    routes = APIRouter()

    @routes.get("/api/privacy/clients/{client}/export")
    async def export(client: ClientRef, user: Admin, privacy: Privacy) -> Response:
        """A machine-readable archive of everything held about ``client``."""
        try:
            archive: dict[str, Any] = await privacy.export(client, actor=user.username, actor_role=user.role)
        except SubjectNotFound as exc:
            return error_response(404, "not_found", str(exc))
        name = archive["subject"]["client_id"] or "sender"
        return JSONResponse(
            archive,
            headers={
                "Content-Disposition": f'attachment; filename="privacy-export-{name}.json"',
                "Cache-Control": "no-store",
            },
        )

    @routes.post("/api/privacy/clients/{client}/erase", response_model=ErasureReport)
    async def erase(
        client: ClientRef, body: EraseRequest, request: Request, user: Admin, privacy: Privacy
    ) -> Response:
        """Erase everything held about ``client``; the body must repeat ``client``."""
        if body.confirm != client:
            return error_response(422, "invalid_request", "confirm must repeat the client of the path")
        try:
            report = await privacy.erase(client, actor=user.username, actor_role=user.role)
        except SubjectNotFound as exc:
            return error_response(404, "not_found", str(exc))
        _forget_profiles(request)
        return JSONResponse(report.model_dump(mode="json"), headers={"Cache-Control": "no-store"})

    return routes
