"""``concierge run --workers N``: N processes on one port, sharing the database and Redis."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from bot.settings import Settings
from concierge.cli import app
from tests.bot.channels.helpers import HOURS, train_widget_bot
from tests.console.cluster import REPO, free_port

pytestmark = [pytest.mark.redis, pytest.mark.timeout(900)]

REDIS_DB = 15  # a database of its own on the machine's Redis; only our keys are removed after


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


def test_several_workers_need_redis(
    trained: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONCIERGE_REDIS_URL", raising=False)
    monkeypatch.setenv("CONCIERGE_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app,
        ["run", "--project", str(trained.project_dir), "--model", str(trained.model_dir), "--workers", "2"],
    )
    assert result.exit_code == 1
    assert "--workers needs CONCIERGE_REDIS_URL" in result.output


async def test_two_workers_serve_one_port_and_share_the_conversation(
    trained: Settings, tmp_path: Path, redis_url: str
) -> None:
    shared_redis = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    port = free_port()
    log = tmp_path / "workers.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CONCIERGE_REDIS_URL": shared_redis,
        "CONCIERGE_STATE_DIR": str(tmp_path / "state"),  # one SQLite file for both workers
        "CONCIERGE_DEMO": "true",  # REST open without a token
    }
    command = [sys.executable, "-m", "concierge.cli", "run", "--project", str(trained.project_dir)]
    command += ["--model", str(trained.model_dir), "--port", str(port), "--workers", "2"]
    with log.open("wb") as out:
        server = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            async with asyncio.timeout(600):
                while True:  # another process: we can only ask it
                    assert server.returncode is None, log.read_text()
                    try:
                        if (await client.get("/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.5)
            # both workers start (one after the other: the start-up lock) before the port is busy
            async with asyncio.timeout(600):
                while len(set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))) < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
            async with asyncio.timeout(600):
                while log.read_text().count("Application startup complete") < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
            # messages of one conversation over separate connections (so either worker may
            # take each): every one is answered, in order, once
            for n in range(6):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as fresh:
                    reply = await fresh.post(
                        "/webhooks/rest/webhook",
                        json={
                            "sender": "workers-test",
                            "message": "when are you open",
                            "message_id": f"m{n}",
                        },
                    )
                    assert reply.status_code == 200, reply.text
                    assert [r.get("text") for r in reply.json()] == [HOURS]
            assert (await client.get("/health")).json()["status"] == "ok"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(60):
                await server.wait()
        except TimeoutError:
            os.killpg(server.pid, signal.SIGKILL)
            await server.wait()
        redis = Redis.from_url(shared_redis)
        keys = [k async for k in redis.scan_iter(match="concierge:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_run_says_it_is_up_only_once_the_server_answers(trained: Settings, tmp_path: Path) -> None:
    # the URL used to be printed before the engine was built (~28 s before the port answered)
    port = free_port()
    log = tmp_path / "run.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CONCIERGE_STATE_DIR": str(tmp_path / "state"),
        "CONCIERGE_DEMO": "true",
    }
    env.pop("CONCIERGE_REDIS_URL", None)
    command = [sys.executable, "-m", "concierge.cli", "run", "--project", str(trained.project_dir)]
    command += ["--model", str(trained.model_dir), "--port", str(port)]
    with log.open("wb") as out:
        server = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True
        )
    try:
        async with asyncio.timeout(600):
            while "Concierge is up" not in log.read_text():
                assert server.returncode is None, log.read_text()
                await asyncio.sleep(0.05)
        # the moment it says so, the port answers (no connection refused)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert (await client.get("/health")).status_code in (200, 503)
        assert f"demo page http://127.0.0.1:{port}/" in log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(60):
                await server.wait()
        except TimeoutError:
            os.killpg(server.pid, signal.SIGKILL)
            await server.wait()
