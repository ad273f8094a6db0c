"""Client profiles over HTTP: ``/api/clients`` (search, read, upsert, change, import CSV).

Agents, managers and admins read profiles (``CLIENT_READ_ROLES``); managers and admins
change them (``CLIENT_WRITE_ROLES``), and every change is audited. Other systems call the
API with an API token: ``clients:read`` to search and read, ``clients:write`` to change.
The profiles are the running bot's (:attr:`HandoffRuntime.clients`), and a change reaches
the bot's recognition at once (its per-conversation cache is dropped), so a client made
VIP is greeted as one on their next message.

- ``GET /api/clients?q=&limit=&offset=``: live clients whose name, external id or any
  identity contains every word of ``q``, by last name; ``{"clients": [...], "total": N}``.
- ``GET /api/clients/{client_id}``: the full profile (a merged-away id gives the survivor).
- ``POST /api/clients``: upsert from a salon system or an admin. Found by ``external_id``,
  then by any identity (phone numbers in any common notation, normalised to E.164 with
  ``region`` for national numbers); several matches are merged. 201 when the client is
  new, 200 when an existing one was updated.
- ``PATCH /api/clients/{client_id}``: change fields of one client; a field sent as ``null``
  is cleared (e.g. ``{"tier_override": null}`` ends a manual VIP flag).
- ``POST /api/clients/{client_id}/identities``: attach a phone, e-mail or social id; if
  another client owns it, the two profiles are merged.
- ``POST /api/clients/import``: a clients CSV as the request body (``text/csv``, the columns
  of :mod:`handoff.client_import`); validated as a whole first, so a bad file changes
  nothing and the error names its line.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from bot.errors import FormatError
from console.audit import record
from console.deps import CLIENT_READ_ROLES, CLIENT_WRITE_ROLES, ServicesDep, Unavailable, require_roles
from console.errors import error_response
from console.routes.fields import Offset
from console.security.models import ConsoleUser
from console.web import render
from handoff.client_import import ImportReport, import_upserts, parse_clients_csv
from handoff.clients import ClientChanges, ClientConflict, ClientNotFound, ClientProfile, ClientUpsert
from handoff.config import Tier
from handoff.identity import DEFAULT_REGION, Identity, IdentityKind, InvalidIdentity
from handoff.runtime import HandoffRuntime

PageReader = Annotated[ConsoleUser, Depends(require_roles(*CLIENT_READ_ROLES))]
# the API also admits other systems (a salon system) whose API token has the scope
Reader = Annotated[ConsoleUser, Depends(require_roles(*CLIENT_READ_ROLES, scope="clients:read"))]
Writer = Annotated[ConsoleUser, Depends(require_roles(*CLIENT_WRITE_ROLES, scope="clients:write"))]
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_PAGE = 200
MAX_AMOUNT = 10_000_000  # major units: stored in minor units in a 32-bit column
MAX_NOTE = 2_000


def get_runtime(services: ServicesDep) -> HandoffRuntime:
    """Dependency: the running bot's handoff runtime (its client store); when there is none,
    a stand-in that answers 503 with the reason once the route uses it (after validation)."""
    runtime = services.handoff if services is not None else None
    if runtime is None:
        reason = "the bot is starting" if services is None else "the project has no handoff data"
        return cast(HandoffRuntime, Unavailable(f"Client profiles are not available: {reason}."))
    return runtime


Runtime = Annotated[HandoffRuntime, Depends(get_runtime)]


class IdentityIn(BaseModel):
    """A way to reach the client as written anywhere (``"601 234 567"``, ``"@ola"``)."""

    model_config = ConfigDict(extra="forbid")
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=255)


class IdentityLink(IdentityIn):
    """An identity to attach to a client."""

    region: str = Field(default=DEFAULT_REGION, min_length=2, max_length=2)


class VisitIn(BaseModel):
    """A past visit as another system sends it (bounded as the visits table stores it)."""

    model_config = ConfigDict(extra="forbid")
    visited_on: date
    category: str = Field(min_length=1, max_length=32)
    service: str = Field(default="", max_length=200)
    location: str | None = Field(default=None, max_length=64)
    amount: float = Field(default=0.0, ge=0, le=MAX_AMOUNT, description="in currency major units")
    currency: str = Field(default="PLN", pattern=r"^[A-Z]{3}$")
    staff: str | None = Field(default=None, max_length=100)


class ClientIn(BaseModel):
    """A client to create or update; fields left out (or null) keep their stored value."""

    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(default=None, max_length=64)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=8)
    birthday: date | None = None
    membership: str | None = Field(default=None, max_length=32)
    tier_override: Tier | None = None
    concierge_agent_id: str | None = Field(default=None, max_length=64)
    home_location: str | None = Field(default=None, max_length=64)
    preferences: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]] | None = (
        Field(default=None, max_length=50)
    )
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)
    visits: list[VisitIn] = Field(default_factory=list, max_length=1000)
    notes: list[Annotated[str, Field(min_length=1, max_length=MAX_NOTE)]] = Field(
        default_factory=list, max_length=50
    )
    region: str = Field(
        default=DEFAULT_REGION, min_length=2, max_length=2, description="country of national phone numbers"
    )


class ClientSummary(BaseModel):
    """One row of the client list."""

    id: str
    name: str
    external_id: str | None
    tier: Tier
    tier_reason: str
    identities: list[str]
    concierge_agent_id: str | None
    visit_count: int
    spend_12m: float


class ClientList(BaseModel):
    """A page of clients and how many match in all."""

    clients: list[ClientSummary]
    total: int


class UpsertResult(BaseModel):
    """What an upsert did."""

    created: bool
    client: ClientProfile


def summary(profile: ClientProfile) -> ClientSummary:
    """The list row of a profile."""
    return ClientSummary(
        id=profile.id,
        name=profile.display_name,
        external_id=profile.external_id,
        tier=profile.tier,
        tier_reason=profile.tier_reason,
        identities=[str(i) for i in profile.identities],
        concierge_agent_id=profile.concierge_agent_id,
        visit_count=profile.visit_count,
        spend_12m=profile.spend_12m,
    )


def _identities(items: list[IdentityIn], region: str) -> list[Identity]:
    found = []
    for index, item in enumerate(items):
        try:
            found.append(Identity.of(item.kind, item.value, region.upper()))
        except InvalidIdentity as exc:
            raise InvalidIdentity(f"identities[{index}]: {exc}") from None
    return found


def _unknown_agent(runtime: HandoffRuntime, agent_id: str | None) -> Response | None:
    if agent_id and runtime.roster.get(agent_id) is None:
        return error_response(422, "invalid_request", f"no agent {agent_id!r} in data/agents.yml")
    return None


def _json(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def router() -> APIRouter:
    """The client profile routes."""
    routes = APIRouter()

    @routes.get("/console/clients", response_class=HTMLResponse, include_in_schema=False)
    async def clients_page(request: Request, user: PageReader) -> HTMLResponse:
        return render(
            request,
            "clients.html",
            {"can_edit": user.role in CLIENT_WRITE_ROLES},
            user=user,
            section="clients",
        )

    @routes.get("/api/clients", response_model=ClientList)
    async def list_clients(
        _: Reader,
        runtime: Runtime,
        q: Annotated[str, Query(max_length=200)] = "",
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Offset = 0,
    ) -> ClientList:
        ids, total = await runtime.clients.search(q, limit=limit, offset=offset)
        return ClientList(clients=[summary(await runtime.clients.get(i)) for i in ids], total=total)

    @routes.get("/api/clients/{client_id}", response_model=ClientProfile)
    async def get_client(client_id: str, _: Reader, runtime: Runtime) -> Response:
        try:
            return _json(await runtime.clients.get(client_id))
        except ClientNotFound:
            return error_response(404, "not_found", f"no client {client_id!r}")

    @routes.post(
        "/api/clients",
        response_model=UpsertResult,
        responses={201: {"model": UpsertResult, "description": "a new client (200: one updated)"}},
    )
    async def upsert_client(body: ClientIn, request: Request, user: Writer, runtime: Runtime) -> Response:
        try:
            identities = _identities(body.identities, body.region)
        except InvalidIdentity as exc:
            return error_response(422, "invalid_request", str(exc))
        if not identities and not body.external_id:
            return error_response(
                422, "invalid_request", "Give an external_id or at least one identity to find the client by."
            )
        if problem := _unknown_agent(runtime, body.concierge_agent_id):
            return problem
        data = ClientUpsert(**body.model_dump(exclude={"identities", "region"}), identities=identities)
        profile, created = await runtime.clients.upsert_reporting(data, actor=user.username)
        runtime.recognition.forget()
        await record(
            request,
            user,
            "client.create" if created else "client.update",
            f"client:{profile.id}",
            {"fields": sorted(body.model_dump(exclude_unset=True, exclude={"region"}))},
        )
        return _json(UpsertResult(created=created, client=profile), 201 if created else 200)

    @routes.patch("/api/clients/{client_id}", response_model=ClientProfile)
    async def change_client(
        client_id: str, body: ClientChanges, request: Request, user: Writer, runtime: Runtime
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        if problem := _unknown_agent(runtime, changes.get("concierge_agent_id")):
            return problem
        try:
            before = await runtime.clients.get(client_id)
            after = await runtime.clients.update(client_id, body)
        except ClientNotFound:
            return error_response(404, "not_found", f"no client {client_id!r}")
        except ClientConflict as exc:
            return error_response(409, "conflict", str(exc))
        runtime.recognition.forget()
        detail = {
            name: {"from": _plain(getattr(before, name)), "to": _plain(getattr(after, name))}
            for name in changes
            if getattr(before, name) != getattr(after, name)
        }
        await record(request, user, "client.update", f"client:{after.id}", detail)
        return _json(after)

    @routes.post("/api/clients/{client_id}/identities", response_model=ClientProfile)
    async def link_identity(
        client_id: str, body: IdentityLink, request: Request, user: Writer, runtime: Runtime
    ) -> Response:
        try:
            identity = Identity.of(body.kind, body.value, body.region.upper())
            before = await runtime.clients.get(client_id)
            owner = await runtime.clients.find(identity)
            after = await runtime.clients.link(before.id, identity, actor=user.username)
        except InvalidIdentity as exc:
            return error_response(422, "invalid_request", str(exc))
        except ClientNotFound:
            return error_response(404, "not_found", f"no client {client_id!r}")
        runtime.recognition.forget()
        merged = owner is not None and owner.id != before.id
        await record(
            request,
            user,
            "client.link",
            f"client:{after.id}",
            {"identity": identity.kind, "merged": merged},  # never the value: personal data
        )
        return _json(after)

    @routes.post("/api/clients/import", response_model=ImportReport)
    async def import_csv(request: Request, user: Writer, runtime: Runtime) -> Response:
        raw = await request.body()
        if len(raw) > MAX_IMPORT_BYTES:
            return error_response(413, "too_large", f"The file is over {MAX_IMPORT_BYTES // 1_048_576} MB.")
        try:
            text = raw.decode("utf-8-sig")
            upserts = parse_clients_csv(text.splitlines(keepends=True), "upload")
        except UnicodeDecodeError:
            return error_response(422, "invalid_request", "The file is not UTF-8 text.")
        except FormatError as exc:
            where = f"Line {exc.line}: " if exc.line is not None else ""
            return error_response(422, "invalid_request", f"{where}{exc.reason} (nothing was imported)")
        unknown = sorted(
            {u.concierge_agent_id for u in upserts if u.concierge_agent_id} - _agent_ids(runtime)
        )
        if unknown:
            return error_response(
                422, "invalid_request", f"no agent(s) {', '.join(unknown)} in data/agents.yml"
            )
        report = await import_upserts(upserts, runtime.clients)
        runtime.recognition.forget()
        await record(
            request,
            user,
            "client.import",
            "clients",
            {"rows": report.rows, "clients": report.clients, "merged_rows": report.merged_rows},
        )
        return _json(report)

    return routes


def _agent_ids(runtime: HandoffRuntime) -> set[str]:
    return {p.id for p in runtime.roster.profiles}


def _plain(value: object) -> object:
    """A value as JSON can hold it (dates as ISO text)."""
    return value.isoformat() if isinstance(value, date) else value
