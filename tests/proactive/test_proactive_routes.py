"""The approval queue's API: an agent lists the VIP greeting waiting for approval, with the text
the client would read, approves it (audited in the same transaction), and a second decision
gets 409; a rejected one is cancelled. Real SQLite and PostgreSQL behind the console app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from bot.audit import audit
from bot.events import UserUttered
from bot.settings import Settings
from bot.store import EventStore
from proactive.schedule import insert_rows, new_row
from proactive.tables import proactive_messages
from tests.console.conftest import add_user, client_for, sign_in

DUE = datetime(2027, 9, 14, 8, 0, tzinfo=UTC)


@dataclass
class StoreOnly:
    """The running bot as these routes read it: the event store behind the engine."""

    store: EventStore


@dataclass(frozen=True)
class Running:
    """What the console reads of the running bot (only the engine's store is used here)."""

    engine: StoreOnly
    handoff: Any = None
    knowledge: Any = None


@pytest_asyncio.fixture
async def app(store: EventStore, tmp_path: Path) -> AsyncIterator[FastAPI]:
    database = store.engine.url.render_as_string(hide_password=False)
    settings = Settings(project_dir=tmp_path, state_dir=tmp_path / "state", database_url=database)
    for n, state in enumerate(("awaiting_approval", "awaiting_approval", "scheduled")):
        conversation = f"whatsapp_cloud:c{n}"
        await store.append(conversation, [UserUttered(text="hi")])
        async with store.engine.begin() as conn:
            row = new_row(
                key=f"birthday:client-{n}:2027",
                kind="birthday",
                conversation_id=conversation,
                client_id=f"client-{n}",
                due_at=DUE,
                params={"tier": "VIP"},
                now=DUE,
                language="pl",
                state=state,
            )
            await conn.execute(insert_rows(conn.dialect.name, [row]))
    application = create(settings, store)
    platform = await application.state.console.ready()
    await add_user(platform, "anna", "agent", agent_id="anna.kowalska")
    try:
        yield application
    finally:
        await application.state.console.close()


def create(settings: Settings, store: EventStore) -> FastAPI:
    from console.app import create_app

    return create_app(settings, services=Running(StoreOnly(store)))  # type: ignore[arg-type]


async def test_an_agent_approves_one_rejects_another_and_both_are_audited(
    app: FastAPI, store: EventStore
) -> None:
    async with client_for(app) as client:
        assert (await client.get("/api/proactive/approvals")).status_code == 401
        csrf = await sign_in(client, "anna")
        headers = {"X-CSRF-Token": csrf}
        page = await client.get("/console/proactive")
        assert page.status_code == 200 and "console-proactive.js" in page.text
        waiting = (await client.get("/api/proactive/approvals")).json()
        assert [(w["kind"], w["client_id"]) for w in waiting] == [
            ("birthday", "client-0"),
            ("birthday", "client-1"),
        ]
        assert all("urodzin" in w["text"] for w in waiting)  # what the client would read, in Polish

        first, second = waiting[0]["id"], waiting[1]["id"]
        approved = await client.post(f"/api/proactive/approvals/{first}/approve", headers=headers)
        assert approved.status_code == 200 and approved.json()["state"] == "scheduled"
        again = await client.post(f"/api/proactive/approvals/{first}/reject", headers=headers)
        assert again.status_code == 409 and "not waiting" in again.json()["detail"]["message"]
        rejected = await client.post(f"/api/proactive/approvals/{second}/reject", headers=headers)
        assert rejected.status_code == 200 and rejected.json()["state"] == "cancelled"
        unsigned = await client.post(f"/api/proactive/approvals/{second}/approve")
        assert unsigned.status_code == 403  # no CSRF token
        assert (await client.get("/api/proactive/approvals")).json() == []

    async with store.engine.connect() as conn:
        states = dict((await conn.execute(select(proactive_messages.c.id, proactive_messages.c.state))).all())
        entries = (await conn.execute(select(audit.c.actor, audit.c.action, audit.c.target))).all()
    assert states[first] == "scheduled" and states[second] == "cancelled"
    assert sorted(tuple(e) for e in entries if e.action.startswith("proactive.")) == [
        ("anna", "proactive.approve", "conversation:whatsapp_cloud:c0"),
        ("anna", "proactive.reject", "conversation:whatsapp_cloud:c1"),
    ]
