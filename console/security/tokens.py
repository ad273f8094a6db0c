"""API tokens: credentials for other systems (the salon system, BI tools), not for people.

A token is ``cct_`` followed by 256 random bits (URL-safe base64). It is shown once, when it
is made; the database keeps only its SHA-256 (a leaked table lets nobody in), its first
characters as a hint to tell tokens apart, its scopes, who made it, when it expires and,
once revoked, when and by whom. Callers send ``Authorization: Bearer <token>``.

A token carries *scopes*, never a role: each API route that systems may call names the one
scope it needs (``require_roles(..., scope="clients:write")`` in :mod:`console.deps`), and a
token reaches nothing else: no pages, no user or token management, no WebSockets. The
scopes follow the console's own resources:

- ``clients:read`` / ``clients:write``: search and read client profiles / upsert, change,
  link identities, import CSV (what agents read and managers change);
- ``conversations:read``: the queue, a conversation and its transcript lines;
- ``analytics:read``: the analytics report and gaps (what managers see);
- ``knowledge:read`` / ``knowledge:write``: the knowledge base API (read, try a question,
  golden report / create, edit, publish, unpublish, roll back);
- ``audit:read``: the audit log;
- ``metrics:read``: ``/metrics`` for a Prometheus scraper.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from console.tables import api_tokens

Scope = Literal[
    "clients:read",
    "clients:write",
    "conversations:read",
    "analytics:read",
    "knowledge:read",
    "knowledge:write",
    "audit:read",
    "metrics:read",
]
SCOPES: tuple[Scope, ...] = get_args(Scope)
TOKEN_PREFIX = "cct_"
HINT_LENGTH = len(TOKEN_PREFIX) + 6  # "cct_" and six characters: ~36 of the 256 bits, never enough to guess
MAX_EXPIRES_DAYS = 730
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"
# last_used_at is written at most this often, not on every request
TOUCH_EVERY = dt.timedelta(seconds=60)


class TokenState(StrEnum):
    """Whether a token still lets its caller in."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class TokenError(ValueError):
    """A token change that cannot be made; the message is meant for the person asking."""


class TokenNotFound(TokenError):
    """No token with that id."""


class TokenAlreadyRevoked(TokenError):
    """The token was revoked before."""


class TokenRecord(BaseModel):
    """A token as stored: everything but the secret (which is never stored)."""

    id: int
    name: str
    hint: str
    scopes: list[Scope]
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    last_used_at: dt.datetime | None = None

    def state(self, now: dt.datetime | None = None) -> TokenState:
        """Revoked wins over expired: a revoked token stays revoked whatever its date."""
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if (now or dt.datetime.now(dt.UTC)) >= self.expires_at:
            return TokenState.EXPIRED
        return TokenState.ACTIVE


def new_secret() -> str:
    """A fresh token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the database keeps of a token: its SHA-256, hex (a 256-bit secret needs no slow hash)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(secret: str) -> bool:
    """True for a string of a token's shape (so garbage is refused without a database look-up)."""
    return secret.startswith(TOKEN_PREFIX) and 20 <= len(secret) <= 100 and secret.isascii()


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        name=row.name,
        hint=row.hint,
        scopes=[s for s in row.scopes if s in SCOPES],
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        last_used_at=row.last_used_at,
    )


class TokenStore:
    """The ``console_api_tokens`` table: make, list, revoke and check tokens."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        name: str,
        scopes: list[Scope] | tuple[Scope, ...],
        *,
        expires_in: dt.timedelta,
        created_by: str,
        now: dt.datetime | None = None,
    ) -> tuple[TokenRecord, str]:
        """A new token; returns its record and the secret (the only time it exists in clear)."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise TokenError(f"scopes must be one or more of {', '.join(SCOPES)}")
        if not dt.timedelta(0) < expires_in <= dt.timedelta(days=MAX_EXPIRES_DAYS):
            raise TokenError(f"a token expires within 1 to {MAX_EXPIRES_DAYS} days")
        now = now or dt.datetime.now(dt.UTC)
        secret = new_secret()
        values = {
            "name": name.strip()[:64],
            "hint": secret[:HINT_LENGTH],
            "secret_hash": secret_hash(secret),
            "scopes": sorted(set(scopes), key=SCOPES.index),
            "created_at": now,
            "created_by": created_by[:64],
            "expires_at": now + expires_in,
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(api_tokens.insert().values(**values))
            token_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        found = await self.get(int(token_id)) if token_id is not None else None
        assert found is not None
        return found, secret

    async def get(self, token_id: int) -> TokenRecord | None:
        """The token with ``token_id`` (any state)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.id == token_id))).first()
        return _record(row) if row else None

    async def list(self) -> list[TokenRecord]:
        """Every token, newest first (revoked and expired ones too: they explain the audit log)."""
        stmt = select(api_tokens).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_record(row) for row in rows]

    async def revoke(self, token_id: int, by: str, *, now: dt.datetime | None = None) -> TokenRecord:
        """Revoke a token at once; :class:`TokenNotFound`, :class:`TokenAlreadyRevoked`."""
        now = now or dt.datetime.now(dt.UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_by=by[:64])
            )
        found = await self.get(token_id)
        if found is None:
            raise TokenNotFound(f"no API token with id {token_id}")
        if result.rowcount == 0:
            raise TokenAlreadyRevoked(f"the API token {found.name!r} was already revoked")
        return found

    async def resolve(self, secret: str, *, now: dt.datetime | None = None) -> TokenRecord | None:
        """The stored token ``secret`` is, in whatever state (the caller checks :meth:`TokenRecord.state`).

        None when no token has this secret. The row is found by the hash (indexed), then the
        hashes are compared in constant time; ``last_used_at`` is touched at most once a minute.
        """
        if not looks_like_token(secret):
            return None
        digest = secret_hash(secret)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.secret_hash == digest))).first()
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            return None
        record = _record(row)
        now = now or dt.datetime.now(dt.UTC)
        if record.state(now) is TokenState.ACTIVE and (
            record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY
        ):
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(api_tokens).where(api_tokens.c.id == record.id).values(last_used_at=now)
                )
            record = record.model_copy(update={"last_used_at": now})
        return record
