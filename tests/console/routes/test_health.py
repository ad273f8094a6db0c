"""``GET /health``: each component's state; 503 while something is down."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.settings import Settings
from console.app import create_app
from tests.bot.channels.helpers import real_engine, train_widget_bot


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


async def get_health(app: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/health")


async def test_every_component_is_reported(trained: Settings, tmp_path: Path) -> None:
    async with real_engine(trained, tmp_path) as engine:
        response = await get_health(create_app(trained, engine=engine))
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    assert report["components"]["database"] == {"status": "ok", "detail": "sqlite"}
    assert report["components"]["policies"]["detail"] == "RulePolicy, MemoizationPolicy"
    assert report["components"]["channel:rest"] == {"status": "ok", "detail": ""}
    assert report["components"]["channel:widget"] == {"status": "ok", "detail": "0 open connections"}


async def test_a_component_that_is_down_makes_it_degraded_and_503(tmp_path: Path) -> None:
    response = await get_health(create_app(Settings(project_dir=tmp_path)))  # the engine never started
    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "degraded"
    assert report["components"]["engine"] == {"status": "down", "detail": "not started"}
    assert report["components"]["channel:widget"]["status"] == "ok"
