"""``create_app`` serving for real: it builds its engine from settings, recovers, and shuts down."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest
import websockets
from pydantic import SecretStr

from bot.errors import ConciergeError
from bot.models import InboundMessage
from bot.settings import Settings
from concierge.serve import create_app
from tests.bot.channels.helpers import WELCOME, real_engine, serving, train_widget_bot


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


async def test_serving_builds_the_engine_from_settings_and_closes_it(
    trained: Settings, tmp_path: Path
) -> None:
    token = "rest-token-of-this-deployment"  # outside demo mode REST callers need one
    app = create_app(trained.model_copy(update={"state_dir": tmp_path, "rest_token": SecretStr(token)}))
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = {"sender": "ana", "message": "hello"}
        bearer = {"Authorization": f"Bearer {token}"}
        replies = (await client.post("/webhooks/rest/webhook", json=body, headers=bearer)).json()
        health = (await client.get("/health")).json()
    assert [r["text"] for r in replies] == [WELCOME]
    assert health["status"] == "ok"
    components = {"database", "nlu", "policies", "locks", "channel:rest", "channel:widget"}
    assert components <= set(health["components"])
    assert app.state.handler.engine is None  # closed at shutdown
    # the conversation is in the database the settings name
    async with real_engine(trained, tmp_path) as engine:
        assert [e.text for e in await engine.history("rest:ana")] == ["hello", WELCOME]


async def test_a_message_stored_before_a_crash_is_answered_at_startup(
    trained: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with real_engine(trained, tmp_path) as engine:  # stored, then the process died
        message = InboundMessage(channel="widget", sender_id="visitor-0001", text="hello", message_id="m-1")
        assert await engine.receive(message)
    app = create_app(trained.model_copy(update={"state_dir": tmp_path}))
    caplog.set_level(logging.WARNING, logger="bot.recovery")
    async with serving(app) as url:
        # start-up does not wait for recovery (bot/recovery.py sweeps in the background), so
        # the visitor's history is read until the answer shows, for at most 30 seconds
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with websockets.connect(url.replace("http", "ws", 1) + "/webhooks/widget/ws") as ws:
                await ws.send(json.dumps({"type": "hello", "session_id": "visitor-0001", "last_seq": None}))
                history = json.loads(await ws.recv())
            lines = [(e["sender"], e["text"]) for e in history["entries"]]
            if ("bot", WELCOME) in lines or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
    assert lines == [("client", "hello"), ("bot", WELCOME)]
    # the only message was the stored one, and the background sweep is what answered it
    assert "recovery: answered 1 message(s) left unanswered" in caplog.messages
    async with real_engine(trained, tmp_path) as engine:
        assert await engine.store.pending_inbound() == []


async def test_a_project_that_cannot_load_stops_startup_with_its_reason(tmp_path: Path) -> None:
    app = create_app(Settings(project_dir=tmp_path / "missing", state_dir=tmp_path))
    with pytest.raises(ConciergeError, match="missing"):
        async with app.router.lifespan_context(app):  # what uvicorn runs before serving
            pass
