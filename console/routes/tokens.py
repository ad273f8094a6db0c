"""API tokens for other systems, admins only: ``/api/tokens`` (list, create, revoke).

The page section lives on ``/console/users`` (:mod:`console.routes.users` includes this
router). A new token's secret is in the answer to its ``POST`` and nowhere else, ever:
the list shows each token's hint (its first characters), scopes, state and last use.
Creating and revoking are audited (never with the secret); a token's refused uses are
audited by :mod:`console.deps`.

- ``GET /api/tokens``: every token, newest first, with its state (active, expired, revoked);
- ``POST /api/tokens`` ``{"name", "scopes", "expires_days"}``: 201 with the token itself;
- ``DELETE /api/tokens/{token_id}``: revoke at once (the row stays, for the audit trail);
  404 unknown, 409 already revoked.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from console.audit import record
from console.deps import ADMIN_ROLES, Platform, require_roles
from console.errors import error_response
from console.security.models import ConsoleUser
from console.security.tokens import (
    MAX_EXPIRES_DAYS,
    NAME_PATTERN,
    SCOPES,
    Scope,
    TokenAlreadyRevoked,
    TokenError,
    TokenNotFound,
    TokenRecord,
    TokenState,
)

Admin = Annotated[ConsoleUser, Depends(require_roles(*ADMIN_ROLES))]
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the token's id")]
DEFAULT_EXPIRES_DAYS = 90


class TokenCreate(BaseModel):
    """A new API token: who it is for, what it may do, and for how long."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN, description="the system it is for, e.g. 'salon'")
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    expires_days: int = Field(default=DEFAULT_EXPIRES_DAYS, ge=1, le=MAX_EXPIRES_DAYS)


class TokenPublic(BaseModel):
    """A token as the console lists it: never the secret, which is not stored."""

    id: int
    name: str
    hint: str = Field(description="the token's first characters, to tell tokens apart")
    scopes: list[Scope]
    state: TokenState
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    last_used_at: dt.datetime | None


class TokenCreated(TokenPublic):
    """A token just made, with its secret: shown this once, never again."""

    token: str = Field(description="send it as 'Authorization: Bearer <token>'; it is not kept")


def public(token: TokenRecord) -> TokenPublic:
    """The list form of a stored token."""
    return TokenPublic(**token.model_dump(), state=token.state())


def router() -> APIRouter:
    """The API token routes."""
    routes = APIRouter()

    @routes.get("/api/tokens", response_model=list[TokenPublic])
    async def list_tokens(_: Admin, platform: Platform) -> list[TokenPublic]:
        return [public(t) for t in await platform.tokens.list()]

    @routes.post("/api/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
    async def create_token(body: TokenCreate, request: Request, admin: Admin, platform: Platform) -> Response:
        try:
            token, secret = await platform.tokens.create(
                body.name,
                body.scopes,
                expires_in=dt.timedelta(days=body.expires_days),
                created_by=admin.username,
            )
        except TokenError as exc:
            return error_response(422, "invalid_request", str(exc))
        await record(
            request,
            admin,
            "token.create",
            f"token:{token.id}",
            {"name": token.name, "scopes": token.scopes, "expires_at": token.expires_at.isoformat()},
        )
        created = TokenCreated(**public(token).model_dump(), token=secret)
        return Response(created.model_dump_json(), status_code=201, media_type="application/json")

    @routes.delete("/api/tokens/{token_id}", response_model=TokenPublic)
    async def revoke_token(token_id: TokenId, request: Request, admin: Admin, platform: Platform) -> Response:
        try:
            token = await platform.tokens.revoke(token_id, admin.username)
        except TokenNotFound as exc:
            return error_response(404, "not_found", str(exc))
        except TokenAlreadyRevoked as exc:
            return error_response(409, "conflict", str(exc))
        await record(request, admin, "token.revoke", f"token:{token.id}", {"name": token.name})
        return Response(public(token).model_dump_json(), media_type="application/json")

    return routes
