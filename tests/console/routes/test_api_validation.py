"""Bad input to the console API is a clear 422, never a 500 from the database: integers past
what a column holds, ``null`` for a field whose column is NOT NULL, over-long strings, NUL
characters (PostgreSQL text cannot hold them); and a missing service (no bot engine yet)
answers 503 only for requests that are otherwise valid."""

from __future__ import annotations

from fastapi import FastAPI

from console.security.models import Role
from console.security.platform import ConsolePlatform
from tests.console.conftest import client_for, sign_in

HUGE = 2**64  # past SQLite's 64-bit integers and PostgreSQL's BIGINT


async def test_integers_past_what_the_database_holds_are_refused(
    console_app: FastAPI, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as admin:
        csrf = {"X-CSRF-Token": await sign_in(admin, role_users["admin"])}
        for method, path in (
            ("GET", f"/api/audit?offset={HUGE}"),
            ("GET", f"/api/audit?offset={2**31}"),
            ("GET", f"/api/clients?offset={HUGE}"),
            ("GET", f"/api/workspace/conversations/widget:x/lines?after_seq={HUGE}"),
            ("GET", f"/api/media/whatsapp_cloud/whatsapp_cloud:1/{HUGE}/0"),
            ("PATCH", f"/api/users/{HUGE}"),
            ("PATCH", "/api/users/0"),
            ("POST", f"/api/users/{2**31}/password"),
            ("DELETE", f"/api/tokens/{HUGE}"),
        ):
            body = {"password": "long enough password"} if "password" in path else {}
            response = await admin.request(method, path, json=body if method != "GET" else None, headers=csrf)
            assert response.status_code == 422, (method, path, response.status_code, response.text[:200])
            assert response.json()["error"] == "invalid_request"
        for body in ({"version": HUGE}, {"version": 0}):
            refused = await admin.post("/api/knowledge/articles/x/rollback", json=body, headers=csrf)
            assert refused.status_code == 422, refused.text


async def test_null_for_a_not_null_column_is_refused_and_changes_nothing(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    agent = await platform.accounts.by_username(role_users["agent"])
    assert agent is not None
    async with client_for(console_app) as admin:
        csrf = {"X-CSRF-Token": await sign_in(admin, role_users["admin"])}
        for body in ({"display_name": None}, {"disabled": None}, {"role": None}, {"shoe_size": 42}):
            response = await admin.patch(f"/api/users/{agent.id}", json=body, headers=csrf)
            assert response.status_code == 422, (body, response.text)
        unlinked = await admin.patch(f"/api/users/{agent.id}", json={"agent_id": None}, headers=csrf)
        assert unlinked.status_code == 200 and unlinked.json()["agent_id"] is None  # null clears it
    after = await platform.accounts.get(agent.id)
    assert after is not None and after.display_name == agent.display_name and not after.disabled
    schema = console_app.openapi()["components"]["schemas"]["UserUpdate"]["properties"]
    assert schema["display_name"]["type"] == "string" and "anyOf" not in schema["display_name"]
    assert "anyOf" in schema["agent_id"]  # the one field that may be null


async def test_a_missing_engine_is_a_503_only_for_otherwise_valid_requests(
    console_app: FastAPI, role_users: dict[Role, str]
) -> None:
    """The app serves without a bot engine here: client profiles are not available."""
    async with client_for(console_app) as manager:
        csrf = {"X-CSRF-Token": await sign_in(manager, role_users["manager"])}
        malformed = await manager.post("/api/clients", json={"visits": "many"}, headers=csrf)
        assert malformed.status_code == 422, malformed.text
        too_far = await manager.get(f"/api/clients?offset={HUGE}")
        assert too_far.status_code == 422
        valid = await manager.post("/api/clients", json={"external_id": "MH-1"}, headers=csrf)
        assert valid.status_code == 503 and "not available" in valid.json()["message"]
        queue = await manager.get("/api/workspace/queue")
        assert queue.status_code == 503
        bad_seq = await manager.get("/api/workspace/conversations/widget:x/lines?after_seq=-1")
        assert bad_seq.status_code == 422


async def test_visits_are_bounded_as_the_visits_table_stores_them(
    console_app: FastAPI, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as manager:
        csrf = {"X-CSRF-Token": await sign_in(manager, role_users["manager"])}
        visit = {"visited_on": "2026-11-02", "category": "nails", "amount": 240}
        for change in ({"amount": 1e12}, {"category": "x" * 33}, {"currency": "zloty"}, {"amount": -1}):
            body = {"external_id": "MH-1", "visits": [{**visit, **change}]}
            response = await manager.post("/api/clients", json=body, headers=csrf)
            assert response.status_code == 422, (change, response.text)


async def test_nul_characters_are_refused_before_they_reach_the_database(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as admin:
        csrf = {"X-CSRF-Token": await sign_in(admin, role_users["admin"])}
        for path in (
            "/api/audit?actor=ro%00ot",
            "/api/clients?q=Marta%00",
            "/api/workspace/conversations/widget:a%00b/lines",
            "/api/knowledge/articles/lateness%00policy",
        ):
            response = await admin.get(path)
            assert response.status_code == 422, (path, response.status_code)
            assert "NUL" in response.json()["message"]
        user = {"username": "nul.test", "role": "agent", "password": "long enough password"}
        refused = await admin.post("/api/users", json={**user, "display_name": "Ann\x00a"}, headers=csrf)
        assert refused.status_code == 422 and "NUL" in refused.json()["message"]
        assert await platform.accounts.by_username("nul.test") is None
        # a backslash followed by "u0000" is ordinary text (escaped in JSON as \\u0000)
        kept = await admin.post("/api/users", json={**user, "display_name": "A\\u0000"}, headers=csrf)
        assert kept.status_code == 201, kept.text
        assert kept.json()["display_name"] == "A\\u0000"
