"""User management by an admin: create, change role, disable, reset password; all audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from console.security.models import Role
from console.security.platform import ConsolePlatform
from tests.console.conftest import PASSWORD, client_for, login_csrf, sign_in

NEW = {
    "username": "olena.shevchenko",
    "display_name": "Olena Shevchenko",
    "role": "agent",
    "agent_id": "olena.shevchenko",
    "password": "a long enough password",
}


@asynccontextmanager
async def admin_client(
    app: FastAPI, username: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with client_for(app) as client:
        csrf = await sign_in(client, username)
        yield client, {"X-CSRF-Token": csrf}


async def test_create_list_change_role_and_reset_password(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with admin_client(console_app, role_users["admin"]) as (client, csrf):
        created = await client.post("/api/users", json=NEW, headers=csrf)
        assert created.status_code == 201
        body = created.json()
        assert {k: body[k] for k in ("username", "role", "agent_id", "disabled")} == {
            "username": "olena.shevchenko",
            "role": "agent",
            "agent_id": "olena.shevchenko",
            "disabled": False,
        }
        assert "password" not in created.text and "argon2" not in created.text
        listed = (await client.get("/api/users")).json()
        assert [u["username"] for u in listed] == [
            "anna.kowalska",
            "ewa",
            "kasia",
            "olena.shevchenko",
            "root",
        ]
        assert all("password_hash" not in u for u in listed)
        assert (await client.post("/api/users", json=NEW, headers=csrf)).status_code == 409

        promoted = await client.patch(f"/api/users/{body['id']}", json={"role": "manager"}, headers=csrf)
        assert promoted.status_code == 200 and promoted.json()["role"] == "manager"

        async with client_for(console_app) as olena:
            await sign_in(olena, "olena.shevchenko", NEW["password"])
            reset = await client.post(
                f"/api/users/{body['id']}/password", json={"password": "another long password"}, headers=csrf
            )
            assert reset.status_code == 204
            assert (await olena.get("/api/me")).status_code == 401  # her sessions ended
            await sign_in(olena, "olena.shevchenko", "another long password")
        entries = (await client.get("/api/audit", params={"action": "user.*"})).json()["entries"]
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("user.password_reset", "root", "user:olena.shevchenko"),
        ("user.update", "root", "user:olena.shevchenko"),
        ("user.create", "root", "user:olena.shevchenko"),
    ]
    assert entries[1]["detail"] == {"role": {"from": "agent", "to": "manager"}}


async def test_bad_input_gets_clear_errors(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with admin_client(console_app, role_users["admin"]) as (client, csrf):
        weak = await client.post("/api/users", json={**NEW, "password": "short"}, headers=csrf)
        assert weak.status_code == 422 and "at least 10 characters" in weak.json()["message"]
        ghost = await client.post("/api/users", json={**NEW, "agent_id": "nobody.here"}, headers=csrf)
        assert ghost.status_code == 422 and "no agent 'nobody.here'" in ghost.json()["message"]
        bad_name = await client.post("/api/users", json={**NEW, "username": "Bad Name"}, headers=csrf)
        assert bad_name.status_code == 422
        bad_role = await client.post("/api/users", json={**NEW, "role": "owner"}, headers=csrf)
        assert bad_role.status_code == 422
        assert (
            await client.patch("/api/users/9999", json={"role": "agent"}, headers=csrf)
        ).status_code == 404
        missing = await client.post(
            "/api/users/9999/password", json={"password": "long enough pw"}, headers=csrf
        )
        assert missing.status_code == 404
    assert len(await platform.accounts.list()) == 4  # nothing was created


async def test_an_admin_cannot_disable_or_demote_themselves_but_can_disable_others(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    me = await platform.accounts.by_username(role_users["admin"])
    agent = await platform.accounts.by_username(role_users["agent"])
    assert me is not None and agent is not None
    async with (
        admin_client(console_app, role_users["admin"]) as (client, csrf),
        client_for(console_app) as anna,
    ):
        for change in ({"disabled": True}, {"role": "manager"}):
            refused = await client.patch(f"/api/users/{me.id}", json=change, headers=csrf)
            assert refused.status_code == 409 and "your own" in refused.json()["message"]
        renamed = await client.patch(f"/api/users/{me.id}", json={"display_name": "Chief"}, headers=csrf)
        assert renamed.status_code == 200 and renamed.json()["display_name"] == "Chief"

        await sign_in(anna, role_users["agent"])
        disabled = await client.patch(f"/api/users/{agent.id}", json={"disabled": True}, headers=csrf)
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        assert (await anna.get("/api/me")).status_code == 401
        token = await login_csrf(anna)
        again = await anna.post(
            "/console/login",
            json={"username": role_users["agent"], "password": PASSWORD},
            headers={"X-CSRF-Token": token},
        )
        assert again.status_code == 401
        entries = (await client.get("/api/audit", params={"action": "user.disable"})).json()["entries"]
        assert [e["target"] for e in entries] == ["user:anna.kowalska"]


async def test_the_users_page_lists_roles_and_agent_profiles(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with admin_client(console_app, role_users["admin"]) as (client, _):
        page = await client.get("/console/users")
    assert page.status_code == 200
    assert '<option value="sophie.turner">' in page.text and '<option value="editor">' in page.text
    assert 'src="/static/console-admin.js"' in page.text and 'aria-current="page"' in page.text
