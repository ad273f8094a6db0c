"""Signing in and out as a browser does: cookies, CSRF, rotation, throttling, /api/me."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from sqlalchemy import select

from console.security.platform import ConsolePlatform
from console.security.sessions import SESSION_COOKIE, token_id
from console.tables import audit, sessions
from tests.console.conftest import PASSWORD, add_user, client_for, login_csrf, sign_in


async def test_login_sets_a_strict_httponly_cookie_and_stores_only_its_hash(
    console_app: FastAPI, platform: ConsolePlatform
) -> None:
    await add_user(platform, "anna.kowalska", "agent", agent_id="anna.kowalska")
    async with client_for(console_app) as client:
        token = await login_csrf(client)
        response = await client.post(
            "/console/login",
            json={"username": "Anna.Kowalska", "password": PASSWORD, "next": "/console/knowledge"},
            headers={"X-CSRF-Token": token},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["next"] == "/console/knowledge"
        assert body["user"]["role"] == "agent" and body["user"]["agent_id"] == "anna.kowalska"
        assert "password" not in response.text and "hash" not in response.text
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http here; https gets Secure (test below)
        raw = client.cookies[SESSION_COOKIE]
        me = await client.get("/api/me")
        assert me.status_code == 200 and me.json()["username"] == "anna.kowalska"
        assert me.json()["sections"] == ["workspace", "clients", "proactive", "knowledge"]
    async with platform.store.engine.connect() as conn:
        ids = (await conn.execute(select(sessions.c.id))).scalars().all()
    assert ids == [token_id(raw)] and raw not in ids


async def test_cookie_is_secure_over_https(console_app: FastAPI, platform: ConsolePlatform) -> None:
    await add_user(platform, "ewa", "editor")
    async with client_for(console_app, "https://console.example") as client:
        await sign_in(client, "ewa")
        assert client.cookies.get(SESSION_COOKIE)
        page = await client.get("/console/login")  # already signed in: back to the console
        assert page.status_code == 303 and page.headers["location"] == "/console"


async def test_wrong_password_and_unknown_user_get_the_same_generic_answer(
    console_app: FastAPI, platform: ConsolePlatform
) -> None:
    await add_user(platform, "ewa", "editor")
    async with client_for(console_app) as client:
        token = await login_csrf(client)
        answers = []
        for username in ("ewa", "nobody"):
            r = await client.post(
                "/console/login",
                json={"username": username, "password": "wrong password!"},
                headers={"X-CSRF-Token": token},
            )
            answers.append((r.status_code, r.json()["message"]))
        assert answers == [(401, "Wrong username or password.")] * 2
        assert SESSION_COOKIE not in client.cookies


async def test_login_without_the_forms_csrf_token_is_refused(
    console_app: FastAPI, platform: ConsolePlatform
) -> None:
    await add_user(platform, "ewa", "editor")
    async with client_for(console_app) as client:
        await login_csrf(client)
        for headers in ({}, {"X-CSRF-Token": "0" * 64}):
            r = await client.post(
                "/console/login", json={"username": "ewa", "password": PASSWORD}, headers=headers
            )
            assert r.status_code == 403 and r.json()["error"] == "csrf_failed"


async def test_a_disabled_account_cannot_sign_in(console_app: FastAPI, platform: ConsolePlatform) -> None:
    user_id = await add_user(platform, "ewa", "editor")
    await platform.accounts.update(user_id, disabled=True)
    async with client_for(console_app) as client:
        token = await login_csrf(client)
        r = await client.post(
            "/console/login", json={"username": "ewa", "password": PASSWORD}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 401 and r.json()["message"] == "Wrong username or password."


async def test_session_id_is_rotated_at_login_and_logout_ends_it(
    console_app: FastAPI, platform: ConsolePlatform
) -> None:
    await add_user(platform, "ewa", "editor")
    async with client_for(console_app) as client:
        csrf = await sign_in(client, "ewa")
        first = client.cookies[SESSION_COOKIE]
        again = await client.post(  # signing in again while a session cookie is present
            "/console/login", json={"username": "ewa", "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
        )
        assert again.status_code == 200
        csrf = again.json()["user"]["csrf_token"]
        second = client.cookies[SESSION_COOKIE]
        assert first != second
        assert await platform.sessions.resolve(first) is None  # the old one is gone
        logout = await client.post("/console/logout", headers={"X-CSRF-Token": csrf})
        assert logout.status_code == 204
        assert await platform.sessions.resolve(second) is None
        assert (await client.get("/api/me")).status_code == 401
        page = await client.get("/console/knowledge")
        assert (
            page.status_code == 303 and page.headers["location"] == "/console/login?next=/console/knowledge"
        )
    async with platform.store.engine.connect() as conn:
        actions = (await conn.execute(select(audit.c.action).order_by(audit.c.id))).scalars().all()
    assert actions == ["auth.login", "auth.login", "auth.logout"]


async def test_a_stolen_cookie_alone_cannot_change_anything(
    console_app: FastAPI, platform: ConsolePlatform
) -> None:
    await add_user(platform, "ewa", "editor")
    async with client_for(console_app) as client:
        csrf = await sign_in(client, "ewa")
        refused = await client.post("/console/logout")
        assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
        wrong = await client.post("/console/logout", headers={"X-CSRF-Token": csrf[::-1]})
        assert wrong.status_code == 403
        assert (await client.get("/api/me")).status_code == 200  # still signed in


async def test_five_failures_pause_sign_in_for_that_username(
    console_app: FastAPI, platform: ConsolePlatform
) -> None:
    await add_user(platform, "ewa", "editor")
    async with client_for(console_app) as client:
        token = await login_csrf(client)

        async def attempt(password: str, username: str = "ewa") -> tuple[int, dict[str, str], str]:
            r = await client.post(
                "/console/login",
                json={"username": username, "password": password},
                headers={"X-CSRF-Token": token},
            )
            return r.status_code, dict(r.headers), r.json().get("message", "")

        for _ in range(5):
            assert (await attempt("wrong password!"))[0] == 401
        status, headers, message = await attempt(PASSWORD)  # even the right password waits now
        assert status == 429
        assert 60 <= int(headers["retry-after"]) <= 15 * 60
        assert message == "Too many failed sign-in attempts. Please try again in 15 minutes."
        # another username from the same address is not locked out by ewa's failures
        await add_user(platform, "kasia", "manager")
        assert (await attempt(PASSWORD, "kasia"))[0] == 200
    # once the failures are older than the window, ewa may sign in again
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    assert await platform.throttle.retry_after("ewa", "127.0.0.1", now=later) is None
