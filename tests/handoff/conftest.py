"""Real databases for the handoff tests: SQLite in a temp dir and PostgreSQL in a per-test schema,
both built by the project's Alembic revisions (the same path production takes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.store import EventStore
from console.audit import AuditLog
from handoff.clients import ClientStore
from handoff.config import HandoffConfig
from tests.database_support import BACKENDS, migrated_store

TODAY = date(2026, 11, 24)


@pytest.fixture(params=BACKENDS)
async def event_store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[EventStore]:
    """A migrated event store; its engine also holds the client tables."""
    async with migrated_store(request.param, tmp_path, postgres_url, "test_handoff") as store:
        yield store


@pytest.fixture
def handoff_config() -> HandoffConfig:
    return HandoffConfig()


@pytest.fixture
def audit_log(event_store: EventStore) -> AuditLog:
    """The console's audit log on the same database: where client merges are recorded."""
    return AuditLog(event_store.engine)


@pytest.fixture
async def client_store(
    event_store: EventStore, handoff_config: HandoffConfig, audit_log: AuditLog
) -> ClientStore:
    """Client profiles on the event store's engine, with "today" fixed for tier rules and
    merges audited (as the running bot wires it)."""
    return ClientStore(event_store.engine, handoff_config.tiers, today=lambda: TODAY, audit=audit_log)


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> Path:
    """The Mariia Hub demo bot (this repository) trained once per test session, sentiment included."""
    from bot.agent import Agent

    model_dir = tmp_path_factory.mktemp("handoff_demo_model") / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        Agent.load_or_train(repo_dir, model_dir)
    return model_dir
