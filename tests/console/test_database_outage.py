"""PostgreSQL goes away under a running server (its login is disabled and its sessions are
ended, for this app's own role only): ``/health`` says degraded with 503, a message that
cannot be stored is refused (the client retries), and everything works again when the
database is back, without a restart."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.settings import Settings
from bot.store import async_url, scratch_schema
from bot.store.database import create_engine
from concierge.serve import create_app
from tests.bot.channels.helpers import HOURS, serving, train_widget_bot

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]

GUARD = 60.0  # seconds a test waits for something before it fails


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


class Database:
    """A role of the test's own on the machine's PostgreSQL, which the test can lock out."""

    def __init__(self, admin_url: str, role: str) -> None:
        self.admin_url = admin_url
        self.role = role

    async def admin(self, *statements: str) -> None:
        engine = create_engine(self.admin_url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    async def go_away(self) -> None:
        await self.admin(
            f'ALTER ROLE "{self.role}" NOLOGIN',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{self.role}'",
        )

    async def come_back(self) -> None:
        await self.admin(f'ALTER ROLE "{self.role}" LOGIN')


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[tuple[Database, str]]:
    """A login role owning a throwaway schema; yields it and the app's database URL."""
    role = f"outage_{uuid.uuid4().hex[:10]}"
    async with scratch_schema(postgres_url, "test_db_outage") as schema:
        db = Database(postgres_url, role)
        await db.admin(f'CREATE ROLE "{role}" LOGIN', f'GRANT ALL ON SCHEMA "{schema}" TO "{role}"')
        try:
            url = make_url(postgres_url).set(username=role)
            yield db, async_url(url, schema=schema).render_as_string(hide_password=False)
        finally:
            await db.admin(f'ALTER ROLE "{role}" LOGIN')
            await db.admin(f'DROP OWNED BY "{role}" CASCADE', f'DROP ROLE "{role}"')


async def health(client: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    response = await client.get("/health")
    return response.status_code, response.json()


async def frames_until(ws: websockets.ClientConnection, wanted: object) -> list[dict[str, object]]:
    seen = []
    async with asyncio.timeout(GUARD):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if frame == wanted or (callable(wanted) and wanted(frame)):
                return seen


async def test_health_degrades_while_the_database_is_away_and_work_resumes_after(
    trained: Settings, tmp_path: Path, database: tuple[Database, str]
) -> None:
    db, url = database
    settings = trained.model_copy(update={"state_dir": tmp_path, "database_url": url})
    session = uuid.uuid4().hex[:16]
    async with (
        serving(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        code, report = await health(client)
        assert code == 200 and report["status"] == "ok"
        async with websockets.connect(base_url.replace("http", "ws", 1) + "/webhooks/widget/ws") as ws:
            await ws.send(json.dumps({"type": "hello", "session_id": session, "last_seq": None}))
            assert json.loads(await asyncio.wait_for(ws.recv(), GUARD))["type"] == "history"

            await db.go_away()
            code, report = await health(client)
            assert code == 503 and report["status"] == "degraded"
            components = report["components"]
            assert isinstance(components, dict) and components["database"]["status"] == "down"
            client_id = uuid.uuid4().hex
            message = json.dumps({"type": "message", "client_id": client_id, "text": "when are you open"})
            await ws.send(message)
            refused = await frames_until(ws, lambda f: f["type"] in ("ack", "error"))
            assert refused[-1]["type"] == "error" and refused[-1]["retry"] is True  # not stored: retry

            await db.come_back()
            async with asyncio.timeout(GUARD):
                while (await health(client))[0] != 200:  # noqa: ASYNC110  # we can only ask the server
                    await asyncio.sleep(0.2)
            await ws.send(message)  # the widget's retry, same client id
            answered = await frames_until(
                ws, lambda f: f["type"] == "message" and f["entry"]["sender"] == "bot"
            )
            assert {"type": "ack", "client_id": client_id} in answered
            assert answered[-1]["entry"]["text"] == HOURS
