"""The workspace's page, JSON API and live socket, over HTTP with real sign-in, CSRF and audit.

The app runs the real demo engine; clients write through the engine, agents through the API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from bot.channels.rest import parse_rest_body
from bot.engine import Engine
from bot.settings import Settings
from concierge.compose import Services
from console.app import create_app
from console.audit import AuditFilter
from console.security.platform import ConsolePlatform
from console.security.sessions import SESSION_COOKIE
from tests.console.conftest import add_user, client_for, served, sign_in
from tests.console.workspace_support import (
    COMPLAINT,
    VIP_EMAIL,
    demo_settings,
    say,
    session_id,
)

API = "/api/workspace"


@pytest.fixture
async def app(services: Services, model_dir: Path, tmp_path: Path) -> AsyncIterator[FastAPI]:
    built = create_app(demo_settings(model_dir, tmp_path), services=services)
    platform: ConsolePlatform = await built.state.console.ready()
    await add_user(platform, "anna.kowalska", "agent", agent_id="anna.kowalska")
    await add_user(platform, "olena.shevchenko", "agent", agent_id="olena.shevchenko")
    await add_user(platform, "kasia", "manager")
    await add_user(platform, "ewa", "editor")
    try:
        yield built
    finally:
        workspace = getattr(built.state, "workspace", None)
        if workspace is not None:
            await workspace.close()
        await built.state.console.close()


@asynccontextmanager
async def signed_in(
    app: FastAPI, username: str, base_url: str = "http://testserver"
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with client_for(app, base_url) as client:
        csrf = await sign_in(client, username)
        yield client, {"X-CSRF-Token": csrf}


def path(cid: str, action: str = "") -> str:
    return f"{API}/conversations/{cid}" + (f"/{action}" if action else "")


async def test_the_page_is_served_with_its_own_script_and_no_inline_code(app: FastAPI) -> None:
    async with signed_in(app, "anna.kowalska") as (client, _):
        page = await client.get("/console/workspace")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<script src="/static/workspace.js" defer></script>' in page.text
        assert "<script>" not in page.text and "onclick=" not in page.text
        assert 'id="queue-list"' in page.text and 'role="log"' in page.text
        async with signed_in(app, "ewa") as (editor, _):
            assert (await editor.get("/console/workspace")).status_code == 403
            assert (await editor.get(f"{API}/queue")).status_code == 403


async def test_an_agent_works_a_conversation_through_the_api_and_every_change_is_audited(
    app: FastAPI, engine: Engine
) -> None:
    sender = session_id()
    await say(engine, sender, COMPLAINT, email=VIP_EMAIL)
    cid = f"widget:{sender}"
    async with (
        signed_in(app, "anna.kowalska") as (anna, anna_csrf),
        signed_in(app, "olena.shevchenko") as (olena, olena_csrf),
    ):
        queue = (await anna.get(f"{API}/queue")).json()
        assert queue["entries"][0]["conversation_id"] == cid and queue["entries"][0]["tier"] == "VIP"
        me = (await anna.get(f"{API}/me")).json()
        assert (me["actor_id"], me["status"], me["can_assign"]) == ("anna.kowalska", "offline", False)

        assert (await anna.post(path(cid, "claim"), json={})).status_code == 403  # no CSRF header
        claimed = await anna.post(path(cid, "claim"), json={}, headers=anna_csrf)
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["conversation"]["holder_is_you"] is True
        again = await olena.post(path(cid, "claim"), json={}, headers=olena_csrf)
        assert again.status_code == 409 and "Anna Kowalska" in again.json()["message"]
        foreign = await olena.post(path(cid, "reply"), json={"text": "hi"}, headers=olena_csrf)
        assert foreign.status_code == 403 and foreign.json()["error"] == "forbidden"
        blank = await anna.post(path(cid, "reply"), json={"text": "   "}, headers=anna_csrf)
        assert blank.status_code == 422

        replied = await anna.post(
            path(cid, "reply"), json={"text": "Anna here, so sorry!"}, headers=anna_csrf
        )
        assert replied.status_code == 200
        assert replied.json()["delivery"] == {
            "seq": replied.json()["delivery"]["seq"],
            "channel": "widget",
            "delivered": True,
            "queued": False,
            "error": None,
            "error_kind": None,
        }
        noted = await anna.post(
            path(cid, "notes"), json={"text": "free repair", "to_client": False}, headers=anna_csrf
        )
        assert noted.json()["conversation"]["lines"][-1]["kind"] == "note"
        lines = (
            await anna.get(
                path(cid, "lines"), params={"after_seq": noted.json()["conversation"]["last_seq"] - 2}
            )
        ).json()
        assert [line["kind"] for line in lines] == ["agent", "note"]
        suggestions = (await anna.get(path(cid, "suggestions"))).json()
        assert suggestions["passages"] and suggestions["passages"][0]["title"]
        canned = (await anna.get(path(cid, "canned"))).json()
        assert canned[0]["text"].startswith("Hello Aleksandra, this is Anna")
        presence = await anna.post(f"{API}/presence", json={"status": "away"}, headers=anna_csrf)
        assert presence.json()["status"] == "away"
        agents = {a["id"]: a for a in (await anna.get(f"{API}/agents")).json()}
        assert (agents["anna.kowalska"]["status"], agents["anna.kowalska"]["active_chats"]) == ("away", 1)

        resolved = await anna.post(path(cid, "resolve"), json={"ask_csat": True}, headers=anna_csrf)
        assert resolved.status_code == 200 and resolved.json()["csat_asked"] is True
        assert resolved.json()["conversation"]["status"] == "bot"
        missing = await anna.get(path("widget:nobody-here"))
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    platform: ConsolePlatform = await app.state.console.ready()
    entries, _ = await platform.audit.entries(AuditFilter(action="workspace.*"))
    by_action = {e.action: e for e in entries}
    assert {
        "workspace.claim",
        "workspace.reply",
        "workspace.note",
        "workspace.presence",
        "workspace.resolve",
    } <= set(by_action)
    assert (
        by_action["workspace.claim"].actor == "anna.kowalska"
        and by_action["workspace.claim"].target == f"conversation:{cid}"
    )
    assert "Anna here" not in json.dumps(by_action["workspace.reply"].detail)  # who and whether, not what


async def test_two_agents_claiming_at_once_one_wins_and_the_other_gets_a_409_naming_the_holder(
    app: FastAPI, engine: Engine
) -> None:
    names = {"anna.kowalska": "Anna Kowalska", "olena.shevchenko": "Olena Shevchenko"}
    async with (
        signed_in(app, "anna.kowalska") as (anna, anna_csrf),
        signed_in(app, "olena.shevchenko") as (olena, olena_csrf),
    ):
        for _ in range(3):
            sender = session_id()
            await say(engine, sender, COMPLAINT, email=VIP_EMAIL)  # a VIP complaint: queued
            cid = f"widget:{sender}"
            answers = await asyncio.gather(
                anna.post(path(cid, "claim"), json={}, headers=anna_csrf),
                olena.post(path(cid, "claim"), json={}, headers=olena_csrf),
            )
            assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
            won, lost = sorted(answers, key=lambda a: a.status_code)
            holder = won.json()["conversation"]["assigned_to"]
            body = lost.json()
            assert body["error"] == "conflict" and names[holder] in body["message"]
            assert body["detail"] == {"status": "assigned", "holder": holder, "holder_name": names[holder]}
            moves = [e for e in await engine.store.events(cid) if getattr(e, "event", "") == "handoff_status"]
            assert [m.to_status for m in moves].count("assigned") == 1


async def test_contact_details_a_rest_caller_claims_show_as_unverified_never_as_a_client(
    app: FastAPI, engine: Engine
) -> None:
    sender = session_id()
    claims = {"contact_phone": "+48 793 455 021", "contact_name": "James Whitfield"}  # a VIP's phone
    body = {"sender": sender, "message": "I want to talk to a person please", "metadata": claims}
    await engine.handle(parse_rest_body(json.dumps(body).encode()).to_inbound("rest"))
    async with signed_in(app, "anna.kowalska") as (anna, _):
        view = (await anna.get(path(f"rest:{sender}"))).json()
    said = {"name": "James Whitfield", "phone": "+48 793 455 021", "email": None}
    assert view["client"] is None  # no client card: a claim is not a client
    assert view["unverified_contact"] == said
    assert view["packet"]["client"] is None and view["packet"]["tier"] == "Standard"
    assert view["packet"]["unverified_contact"] == said


async def test_a_manager_assigns_and_transfers(app: FastAPI, engine: Engine) -> None:
    sender = session_id()
    await say(engine, sender, COMPLAINT, email=VIP_EMAIL)
    cid = f"widget:{sender}"
    async with signed_in(app, "kasia") as (kasia, csrf):
        assigned = await kasia.post(path(cid, "claim"), json={"agent_id": "olena.shevchenko"}, headers=csrf)
        assert (
            assigned.status_code == 200
            and assigned.json()["conversation"]["assigned_to"] == "olena.shevchenko"
        )
        offline = await kasia.post(
            path(cid, "transfer"),
            json={"to_agent": "anna.kowalska", "reason": "her concierge is back"},
            headers=csrf,
        )
        assert offline.status_code == 409 and offline.json()["error"] == "agent_unavailable"
        assert offline.json()["detail"] == {"agent_id": "anna.kowalska", "why": "offline"}
        moved = await kasia.post(
            path(cid, "transfer"),
            json={"to_agent": "anna.kowalska", "reason": "her concierge is back", "override": True},
            headers=csrf,
        )
        assert moved.json()["conversation"]["assigned_to"] == "anna.kowalska"
        assert moved.json()["note"] == "overridden: anna.kowalska is offline"
        unreasoned = await kasia.post(path(cid, "transfer"), json={"reason": ""}, headers=csrf)
        assert unreasoned.status_code == 422
    platform: ConsolePlatform = await app.state.console.ready()
    entries, _ = await platform.audit.entries(AuditFilter(action="workspace.*"))
    assert [e.action for e in entries][:2] == ["workspace.transfer", "workspace.assign"]
    assert entries[0].detail == {
        "to_agent": "anna.kowalska",
        "reason": "her concierge is back",
        "overridden": "overridden: anna.kowalska is offline",
    }


async def recv(ws: Any, kind: str) -> dict[str, Any]:
    """The next frame of ``kind`` (others are skipped), within 15 s."""
    async with asyncio.timeout(15):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame  # type: ignore[no-any-return]


async def queue_with(ws: Any, wanted: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The entries of the first queue frame that satisfies ``wanted`` (earlier snapshots are skipped)."""
    while True:
        entries: list[dict[str, Any]] = (await recv(ws, "queue"))["queue"]["entries"]
        if wanted(entries):
            return entries


async def test_the_socket_pushes_the_queue_and_new_lines_and_resumes_by_seq(
    app: FastAPI, engine: Engine
) -> None:
    async with served(app) as url:
        async with signed_in(app, "anna.kowalska", url) as (client, csrf):
            await client.get(f"{API}/queue")  # builds the workspace
            app.state.workspace.hub.interval = 0.05
            headers = {"Origin": url, "Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"}
            ws_url = url.replace("http", "ws", 1) + f"{API}/ws"
            async with websockets.connect(ws_url, additional_headers=headers) as ws:
                assert (await recv(ws, "me"))["me"]["username"] == "anna.kowalska"
                assert (await recv(ws, "queue"))["queue"]["entries"] == []
                sender = session_id()
                await say(engine, sender, COMPLAINT, email=VIP_EMAIL)
                cid = f"widget:{sender}"
                queue = await queue_with(ws, lambda entries: bool(entries))
                assert [(e["conversation_id"], e["reason"]) for e in queue] == [(cid, "rule:vip_complaint")]
                await ws.send(json.dumps({"type": "open", "conversation_id": cid, "last_seq": None}))
                first = (await recv(ws, "lines"))["lines"]
                assert first[0]["kind"] == "client" and first[0]["text"] == COMPLAINT
                last_seq = first[-1]["seq"]
                await client.post(path(cid, "claim"), json={}, headers=csrf)
                claimed: dict[str, Any] | None = None
                pushed: list[dict[str, Any]] = []
                async with asyncio.timeout(15):  # the claim's line and the new queue, in either order
                    while claimed is None or not pushed:
                        frame = json.loads(await ws.recv())
                        if frame["type"] == "lines":
                            pushed += frame["lines"]
                        elif (
                            frame["type"] == "queue" and frame["queue"]["entries"][0]["status"] == "assigned"
                        ):
                            claimed = frame["queue"]["entries"][0]
                assert claimed["assigned_to"] == "anna.kowalska"
                assert [line["text"] for line in pushed] == ["Claimed by Anna Kowalska"]
            # offline meanwhile: the client writes; a reconnect with last_seq gets what was missed
            await say(engine, sender, "are you there?")
            async with websockets.connect(ws_url, additional_headers=headers) as ws:
                await ws.send(json.dumps({"type": "open", "conversation_id": cid, "last_seq": last_seq}))
                missed = (await recv(ws, "lines"))["lines"]
                assert [(line["kind"], line["text"]) for line in missed] == [
                    ("event", "Claimed by Anna Kowalska"),
                    ("client", "are you there?"),
                ]
                await ws.send("not json")
                assert "open" in (await recv(ws, "error"))["message"]
                app.state.workspace.hub.refresh = 0.2
                await client.post("/console/logout", headers=csrf)  # the session ends: the socket closes
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    async with asyncio.timeout(10):
                        while True:
                            await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_without_a_running_engine_the_api_says_so(model_dir: Path, tmp_path: Path) -> None:
    settings: Settings = demo_settings(model_dir, tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}")
    bare = create_app(settings)  # lifespan not run: no engine
    platform: ConsolePlatform = await bare.state.console.ready()
    await add_user(platform, "anna.kowalska", "agent", agent_id="anna.kowalska")
    try:
        async with signed_in(bare, "anna.kowalska") as (client, _):
            answer = await client.get(f"{API}/queue")
            assert answer.status_code == 503 and "engine is not running" in answer.json()["message"]
    finally:
        await bare.state.console.close()
