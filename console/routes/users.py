"""User management, admins only: ``/console/users`` (page) and ``/api/users`` (list, create,
change role or name, disable, reset password). Every change is audited. The page also
manages API tokens for other systems (:mod:`console.routes.tokens`).

An admin cannot disable themselves or take away their own admin role (so the console
always keeps someone who can manage it). Disabling a user or resetting their password
ends their sessions.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from console.audit import record
from console.deps import ADMIN_ROLES, ROLES, Platform, require_roles
from console.errors import error_response
from console.routes import tokens
from console.routes.fields import RowId, not_null
from console.security.accounts import AccountError, UserExists, UserNotFound
from console.security.models import USERNAME_PATTERN, ConsoleUser, Role, UserRecord
from console.security.passwords import MAX_LENGTH, WeakPassword, check_strength
from console.security.platform import ConsolePlatform
from console.security.tokens import MAX_EXPIRES_DAYS, SCOPES
from console.web import render

Admin = Annotated[ConsoleUser, Depends(require_roles(*ADMIN_ROLES))]


class UserCreate(BaseModel):
    """A new console account."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN)
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    agent_id: str | None = Field(default=None, max_length=64, description="data/agents.yml id of an agent")
    password: str = Field(max_length=MAX_LENGTH)


class UserUpdate(BaseModel):
    """Changes to an account; fields left out stay as they are (``agent_id: null`` unlinks the
    agent profile; the other fields cannot be null)."""

    model_config = ConfigDict(extra="forbid")
    display_name: str = not_null(min_length=1, max_length=100)
    role: Role = not_null()
    agent_id: str | None = Field(default=None, max_length=64)
    disabled: bool = not_null()


class PasswordReset(BaseModel):
    """A new password set by an admin."""

    password: str = Field(max_length=MAX_LENGTH)


class UserPublic(BaseModel):
    """An account as the console shows it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    agent_id: str | None
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


def _public(record_: UserRecord) -> UserPublic:
    return UserPublic(**record_.model_dump())


def known_agent_ids(platform: ConsolePlatform) -> set[str] | None:
    """The agent ids in the project's ``data/agents.yml``; None when there is no such file."""
    from handoff.agents import load_agents

    path = platform.settings.project_dir / "data" / "agents.yml"
    return {a.id for a in load_agents(path).agents} if path.is_file() else None


def _check_agent(platform: ConsolePlatform, agent_id: str | None) -> str | None:
    """An error message when ``agent_id`` is not an agent of this project."""
    known = known_agent_ids(platform)
    if agent_id and known is not None and agent_id not in known:
        return f"no agent {agent_id!r} in data/agents.yml"
    return None


def _account_error(exc: AccountError) -> Response:
    if isinstance(exc, UserExists):
        return error_response(409, "conflict", str(exc))
    if isinstance(exc, UserNotFound):
        return error_response(404, "not_found", str(exc))
    return error_response(422, "invalid_request", str(exc))


def router() -> APIRouter:
    """The user management routes."""
    routes = APIRouter()

    @routes.get("/console/users", response_class=HTMLResponse, include_in_schema=False)
    async def users_page(request: Request, user: Admin, platform: Platform) -> HTMLResponse:
        return render(
            request,
            "users.html",
            {
                "roles": ROLES,
                "agent_ids": sorted(known_agent_ids(platform) or []),
                "scopes": SCOPES,
                "max_expires_days": MAX_EXPIRES_DAYS,
            },
            user=user,
            section="users",
        )

    @routes.get("/api/users", response_model=list[UserPublic])
    async def list_users(_: Admin, platform: Platform) -> list[UserPublic]:
        return [_public(u) for u in await platform.accounts.list()]

    @routes.post("/api/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
    async def create_user(body: UserCreate, request: Request, admin: Admin, platform: Platform) -> Response:
        problem = _check_agent(platform, body.agent_id)
        try:
            check_strength(body.password)
        except WeakPassword as exc:
            problem = str(exc)
        if problem:
            return error_response(422, "invalid_request", problem)
        try:
            created = await platform.accounts.create(
                body.username,
                display_name=body.display_name,
                role=body.role,
                agent_id=body.agent_id,
                password_hash=await platform.passwords.hash(body.password),
            )
        except AccountError as exc:
            return _account_error(exc)
        await record(
            request,
            admin,
            "user.create",
            f"user:{created.username}",
            {"role": created.role, "agent_id": created.agent_id},
        )
        return Response(_public(created).model_dump_json(), status_code=201, media_type="application/json")

    @routes.patch("/api/users/{user_id}", response_model=UserPublic)
    async def update_user(
        user_id: RowId, body: UserUpdate, request: Request, admin: Admin, platform: Platform
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        if user_id == admin.id and (changes.get("disabled") or changes.get("role", "admin") != "admin"):
            return error_response(
                409, "conflict", "You cannot disable your own account or remove your own admin role."
            )
        if "agent_id" in changes and (problem := _check_agent(platform, changes["agent_id"])):
            return error_response(422, "invalid_request", problem)
        try:
            before = await platform.accounts.get(user_id)
            if before is None:
                raise UserNotFound(f"no user with id {user_id}")
            updated = await platform.accounts.update(user_id, **changes)
        except AccountError as exc:
            return _account_error(exc)
        if updated.disabled:
            await platform.sessions.end_all(user_id)
        detail = {
            k: {"from": getattr(before, k), "to": v} for k, v in changes.items() if getattr(before, k) != v
        }
        action = "user.disable" if changes.get("disabled") and not before.disabled else "user.update"
        await record(request, admin, action, f"user:{updated.username}", detail)
        return Response(_public(updated).model_dump_json(), media_type="application/json")

    @routes.post("/api/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
    async def reset_password(
        user_id: RowId, body: PasswordReset, request: Request, admin: Admin, platform: Platform
    ) -> Response:
        try:
            check_strength(body.password)
        except WeakPassword as exc:
            return error_response(422, "invalid_request", str(exc))
        target = await platform.accounts.get(user_id)
        if target is None:
            return error_response(404, "not_found", f"no user with id {user_id}")
        await platform.accounts.set_password_hash(user_id, await platform.passwords.hash(body.password))
        ended = await platform.sessions.end_all(user_id)
        await record(
            request, admin, "user.password_reset", f"user:{target.username}", {"sessions_ended": ended}
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    routes.include_router(tokens.router())  # API tokens: their section is on the users page
    return routes
