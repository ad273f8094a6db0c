"""Every route of the app, with no session and signed in as each role, against one explicit table.

The table below names every route ``create_app`` mounts (HTTP method + path, ``WS`` for
WebSockets, ``MOUNT`` for static files) and who may use it: :data:`PUBLIC`, or the
roles allowed. The walk fails when the app has a route the table does not list (new routes
must be added here) or the table lists a route the app no longer has.

Checks, for every console route (pages under ``/console``, API under ``/api``):
- no session: pages redirect to the login page, the API answers 401, WebSockets close 4401;
- a role not in the table's entry: 403 (WebSockets close 4403);
- an allowed role: neither 401 nor 403 (pages: 200);
- changes (POST, PUT, PATCH, DELETE) signed in but without the ``X-CSRF-Token`` header: 403;
- a change that succeeds writes an audit entry.
Public routes must not ask for a session.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import websockets
from fastapi import FastAPI, WebSocket
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from websockets.exceptions import ConnectionClosed

from console.audit import AuditFilter
from console.deps import websocket_user
from console.security.models import ROLES, Role
from console.security.platform import ConsolePlatform
from console.security.sessions import SESSION_COOKIE
from knowledge.editor import EditorService
from tests.console.conftest import login_csrf, served, sign_in

PUBLIC = "public"
# Channel webhooks (one per channel in credentials.yml, plus rest and widget) are public by
# design: each checks its provider's signature, tested with the channel. Everything else is
# listed one by one below.
CHANNEL_PREFIX = "/webhooks/"
ALL: tuple[Role, ...] = ("agent", "editor", "manager", "admin")
KB_READ: tuple[Role, ...] = ("agent", "editor", "manager", "admin")
KB_WRITE: tuple[Role, ...] = ("editor", "manager", "admin")
MANAGERS: tuple[Role, ...] = ("manager", "admin")
ADMINS: tuple[Role, ...] = ("admin",)
WORKSPACE: tuple[Role, ...] = ("agent", "manager", "admin")

EXPECTED: dict[tuple[str, str], str | tuple[Role, ...]] = {
    # ---- public: channels, demo page, static files, health, sign-in -------------------------
    ("GET", "/openapi.json"): PUBLIC,
    ("MOUNT", "/static"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/widget/snippet"): PUBLIC,
    ("GET", "/demo/identity/{key}"): PUBLIC,  # demo mode only (404 otherwise)
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    # ---- every signed-in role ------------------------------------------------------------------
    ("GET", "/console"): ALL,
    ("GET", "/api/me"): ALL,
    ("POST", "/console/logout"): ALL,
    # ---- users (admins) and audit log (managers, admins) ---------------------------------------
    ("GET", "/console/users"): ADMINS,
    ("GET", "/api/users"): ADMINS,
    ("POST", "/api/users"): ADMINS,
    ("PATCH", "/api/users/{user_id}"): ADMINS,
    ("POST", "/api/users/{user_id}/password"): ADMINS,
    ("GET", "/api/tokens"): ADMINS,
    ("POST", "/api/tokens"): ADMINS,
    ("DELETE", "/api/tokens/{token_id}"): ADMINS,
    ("GET", "/console/audit"): MANAGERS,
    ("GET", "/api/audit"): MANAGERS,
    # ---- automation rules (managers, admins) ---------------------------------------------------
    ("GET", "/console/automation"): MANAGERS,
    ("GET", "/api/automation/rules"): MANAGERS,
    ("PUT", "/api/automation/rules"): MANAGERS,
    ("GET", "/api/automation/versions"): MANAGERS,
    ("POST", "/api/automation/dry-run"): MANAGERS,
    ("GET", "/api/automation/firings"): MANAGERS,
    # ---- proactive outreach awaiting approval (agents, managers, admins) ------------------------
    ("GET", "/console/proactive"): WORKSPACE,
    ("GET", "/api/proactive/approvals"): WORKSPACE,
    ("POST", "/api/proactive/approvals/{row_id}/approve"): WORKSPACE,
    ("POST", "/api/proactive/approvals/{row_id}/reject"): WORKSPACE,
    # ---- knowledge editor ---------------------------------------------------------------------
    ("GET", "/api/knowledge/articles"): KB_READ,
    ("POST", "/api/knowledge/articles"): KB_WRITE,
    ("GET", "/api/knowledge/articles/{article_id}"): KB_READ,
    ("PUT", "/api/knowledge/articles/{article_id}"): KB_WRITE,
    ("GET", "/api/knowledge/articles/{article_id}/versions"): KB_READ,
    ("GET", "/api/knowledge/articles/{article_id}/diff"): KB_READ,
    ("POST", "/api/knowledge/articles/{article_id}/publish"): KB_WRITE,
    ("POST", "/api/knowledge/articles/{article_id}/unpublish"): KB_WRITE,
    ("POST", "/api/knowledge/articles/{article_id}/rollback"): KB_WRITE,
    ("POST", "/api/knowledge/preview"): KB_READ,
    ("POST", "/api/knowledge/try"): KB_READ,
    ("GET", "/api/knowledge/golden"): KB_READ,
    ("POST", "/api/knowledge/golden"): KB_WRITE,
    ("GET", "/api/knowledge/gaps"): KB_READ,
    ("GET", "/console/knowledge"): KB_READ,
    ("GET", "/console/knowledge/new"): KB_WRITE,
    ("GET", "/console/knowledge/articles/{article_id}"): KB_READ,
    ("GET", "/console/knowledge/try"): KB_READ,
    ("GET", "/console/knowledge/golden"): KB_READ,
    ("GET", "/console/knowledge/gaps"): KB_READ,
    # ---- analytics (managers, admins) ----------------------------------------------------------
    ("GET", "/console/analytics"): MANAGERS,
    ("GET", "/api/analytics/report"): MANAGERS,
    ("GET", "/api/analytics/gaps"): MANAGERS,
    ("GET", "/api/analytics/conversations"): MANAGERS,
    ("GET", "/api/analytics/report/{table}.csv"): MANAGERS,
    ("GET", "/api/analytics/subscriptions"): MANAGERS,
    ("POST", "/api/analytics/subscriptions"): MANAGERS,
    ("DELETE", "/api/analytics/subscriptions/{subscription_id}"): MANAGERS,
    ("GET", "/api/analytics/staffing"): MANAGERS,
    ("GET", "/api/analytics/conversations/{conversation_id}/quality"): MANAGERS,
    # ---- operations: Prometheus scrapes with an API token (metrics:read) or an admin -------
    ("GET", "/metrics"): ADMINS,
    # ---- agent workspace (helper C adds its routes here: queue, conversations, WebSockets) -----
    # (pre-filled from the seams: the workspace is for agents, managers and admins)
    ("GET", "/console/workspace"): WORKSPACE,
    ("GET", "/api/workspace/me"): WORKSPACE,
    ("GET", "/api/workspace/agents"): WORKSPACE,
    ("POST", "/api/workspace/presence"): WORKSPACE,
    ("GET", "/api/workspace/queue"): WORKSPACE,
    ("WS", "/api/workspace/ws"): WORKSPACE,
    ("GET", "/api/workspace/conversations/{conversation_id}"): WORKSPACE,
    ("GET", "/api/workspace/conversations/{conversation_id}/lines"): WORKSPACE,
    ("GET", "/api/workspace/conversations/{conversation_id}/canned"): WORKSPACE,
    ("GET", "/api/workspace/conversations/{conversation_id}/suggestions"): WORKSPACE,
    ("POST", "/api/workspace/conversations/{conversation_id}/claim"): WORKSPACE,
    ("POST", "/api/workspace/conversations/{conversation_id}/notes"): WORKSPACE,
    ("POST", "/api/workspace/conversations/{conversation_id}/reply"): WORKSPACE,
    ("POST", "/api/workspace/conversations/{conversation_id}/resolve"): WORKSPACE,
    ("POST", "/api/workspace/conversations/{conversation_id}/return"): WORKSPACE,
    ("POST", "/api/workspace/conversations/{conversation_id}/transfer"): WORKSPACE,
    # ---- inbound media, fetched from the channel's provider (helper H) ------------------------
    ("GET", "/api/media/{channel}/{conversation_id}/{seq}/{index}"): WORKSPACE,
    # ---- client profiles: the workspace reads them, managers and admins change them ------------
    ("GET", "/console/clients"): WORKSPACE,
    ("GET", "/api/clients"): WORKSPACE,
    ("POST", "/api/clients"): MANAGERS,
    ("POST", "/api/clients/import"): MANAGERS,
    ("GET", "/api/clients/{client_id}"): WORKSPACE,
    ("PATCH", "/api/clients/{client_id}"): MANAGERS,
    ("POST", "/api/clients/{client_id}/identities"): MANAGERS,
    # ---- privacy: a client's data exported or erased (admins) ----------------------------------
    ("GET", "/api/privacy/clients/{client}/export"): ADMINS,
    ("POST", "/api/privacy/clients/{client}/erase"): ADMINS,
}

# Values for path parameters; "{user_id}" is filled in with the agent's id at run time.
PATH_PARAMS: dict[str, str] = {
    "article_id": "lateness-policy",
    "conversation_id": "widget:walk-test",
    "agent_id": "anna.kowalska",
    "key": "vip",
    "channel": "whatsapp_cloud",
    "seq": "1",
    "index": "0",
    "client_id": "walk-test-client",
    "client": "walk-test-client",
    "token_id": "1",
    "table": "tier",
    "subscription_id": "1",
    "row_id": "1",
}

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves; ``WS`` for WebSockets and ``MOUNT`` for mounts."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or getattr(route, "path", "")
        if isinstance(route, Mount):
            found.add(("MOUNT", path))
        elif context.methods is None:
            found.add(("WS", path))
        else:
            found |= {(m, path) for m in context.methods if m != "HEAD"}
    return found


def is_page(method: str, path: str) -> bool:
    return method == "GET" and path.startswith("/console")


def concrete(path: str, user_id: int) -> str:
    params = {**PATH_PARAMS, "user_id": str(user_id)}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        assert name in params, f"add a value for the path parameter {name!r} to PATH_PARAMS"
        return params[name]

    return re.sub(r"\{([^}]+)\}", fill, path)


async def audit_count(platform: ConsolePlatform) -> int:
    return (await platform.audit.entries(AuditFilter(limit=1)))[1]


def test_the_table_names_every_route_of_the_app(console_app: FastAPI) -> None:
    routes = {r for r in app_routes(console_app) if not r[1].startswith(CHANNEL_PREFIX)}
    missing = sorted(routes - EXPECTED.keys())
    stale = sorted(EXPECTED.keys() - routes)
    assert not missing, f"routes missing from EXPECTED in {__file__}: {missing}"
    assert not stale, f"EXPECTED lists routes the app does not have: {stale}"
    for roles in EXPECTED.values():
        assert roles == PUBLIC or (roles and set(roles) <= set(ROLES))


async def request(
    client: httpx.AsyncClient, method: str, path: str, csrf: str | None = None
) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    body = {} if method in MUTATING else None
    return await client.request(method, path, json=body, headers=headers, follow_redirects=False)


async def ws_close_code(url: str, path: str, cookie: str | None) -> int | None:
    """The close code the server sends right away, or None if the socket stays open."""
    headers = {"Origin": url}
    if cookie:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    async with websockets.connect(url.replace("http", "ws", 1) + path, additional_headers=headers) as ws:
        try:
            await asyncio.wait_for(ws.recv(), timeout=0.5)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except TimeoutError:
            return None
        return None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_route_answers_each_role_as_the_table_says(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str], kb_editor: EditorService
) -> None:
    agent = await platform.accounts.by_username(role_users["agent"])
    assert agent is not None
    routes = sorted(
        (r for r in app_routes(console_app) if not r[1].startswith(CHANNEL_PREFIX)),
        key=lambda r: r == ("POST", "/console/logout"),  # logout last
    )
    console_routes = [(m, p) for m, p in routes if m != "MOUNT" and EXPECTED[(m, p)] != PUBLIC]
    checked = 0
    async with served(console_app) as url:
        # ---- no session
        async with httpx.AsyncClient(base_url=url) as anonymous:
            for method, path in console_routes:
                checked += 1
                target = concrete(path, agent.id)
                if method == "WS":
                    assert await ws_close_code(url, target, None) == 4401, path
                    continue
                response = await request(anonymous, method, target)
                if is_page(method, path):
                    assert response.status_code == 303, (method, path, response.status_code)
                    assert response.headers["location"].startswith("/console/login?next=")
                else:
                    assert response.status_code == 401, (method, path, response.status_code)
                    assert response.json()["error"] == "unauthorized"
            # public routes never ask for a session (the login form needs its own CSRF token)
            login_token = await login_csrf(anonymous)
            for method, path in routes:
                if method in ("MOUNT", "WS") or EXPECTED[(method, path)] != PUBLIC:
                    continue
                response = await request(anonymous, method, concrete(path, agent.id), login_token)
                assert response.status_code not in (401, 403), (method, path, response.status_code)
        # ---- each role
        for role, username in role_users.items():
            async with httpx.AsyncClient(base_url=url) as client:
                csrf = await sign_in(client, username)
                for method, path in console_routes:
                    checked += 1
                    allowed = role in EXPECTED[(method, path)]
                    target = concrete(path, agent.id)
                    if method == "WS":
                        code = await ws_close_code(url, target, client.cookies[SESSION_COOKIE])
                        assert (code not in (4401, 4403)) if allowed else code == 4403, (role, path, code)
                        continue
                    if method in MUTATING:
                        refused = await request(client, method, target)  # no CSRF header
                        assert refused.status_code == 403, (role, method, path)
                        assert refused.json()["error"] == "csrf_failed"
                    audited_before = await audit_count(platform)
                    response = await request(client, method, target, csrf)
                    status = response.status_code
                    if method in MUTATING and 200 <= status < 300:  # every change leaves an audit entry
                        assert await audit_count(platform) > audited_before, (role, method, path)
                    if allowed:
                        assert status not in (401, 403), (role, method, path, status, response.text[:200])
                        if is_page(method, path):
                            assert status == 200 and "text/html" in response.headers["content-type"]
                    else:
                        assert status == 403, (role, method, path, status)
                    if (method, path) == ("POST", "/console/logout") and allowed:
                        assert (await client.get("/api/me")).status_code == 401
    assert checked == len(console_routes) * (1 + len(role_users))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_console_websockets_refuse_other_sites_pages(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    """A WebSocket opened by another site's page (cookies ride along) is closed with 4403."""

    async def probe(websocket: WebSocket) -> None:
        user = await websocket_user(websocket, "admin")
        if user is None:
            return
        await websocket.accept()
        await websocket.send_text(user.username)
        await websocket.close()

    console_app.add_api_websocket_route("/api/test-probe/ws", probe)
    async with served(console_app) as url, httpx.AsyncClient(base_url=url) as client:
        await sign_in(client, role_users["admin"])
        cookie = f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"
        ws_url = url.replace("http", "ws", 1) + "/api/test-probe/ws"
        async with websockets.connect(ws_url, additional_headers={"Origin": url, "Cookie": cookie}) as ws:
            assert await ws.recv() == role_users["admin"]
        headers = {"Origin": "https://evil.example", "Cookie": cookie}
        async with websockets.connect(ws_url, additional_headers=headers) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
