"""Fixtures for channel tests: the real engine on a small bot, inside the app, on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from bot.engine import Engine
from bot.settings import Settings
from bot.store import EventStore
from console.app import create_app
from tests.database_support import BACKENDS
from tests.database_support import migrated_store as migrated_store_on

from .helpers import real_engine, serving, train_widget_bot


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


@pytest.fixture
async def engine(trained: Settings, tmp_path: Path) -> AsyncIterator[Engine]:
    async with real_engine(trained, tmp_path) as engine:
        yield engine


@pytest.fixture
def app(engine: Engine, trained: Settings) -> FastAPI:
    return create_app(trained, engine=engine)


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def migrated_store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[EventStore]:
    """A migrated event store on SQLite or on PostgreSQL in a throwaway schema (outbox tests)."""
    async with migrated_store_on(request.param, tmp_path, postgres_url, "test_outbox") as store:
        yield store
