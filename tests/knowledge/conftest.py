"""Shared fixtures: one MiniLM per test session, the demo knowledge base indexed once.

Tests that change an index work on ``await demo_store.snapshot()`` (an in-memory copy
with the vectors, nothing re-embedded) so the shared index stays as shipped.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.golden import GoldenQuestion, load_golden
from knowledge.markdown import load_articles
from knowledge.models import Article

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed (to check incremental re-indexing)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(scope="session")
def encoder() -> object:
    from knowledge.encoder import default_encoder

    return default_encoder()


@pytest.fixture(scope="session")
def demo_articles(repo_dir: Path) -> list[Article]:
    return load_articles(repo_dir / "data" / "knowledge")


@pytest.fixture(scope="session")
def golden(repo_dir: Path) -> list[GoldenQuestion]:
    return load_golden(repo_dir / "data" / "knowledge_tests.yml")


@pytest.fixture(scope="session")
def demo_store(encoder: object, demo_articles: list[Article]) -> Iterator[ChromaKnowledgeStore]:
    store = ChromaKnowledgeStore.in_memory(encoder)  # type: ignore[arg-type]
    store.upsert_many_sync(demo_articles)
    yield store
    store.drop()


@pytest.fixture
def store_copy(demo_store: ChromaKnowledgeStore) -> Iterator[ChromaKnowledgeStore]:
    """A private, writable copy of the demo index."""
    copy = demo_store.snapshot_sync()
    yield copy
    copy.drop()


@pytest_asyncio.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated SQLite database (the real Alembic revisions, 0002_knowledge included)."""
    from bot.migrations import upgrade
    from bot.store.database import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(upgrade)
    yield engine
    await engine.dispose()


@pytest.fixture
def article() -> Iterator[Article]:
    yield Article(
        id="test-article",
        title="Test article about sauna towels",
        category="general",
        tags=["sauna", "towels"],
        answer="Towels for the sauna are free for every client.",
        body="## Towels\n\nTowels for the sauna are free.\n\n## Robes\n\nRobes cost 20 PLN to rent.",
    )
