"""Redis goes away under a running server (the test's own redis-server, killed and started
again): ``/health`` says degraded with 503 meanwhile, a client's message accepted during the
outage is answered once Redis is back, and live delivery to the widget resumes by itself."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from bot.settings import Settings
from concierge.serve import create_app
from tests.bot.channels.helpers import HOURS, serving, train_widget_bot
from tests.redis_server import OwnRedis, own_redis

pytestmark = [pytest.mark.redis, pytest.mark.timeout(600)]

GUARD = 60.0  # seconds a test waits for recovery before it fails (a sweep runs every 5 s)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


@pytest.fixture
async def redis() -> AsyncIterator[OwnRedis]:
    async with own_redis() as server:
        yield server


@pytest.fixture
async def base_url(trained: Settings, tmp_path: Path, redis: OwnRedis) -> AsyncIterator[str]:
    """The whole app building its own engine (as ``concierge run`` does) on the test's Redis."""
    settings = trained.model_copy(update={"state_dir": tmp_path, "redis_url": redis.url})
    async with serving(create_app(settings)) as url:
        yield url


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


async def test_health_degrades_and_processing_resumes_when_redis_returns(
    base_url: str, redis: OwnRedis
) -> None:
    session = uuid.uuid4().hex[:16]
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        code, report = await health(client)
        assert code == 200 and report["status"] == "ok"

        ws_url = base_url.replace("http", "ws", 1) + "/webhooks/widget/ws"
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"type": "hello", "session_id": session, "last_seq": None}))
            assert json.loads(await asyncio.wait_for(ws.recv(), GUARD))["type"] == "history"

            await redis.stop()
            code, report = await health(client)
            assert code == 503 and report["status"] == "degraded"
            components = report["components"]
            assert isinstance(components, dict)
            assert components["locks"]["status"] == "down" and components["live"]["status"] == "down"

            client_id = uuid.uuid4().hex
            await ws.send(
                json.dumps({"type": "message", "client_id": client_id, "text": "when are you open"})
            )
            during = await frames_until(ws, {"type": "typing", "on": False})
            assert {"type": "ack", "client_id": client_id} in during  # stored durably before the ack
            assert not any(f["type"] == "message" and f["entry"]["sender"] == "bot" for f in during)

            await redis.start()
            async with asyncio.timeout(GUARD):
                while (await health(client))[0] != 200:  # noqa: ASYNC110  # another server: we can only ask
                    await asyncio.sleep(0.2)
            # the recovery sweep answers the stored message; the socket gets it without asking
            after = await frames_until(ws, lambda f: f["type"] == "message" and f["entry"]["sender"] == "bot")
            assert after[-1]["entry"]["text"] == HOURS

        async with websockets.connect(ws_url) as again:  # a reconnect shows everything, once
            await again.send(json.dumps({"type": "hello", "session_id": session, "last_seq": None}))
            history = json.loads(await asyncio.wait_for(again.recv(), GUARD))
            texts = [(e["sender"], e["text"]) for e in history["entries"]]
            assert texts == [("client", "when are you open"), ("bot", HOURS)]
