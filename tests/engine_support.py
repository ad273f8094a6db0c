"""The real engine on a small project written by the test: one way to build it, shared by the
engine, handoff and race tests (tests/bot/test_engine*.py, tests/handoff/test_never_silent.py,
tests/handoff/test_handoff_service.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from bot.engine import Engine
from bot.settings import Settings
from bot.store import async_url, scratch_schema
from concierge.compose import build_engine


def write_project(root: Path, files: Mapping[str, str]) -> Path:
    """Write a project's files (``domain.yml``, ``data/nlu.yml``, ...) under ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@asynccontextmanager
async def database_url(database: str, postgres_url: str, prefix: str) -> AsyncIterator[str | None]:
    """``None`` for SQLite (the engine's file in its state directory), or the URL of a scratch
    PostgreSQL schema named after ``prefix``, dropped afterwards."""
    if database != "postgresql":
        yield None
        return
    async with scratch_schema(postgres_url, prefix) as schema:
        yield async_url(postgres_url, schema=schema).render_as_string(hide_password=False)


@asynccontextmanager
async def project_engine(
    project: Path,
    state: Path,
    *,
    url: str | None = None,
    redis_url: str | None = None,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[Engine]:
    """The project's engine (its model trained once into ``project/models``), closed afterwards."""
    settings = Settings(
        project_dir=project,
        model_dir=project / "models",
        state_dir=state,
        database_url=url,
        redis_url=redis_url,
    )
    engine = await build_engine(settings, clock=clock or time.time)
    try:
        yield engine
    finally:
        await engine.close()
