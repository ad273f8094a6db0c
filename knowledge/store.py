"""The seam every knowledge backend implements, and helpers they share.

A store indexes published articles and retrieves passages for a question, filtered by
language and by the articles' validity dates. :class:`knowledge.chroma_store.ChromaKnowledgeStore`
is the implementation (Chroma embedded or as a server, plus BM25 in process).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from knowledge.models import Article, Passage

OPEN_START = 0
OPEN_END = 99991231


def day_key(day: date | None, default: int) -> int:
    """A date as an int ``YYYYMMDD`` (Chroma filters compare numbers, not dates)."""
    return default if day is None else day.year * 10000 + day.month * 100 + day.day


class UpsertResult(BaseModel):
    """What an upsert changed, in chunks; ``unchanged`` True when the article's hash matched."""

    article_id: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: bool = False


@runtime_checkable
class KnowledgeStore(Protocol):
    """Index of published articles with hybrid retrieval."""

    async def search(self, query: str, language: str, k: int = 5, *, on: date | None = None) -> list[Passage]:
        """The ``k`` best passages in ``language`` valid ``on`` (default today), best first."""
        ...

    async def upsert(self, article: Article) -> UpsertResult:
        """Index an article (re-embedding only the chunks whose text changed)."""
        ...

    async def delete(self, article_id: str) -> int:
        """Remove an article's chunks; returns how many were removed."""
        ...

    async def article_hashes(self) -> dict[str, str]:
        """Content hash of every indexed article, by id (what incremental ingest compares)."""
        ...
