"""The agent workspace: ``/console/workspace`` (page) and ``/api/workspace/...`` (JSON API).

Agents, managers and admins only (``WORKSPACE_ROLES``); managers and admins may also assign
and take over conversations other agents hold (see :mod:`console.services.workspace.access`).
Every change is CSRF-checked (the app's security middleware) and audited. The live socket
is in :mod:`console.routes.workspace_live`.

API (``{cid}`` is a conversation id such as ``widget:abc``):

- ``GET /api/workspace/me``, ``GET /api/workspace/queue``, ``GET /api/workspace/agents``
- ``POST /api/workspace/presence`` ``{"status": "online" | "away" | "offline"}``
- ``GET /api/workspace/conversations/{cid}`` (transcript, packet, client card, routing, CSAT),
  ``.../lines?after_seq=N``, ``.../suggestions?q=...``, ``.../canned``
- ``POST /api/workspace/conversations/{cid}/claim`` ``{"agent_id"?}``, ``.../transfer``
  ``{"reason", "to_agent"?}``, ``.../resolve`` and ``.../return`` ``{"reason"?, "ask_csat"}``,
  ``.../reply`` ``{"text"}``, ``.../notes`` ``{"text", "to_client"}``
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from console.audit import record
from console.deps import WORKSPACE_ROLES, require_roles
from console.errors import error_response
from console.routes.workspace_live import get_workspace, live_router
from console.security.models import ConsoleUser
from console.services.workspace import Workspace, WorkspaceError
from console.services.workspace.access import actor_id, can_assign
from console.services.workspace.canned import RenderedReply
from console.services.workspace.models import (
    ActionResult,
    AgentView,
    ClaimRequest,
    CloseRequest,
    ConversationView,
    MeView,
    NoteRequest,
    PresenceRequest,
    QueueView,
    ReplyRequest,
    SuggestionsView,
    TransferRequest,
    WorkspaceLine,
)
from console.web import render
from handoff.state import IllegalTransition

WorkspaceUser = Annotated[ConsoleUser, Depends(require_roles(*WORKSPACE_ROLES))]
# reads other systems may make with an API token holding ``conversations:read``
WorkspaceReader = Annotated[ConsoleUser, Depends(require_roles(*WORKSPACE_ROLES, scope="conversations:read"))]
WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
Conversation = Annotated[str, "a conversation id"]


def _problem(exc: WorkspaceError | IllegalTransition) -> JSONResponse:
    if isinstance(exc, IllegalTransition):  # the move lost to another one (re-checked after a conflict)
        detail = {"status": str(exc.current), "holder": exc.holder}
        return error_response(
            409, "conflict", f"Someone changed this conversation meanwhile: {exc}", detail=detail
        )
    return error_response(exc.status, exc.code, str(exc), detail=exc.detail)


async def me_view(workspace: Workspace, user: ConsoleUser) -> MeView:
    """The signed-in user with their agent status."""
    status = await workspace.runtime.roster.status(user.agent_id) if user.agent_id else None
    return MeView(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        agent_id=user.agent_id,
        actor_id=actor_id(user),
        status=status,
        can_assign=can_assign(user),
    )


def router() -> APIRouter:
    """The workspace's page and JSON routes (the socket's router is included too)."""
    routes = APIRouter()

    @routes.get("/console/workspace", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request, user: WorkspaceUser) -> HTMLResponse:
        return render(
            request, "workspace.html", {"can_assign": can_assign(user)}, user=user, section="workspace"
        )

    @routes.get("/api/workspace/me", response_model=MeView)
    async def me(user: WorkspaceUser, workspace: WorkspaceDep) -> MeView:
        return await me_view(workspace, user)

    @routes.get("/api/workspace/queue", response_model=QueueView)
    async def queue(_: WorkspaceReader, workspace: WorkspaceDep) -> QueueView:
        return await workspace.queue.build()

    @routes.get("/api/workspace/agents", response_model=list[AgentView])
    async def agents(_: WorkspaceUser, workspace: WorkspaceDep) -> list[AgentView]:
        return [
            AgentView(
                id=a.profile.id,
                name=a.profile.name,
                status=a.status,
                active_chats=a.active_chats,
                max_chats=a.profile.max_chats,
                languages=a.profile.languages,
                skills=a.profile.skills,
            )
            for a in await workspace.runtime.roster.states()
        ]

    @routes.post("/api/workspace/presence", response_model=MeView)
    async def presence(
        body: PresenceRequest, request: Request, user: WorkspaceUser, workspace: WorkspaceDep
    ) -> Response | MeView:
        try:
            await workspace.actions.set_presence(user, body.status)
        except WorkspaceError as exc:
            return _problem(exc)
        workspace.hub.poke()
        await record(request, user, "workspace.presence", f"agent:{user.agent_id}", {"status": body.status})
        return await me_view(workspace, user)

    @routes.get("/api/workspace/conversations/{conversation_id}", response_model=ConversationView)
    async def conversation(
        conversation_id: Conversation, user: WorkspaceReader, workspace: WorkspaceDep
    ) -> Response | ConversationView:
        try:
            return await workspace.views.conversation(conversation_id, user)
        except WorkspaceError as exc:
            return _problem(exc)

    @routes.get("/api/workspace/conversations/{conversation_id}/lines", response_model=list[WorkspaceLine])
    async def lines(
        conversation_id: Conversation,
        _: WorkspaceReader,
        workspace: WorkspaceDep,
        after_seq: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    ) -> list[WorkspaceLine]:
        return await workspace.views.lines(conversation_id, after_seq)

    @routes.get("/api/workspace/conversations/{conversation_id}/suggestions", response_model=SuggestionsView)
    async def suggestions(
        conversation_id: Conversation,
        _: WorkspaceUser,
        workspace: WorkspaceDep,
        q: Annotated[str | None, Query(max_length=500)] = None,
    ) -> Response | SuggestionsView:
        try:
            return await workspace.views.suggestions(conversation_id, q)
        except WorkspaceError as exc:
            return _problem(exc)

    @routes.get("/api/workspace/conversations/{conversation_id}/canned", response_model=list[RenderedReply])
    async def canned(
        conversation_id: Conversation, user: WorkspaceUser, workspace: WorkspaceDep
    ) -> Response | list[RenderedReply]:
        try:
            return await workspace.views.canned_replies(conversation_id, user)
        except WorkspaceError as exc:
            return _problem(exc)

    async def done(
        workspace: Workspace, conversation_id: str, user: ConsoleUser, **extra: object
    ) -> ActionResult:
        workspace.hub.poke()
        view = await workspace.views.conversation(conversation_id, user)
        return ActionResult(conversation=view, **extra)  # type: ignore[arg-type]

    @routes.post("/api/workspace/conversations/{conversation_id}/claim", response_model=ActionResult)
    async def claim(
        conversation_id: Conversation,
        body: ClaimRequest,
        request: Request,
        user: WorkspaceUser,
        workspace: WorkspaceDep,
    ) -> Response | ActionResult:
        try:
            agent = await workspace.actions.claim(conversation_id, user, body.agent_id)
        except (WorkspaceError, IllegalTransition) as exc:
            return _problem(exc)
        action = "workspace.claim" if agent == actor_id(user) else "workspace.assign"
        await record(request, user, action, f"conversation:{conversation_id}", {"agent_id": agent})
        return await done(workspace, conversation_id, user)

    @routes.post("/api/workspace/conversations/{conversation_id}/transfer", response_model=ActionResult)
    async def transfer(
        conversation_id: Conversation,
        body: TransferRequest,
        request: Request,
        user: WorkspaceUser,
        workspace: WorkspaceDep,
    ) -> Response | ActionResult:
        try:
            overridden = await workspace.actions.transfer(
                conversation_id, user, body.reason, body.to_agent, override=body.override
            )
        except (WorkspaceError, IllegalTransition) as exc:
            return _problem(exc)
        detail = {"to_agent": body.to_agent, "reason": body.reason, "overridden": overridden}
        await record(request, user, "workspace.transfer", f"conversation:{conversation_id}", detail)
        return await done(workspace, conversation_id, user, note=overridden)

    @routes.post("/api/workspace/conversations/{conversation_id}/resolve", response_model=ActionResult)
    async def resolve(
        conversation_id: Conversation,
        body: CloseRequest,
        request: Request,
        user: WorkspaceUser,
        workspace: WorkspaceDep,
    ) -> Response | ActionResult:
        try:
            csat = await workspace.actions.resolve(conversation_id, user, body.reason, body.ask_csat)
        except (WorkspaceError, IllegalTransition) as exc:
            return _problem(exc)
        detail = {"reason": body.reason, "csat_asked": csat is not None}
        await record(request, user, "workspace.resolve", f"conversation:{conversation_id}", detail)
        return await done(workspace, conversation_id, user, csat_asked=csat is not None, delivery=csat)

    @routes.post("/api/workspace/conversations/{conversation_id}/return", response_model=ActionResult)
    async def return_to_bot(
        conversation_id: Conversation,
        body: CloseRequest,
        request: Request,
        user: WorkspaceUser,
        workspace: WorkspaceDep,
    ) -> Response | ActionResult:
        try:
            csat = await workspace.actions.return_to_bot(conversation_id, user, body.reason, body.ask_csat)
        except (WorkspaceError, IllegalTransition) as exc:
            return _problem(exc)
        detail = {"reason": body.reason, "csat_asked": csat is not None}
        await record(request, user, "workspace.return", f"conversation:{conversation_id}", detail)
        return await done(workspace, conversation_id, user, csat_asked=csat is not None, delivery=csat)

    @routes.post("/api/workspace/conversations/{conversation_id}/reply", response_model=ActionResult)
    async def reply(
        conversation_id: Conversation,
        body: ReplyRequest,
        request: Request,
        user: WorkspaceUser,
        workspace: WorkspaceDep,
    ) -> Response | ActionResult:
        text = body.text.strip()
        if not text:
            return error_response(422, "invalid_request", "text: the reply is empty")
        try:
            delivery = await workspace.actions.reply(conversation_id, user, text)
        except WorkspaceError as exc:
            return _problem(exc)
        # the audit keeps who wrote and whether it arrived, never the client-facing text
        detail = {"seq": delivery.seq, "delivered": delivery.delivered, "error": delivery.error_kind}
        await record(request, user, "workspace.reply", f"conversation:{conversation_id}", detail)
        return await done(workspace, conversation_id, user, delivery=delivery)

    @routes.post("/api/workspace/conversations/{conversation_id}/notes", response_model=ActionResult)
    async def note(
        conversation_id: Conversation,
        body: NoteRequest,
        request: Request,
        user: WorkspaceUser,
        workspace: WorkspaceDep,
    ) -> Response | ActionResult:
        text = body.text.strip()
        if not text:
            return error_response(422, "invalid_request", "text: the note is empty")
        try:
            kept = await workspace.actions.note(conversation_id, user, text, body.to_client)
        except WorkspaceError as exc:
            return _problem(exc)
        await record(request, user, "workspace.note", f"conversation:{conversation_id}", {"to_client": kept})
        return await done(workspace, conversation_id, user)

    routes.include_router(live_router())
    return routes
