"""API tokens over HTTP: admins make, list and revoke them; another system calls the API with
``Authorization: Bearer``, reaching exactly the routes of its scopes and nothing else.

- the scope walk: every route of the app, with a token of each scope: 403 outside the
  token's scope (pages, users, tokens, ``/api/me`` included), never 401/403 inside it, and
  401 on every scoped route for an unknown, malformed, expired or revoked token;
- a token is shown once (the list never has it) and the database keeps only its hash;
- no CSRF header is needed with a token (a session cookie still needs one);
- creating, revoking and every refused use are in the audit log, never with the token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text

from concierge.compose import Services
from console.app import create_app
from console.audit import AuditFilter
from console.security.models import Role
from console.security.platform import ConsolePlatform
from console.security.tokens import SCOPES, TOKEN_PREFIX, Scope
from console.tables import METADATA
from knowledge.editor import EditorService
from tests.console.conftest import add_user, client_for, sign_in
from tests.console.test_authorization import CHANNEL_PREFIX, EXPECTED, PUBLIC, app_routes, concrete
from tests.console.workspace_support import demo_settings

# The routes other systems may call, and the scope each needs. Every other route refuses
# every token; the walk checks both against the app.
TOKEN_SCOPES: dict[tuple[str, str], Scope] = {
    ("GET", "/api/clients"): "clients:read",
    ("GET", "/api/clients/{client_id}"): "clients:read",
    ("POST", "/api/clients"): "clients:write",
    ("POST", "/api/clients/import"): "clients:write",
    ("PATCH", "/api/clients/{client_id}"): "clients:write",
    ("POST", "/api/clients/{client_id}/identities"): "clients:write",
    ("GET", "/api/workspace/queue"): "conversations:read",
    ("GET", "/api/workspace/conversations/{conversation_id}"): "conversations:read",
    ("GET", "/api/workspace/conversations/{conversation_id}/lines"): "conversations:read",
    ("GET", "/api/analytics/report"): "analytics:read",
    ("GET", "/api/analytics/gaps"): "analytics:read",
    ("GET", "/api/analytics/conversations"): "analytics:read",
    ("GET", "/api/analytics/report/{table}.csv"): "analytics:read",
    ("GET", "/api/analytics/conversations/{conversation_id}/quality"): "analytics:read",
    ("GET", "/metrics"): "metrics:read",
    ("GET", "/api/knowledge/articles"): "knowledge:read",
    ("GET", "/api/knowledge/articles/{article_id}"): "knowledge:read",
    ("GET", "/api/knowledge/articles/{article_id}/versions"): "knowledge:read",
    ("GET", "/api/knowledge/articles/{article_id}/diff"): "knowledge:read",
    ("POST", "/api/knowledge/preview"): "knowledge:read",
    ("POST", "/api/knowledge/try"): "knowledge:read",
    ("GET", "/api/knowledge/golden"): "knowledge:read",
    ("GET", "/api/knowledge/gaps"): "knowledge:read",
    ("POST", "/api/knowledge/articles"): "knowledge:write",
    ("PUT", "/api/knowledge/articles/{article_id}"): "knowledge:write",
    ("POST", "/api/knowledge/articles/{article_id}/publish"): "knowledge:write",
    ("POST", "/api/knowledge/articles/{article_id}/unpublish"): "knowledge:write",
    ("POST", "/api/knowledge/articles/{article_id}/rollback"): "knowledge:write",
    ("POST", "/api/knowledge/golden"): "knowledge:write",
    ("GET", "/api/audit"): "audit:read",
}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def file_bytes(path: Path) -> bytes:
    return path.read_bytes()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_token(
    client: httpx.AsyncClient, csrf: str, name: str, scopes: list[str], days: int = 30
) -> dict[str, object]:
    response = await client.post(
        "/api/tokens",
        json={"name": name, "scopes": scopes, "expires_days": days},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def audit_of(
    platform: ConsolePlatform, action: str
) -> list[tuple[str, str | None, str, dict[str, object]]]:
    entries, _ = await platform.audit.entries(AuditFilter(action=action, limit=1000))
    return [(e.actor, e.actor_role, e.target, e.detail) for e in reversed(entries)]


async def call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = {} if method in MUTATING else None
    return await client.request(method, path, json=body, headers=headers, follow_redirects=False)


def test_the_scope_table_names_only_routes_the_app_has(console_app: FastAPI) -> None:
    routes = app_routes(console_app)
    assert set(TOKEN_SCOPES) <= routes, sorted(set(TOKEN_SCOPES) - routes)
    assert set(TOKEN_SCOPES.values()) == set(SCOPES), "every scope opens at least one route"
    for route in TOKEN_SCOPES:  # a token never reaches beyond what some person's role may do
        assert EXPECTED[route] != PUBLIC


async def test_each_scope_reaches_its_routes_and_nothing_else(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str], kb_editor: EditorService
) -> None:
    agent = await platform.accounts.by_username(role_users["agent"])
    assert agent is not None
    routes = sorted(
        (m, p)
        for m, p in app_routes(console_app)
        if m not in ("MOUNT", "WS") and not p.startswith(CHANNEL_PREFIX) and EXPECTED[(m, p)] != PUBLIC
    )
    async with client_for(console_app) as admin, client_for(console_app) as system:
        csrf = await sign_in(admin, role_users["admin"])
        tokens = {
            scope: str((await make_token(admin, csrf, f"walk {scope.replace(':', ' ')}", [scope]))["token"])
            for scope in SCOPES
        }
        checked = 0
        for scope, token in tokens.items():
            for method, path in routes:
                response = await call(system, method, concrete(path, agent.id), bearer(token))
                status = response.status_code
                if TOKEN_SCOPES.get((method, path)) == scope:
                    assert status not in (401, 403), (scope, method, path, status, response.text[:200])
                else:
                    assert status == 403, (scope, method, path, status)
                checked += 1
        assert checked == len(SCOPES) * len(routes)
        denied = await audit_of(platform, "token.denied")
        assert len(denied) == checked - len(TOKEN_SCOPES)  # each refusal, once
        assert all(role == "token" and actor.startswith("token:walk ") for actor, role, _, _ in denied)
        assert {d["route"] for _, _, _, d in denied} <= {f"{m} {p}" for m, p in routes}  # templates, not ids

        # a bad token: 401 on every scoped route, whatever else the request carries
        listed = {t["name"]: t for t in (await admin.get("/api/tokens")).json()}
        revoked = tokens["clients:read"]
        gone = await admin.delete(
            f"/api/tokens/{listed['walk clients read']['id']}", headers={"X-CSRF-Token": csrf}
        )
        assert gone.status_code == 200 and gone.json()["state"] == "revoked"
        _, expired = await platform.tokens.create(
            "expired",
            ["clients:read", "analytics:read"],
            expires_in=dt.timedelta(days=1),
            created_by="root",
            now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
        )
        unknown = TOKEN_PREFIX + "A" * 43
        for bad in (revoked, expired, unknown, "not-a-token", ""):
            for method, path in TOKEN_SCOPES:
                response = await call(system, method, concrete(path, agent.id), bearer(bad))
                assert response.status_code == 401, (bad[:8], method, path, response.status_code)
                assert response.json()["error"] == "unauthorized"
                if bad:
                    assert response.headers["www-authenticate"].startswith("Bearer")
        reasons = [(t, d["reason"]) for _, _, t, d in await audit_of(platform, "token.denied")][
            checked - len(TOKEN_SCOPES) :
        ]
        assert {r for _, r in reasons} == {"revoked", "expired"}
        assert len(reasons) == 2 * len(TOKEN_SCOPES)  # unknown and malformed tokens name nothing to audit


async def test_a_token_is_shown_once_and_kept_only_as_a_hash(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as admin:
        csrf = await sign_in(admin, role_users["admin"])
        made = await make_token(admin, csrf, "salon", ["clients:write", "clients:read"], days=90)
        secret = str(made["token"])
        assert secret.startswith(TOKEN_PREFIX) and made["scopes"] == ["clients:read", "clients:write"]
        assert made["state"] == "active" and made["created_by"] == role_users["admin"]
        expires = dt.datetime.fromisoformat(str(made["expires_at"]))
        assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
        listed = await admin.get("/api/tokens")
        assert listed.status_code == 200
        assert secret not in listed.text and "token" not in listed.json()[0]
        assert listed.json()[0]["hint"] == secret[: len(listed.json()[0]["hint"])]
        # a page of the console (the admin's) never carries it either
        assert secret not in (await admin.get("/console/users")).text
    stored: list[str] = []
    async with platform.store.engine.connect() as conn:
        for table in METADATA.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                stored.append(" ".join(str(v) for v in row))
        if platform.store.engine.dialect.name == "sqlite":  # and the file itself
            await conn.execute(text("PRAGMA wal_checkpoint"))
    everything = "\n".join(stored)
    assert secret not in everything and secret[len(TOKEN_PREFIX) + 6 :] not in everything
    database = str(platform.store.engine.url.database or "")
    if platform.store.engine.dialect.name == "sqlite":
        assert secret.encode() not in await asyncio.to_thread(file_bytes, Path(database))
    created = await audit_of(platform, "token.create")
    assert [(a, t) for a, _, t, _ in created] == [(role_users["admin"], f"token:{made['id']}")]
    assert created[0][3]["scopes"] == ["clients:read", "clients:write"]


async def test_only_admins_manage_tokens_and_bad_requests_get_clear_errors(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as manager:
        csrf = await sign_in(manager, role_users["manager"])
        refused = await manager.post(
            "/api/tokens", json={"name": "x", "scopes": ["clients:read"]}, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 403
    async with client_for(console_app) as admin:
        csrf = await sign_in(admin, role_users["admin"])
        headers = {"X-CSRF-Token": csrf}
        for body in (
            {"name": "x", "scopes": []},
            {"name": "x", "scopes": ["users:write"]},
            {"name": "x", "scopes": ["clients:read"], "expires_days": 0},
            {"name": "x", "scopes": ["clients:read"], "expires_days": 100000},
            {"name": "", "scopes": ["clients:read"]},
            {"name": "<script>", "scopes": ["clients:read"]},
            {"name": "x", "scopes": ["clients:read"], "token": "cct_mine"},
        ):
            response = await admin.post("/api/tokens", json=body, headers=headers)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["error"] == "invalid_request"
        assert (await admin.delete("/api/tokens/12345", headers=headers)).status_code == 404
        assert (await admin.delete(f"/api/tokens/{2**63}", headers=headers)).status_code == 422
        made = await make_token(admin, csrf, "bi", ["analytics:read"])
        assert (await admin.delete(f"/api/tokens/{made['id']}", headers=headers)).status_code == 200
        again = await admin.delete(f"/api/tokens/{made['id']}", headers=headers)
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        no_csrf = await admin.delete(f"/api/tokens/{made['id']}")
        assert no_csrf.status_code == 403 and no_csrf.json()["error"] == "csrf_failed"
    revoked = await audit_of(platform, "token.revoke")
    assert [(a, t) for a, _, t, _ in revoked] == [(role_users["admin"], f"token:{made['id']}")]
    assert all(str(made["token"]) not in str(d) for *_, d in await audit_of(platform, "token.*"))


async def test_a_token_cannot_ride_on_a_session_nor_a_session_skip_csrf(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as admin:
        csrf = await sign_in(admin, role_users["admin"])
        made = await make_token(admin, csrf, "bi", ["audit:read"])
        # an admin's browser sending a bad token is judged by the token, not the cookie
        assert (await admin.get("/api/users", headers=bearer(TOKEN_PREFIX + "B" * 43))).status_code == 401
        # with a good token of another scope, the cookie does not lend its admin role either
        assert (await admin.get("/api/users", headers=bearer(str(made["token"])))).status_code == 403
        assert (await admin.get("/api/audit", headers=bearer(str(made["token"])))).status_code == 200
        # another scheme is no token: CSRF still applies to the cookie
        no_csrf = await admin.post("/api/tokens", json={}, headers={"Authorization": "Basic abc"})
        assert no_csrf.status_code == 403 and no_csrf.json()["error"] == "csrf_failed"


async def test_a_salon_system_upserts_a_client_with_its_token(
    services: Services, model_dir: Path, tmp_path: Path
) -> None:
    """The use the tokens are for: no browser login, no CSRF; audited as the token."""
    app = create_app(demo_settings(model_dir, tmp_path), services=services)
    platform: ConsolePlatform = await app.state.console.ready()
    await add_user(platform, "root", "admin")
    try:
        async with client_for(app) as admin:
            csrf = await sign_in(admin, "root")
            salon = str((await make_token(admin, csrf, "salon", ["clients:write"]))["token"])
            reader = str((await make_token(admin, csrf, "bi", ["clients:read"]))["token"])
        client = {
            "external_id": "MH-4242",
            "first_name": "Marta",
            "last_name": "Nowak",
            "identities": [{"kind": "phone", "value": "0048 603 555 111"}],
        }
        async with client_for(app) as system:
            created = await system.post("/api/clients", json=client, headers=bearer(salon))
            assert created.status_code == 201, created.text
            client_id = created.json()["client"]["id"]
            assert (await system.get(f"/api/clients/{client_id}", headers=bearer(salon))).status_code == 403
            read = await system.get(f"/api/clients/{client_id}", headers=bearer(reader))
            assert read.status_code == 200 and read.json()["first_name"] == "Marta"
            refused = await system.post("/api/clients", json=client, headers=bearer(reader))
            assert refused.status_code == 403 and "clients:write" in refused.json()["message"]
        changes = await audit_of(platform, "client.*")
        assert [(a, r, t) for a, r, t, _ in changes] == [("token:salon", "token", f"client:{client_id}")]
    finally:
        await app.state.console.close()


async def test_the_users_page_has_the_tokens_section(
    console_app: FastAPI, role_users: dict[Role, str], repo_dir: Path
) -> None:
    async with client_for(console_app) as admin:
        await sign_in(admin, role_users["admin"])
        page = (await admin.get("/console/users")).text
        script = await admin.get("/static/console-tokens.js")
    assert 'id="token-form"' in page and 'src="/static/console-tokens.js"' in page
    assert all(f'value="{scope}"' in page for scope in SCOPES)
    assert script.status_code == 200
    # the console's rule: text from the API goes in with textContent (Concierge.el), never as HTML
    source = (
        await asyncio.to_thread(file_bytes, repo_dir / "console" / "static" / "console-tokens.js")
    ).decode()
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
