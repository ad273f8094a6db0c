"""API tokens in the database: only a hash is kept, and a token lets its caller in only
while it is neither expired nor revoked."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from console.security.platform import ConsolePlatform
from console.security.tokens import (
    TOKEN_PREFIX,
    TokenAlreadyRevoked,
    TokenError,
    TokenNotFound,
    TokenState,
)
from console.tables import api_tokens

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


async def test_a_token_is_stored_only_as_its_hash(platform: ConsolePlatform) -> None:
    record, secret = await platform.tokens.create(
        "salon", ["clients:write"], expires_in=90 * DAY, created_by="root", now=T0
    )
    assert secret.startswith(TOKEN_PREFIX) and len(secret) >= 40
    assert record.hint == secret[: len(record.hint)] and len(record.hint) < len(secret) // 3
    async with platform.store.engine.connect() as conn:
        rows = (await conn.execute(select(api_tokens))).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert secret not in stored and secret[len(record.hint) :] not in stored
    assert rows[0]["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert rows[0]["expires_at"] == T0 + 90 * DAY


async def test_two_tokens_never_share_a_secret(platform: ConsolePlatform) -> None:
    made = [
        await platform.tokens.create("bi", ["analytics:read"], expires_in=DAY, created_by="root")
        for _ in range(5)
    ]
    assert len({secret for _, secret in made}) == 5


async def test_resolve_knows_active_expired_revoked_and_unknown_tokens(platform: ConsolePlatform) -> None:
    store = platform.tokens
    record, secret = await store.create(
        "bi", ["analytics:read"], expires_in=30 * DAY, created_by="root", now=T0
    )
    active = await store.resolve(secret, now=T0 + DAY)
    assert active is not None and active.id == record.id and active.state(T0 + DAY) is TokenState.ACTIVE
    assert active.last_used_at == T0 + DAY
    # used again within the minute: last use not rewritten; later it is
    assert (await store.resolve(secret, now=T0 + DAY + dt.timedelta(seconds=5))).last_used_at == T0 + DAY  # type: ignore[union-attr]
    expired = await store.resolve(secret, now=T0 + 30 * DAY)
    assert expired is not None and expired.state(T0 + 30 * DAY) is TokenState.EXPIRED
    await store.revoke(record.id, "root", now=T0 + 2 * DAY)
    revoked = await store.resolve(secret, now=T0 + 3 * DAY)
    assert revoked is not None and revoked.state(T0 + 3 * DAY) is TokenState.REVOKED
    assert revoked.revoked_by == "root" and revoked.revoked_at == T0 + 2 * DAY
    # a well-formed unknown token, a near miss, and garbage
    assert await store.resolve(TOKEN_PREFIX + "x" * 43) is None
    assert await store.resolve(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert await store.resolve("not a token") is None
    assert await store.resolve(TOKEN_PREFIX + "é" * 40) is None


async def test_revoking_twice_or_an_unknown_token_is_refused(platform: ConsolePlatform) -> None:
    record, _ = await platform.tokens.create("salon", ["clients:read"], expires_in=DAY, created_by="root")
    await platform.tokens.revoke(record.id, "root")
    with pytest.raises(TokenAlreadyRevoked):
        await platform.tokens.revoke(record.id, "root")
    with pytest.raises(TokenNotFound):
        await platform.tokens.revoke(record.id + 1000, "root")


async def test_bad_scopes_and_expiries_are_refused(platform: ConsolePlatform) -> None:
    for scopes, expires in (
        ([], DAY),
        (["users:write"], DAY),
        (["clients:read"], dt.timedelta(0)),
        (["clients:read"], 1000 * DAY),
    ):
        with pytest.raises(TokenError):
            await platform.tokens.create("x", scopes, expires_in=expires, created_by="root")  # type: ignore[arg-type]
    assert await platform.tokens.list() == []
