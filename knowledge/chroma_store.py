"""The knowledge store on Chroma (dense vectors, metadata filters) plus BM25 in process.

Chroma holds every chunk with its MiniLM vector and metadata; this process keeps a
mirror of the chunk texts and filter fields so BM25 and the filters run in numpy.
A question is answered by fusing the two candidate lists (the union of the dense and the
BM25 top candidates):

    score = 0.7 * cosine + 0.2 * coverage + 0.1 * bm25 / best_bm25_among_candidates

where coverage is the IDF-weighted share of the question's words found in the chunk.
Cosine and coverage are bounded, so the fused score means nearly the same thing for
every question and the confidence guard can use fixed thresholds; the small relative
BM25 term breaks ties between chunks that cover the same words. The weights were tuned
on the golden questions (``data/knowledge_tests.yml``).

Chroma's clients are synchronous: every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings

from knowledge.chunking import chunk_article
from knowledge.encoder import ChromaEmbedding, TextEncoder
from knowledge.lexical import LexicalIndex
from knowledge.models import Article, Passage
from knowledge.store import OPEN_END, OPEN_START, UpsertResult, day_key

DEFAULT_COLLECTION = "knowledge"
PAGE = 2000
Progress = Callable[[int], None]


def chroma_settings() -> ChromaSettings:
    """Client settings: no telemetry (tests block the network; clients' data stays here)."""
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


@dataclass
class _Row:
    chunk_id: str
    article_id: str
    search_text: str
    meta: dict[str, Any]


class ChromaKnowledgeStore:
    """Hybrid retrieval over one Chroma collection; see the module docstring for the scoring."""

    def __init__(
        self,
        client: ClientAPI,
        encoder: TextEncoder,
        *,
        collection: str = DEFAULT_COLLECTION,
        dense_weight: float = 0.7,
        bm25_weight: float = 0.1,
        candidates: int = 20,
        per_article: int = 2,
    ) -> None:
        if len(collection) < 3:
            raise ValueError("Chroma collection names need at least 3 characters")
        self.client = client
        self.encoder = encoder
        self.collection_name = collection
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight
        self.candidates = candidates
        self.per_article = per_article
        self._collection = client.get_or_create_collection(
            collection,
            embedding_function=ChromaEmbedding(encoder),  # type: ignore[arg-type]
            metadata={"hnsw:space": "cosine"},
        )
        self._rows: dict[str, _Row] = {}
        self._chunks_of: dict[str, set[str]] = {}  # article id -> its chunk ids (no scan per article)
        self._lock = threading.RLock()
        self._dirty = True
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        self._masks: dict[tuple[str, int], np.ndarray | None] = {}
        self._lexical = LexicalIndex()
        self._lang = np.zeros(0, dtype="<U8")
        self._from = np.zeros(0, dtype=np.int64)
        self._to = np.zeros(0, dtype=np.int64)
        self._load_mirror()

    # ---- construction ----------------------------------------------------
    @classmethod
    def embedded(cls, path: str, encoder: TextEncoder, **kwargs: Any) -> ChromaKnowledgeStore:
        """Chroma in this process, persisted under ``path`` (the default deployment)."""
        import chromadb

        return cls(chromadb.PersistentClient(path=path, settings=chroma_settings()), encoder, **kwargs)

    @classmethod
    def remote(cls, url: str, encoder: TextEncoder, **kwargs: Any) -> ChromaKnowledgeStore:
        """A Chroma server (``chroma run``) at ``url``, e.g. ``http://127.0.0.1:8000``."""
        from urllib.parse import urlparse

        import chromadb

        parsed = urlparse(url)
        client = chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=chroma_settings(),
        )
        return cls(client, encoder, **kwargs)

    @classmethod
    def in_memory(cls, encoder: TextEncoder, **kwargs: Any) -> ChromaKnowledgeStore:
        """A throw-away in-memory store (what-if checks, benchmarks); unique collection name."""
        import chromadb

        kwargs.setdefault("collection", f"scratch-{uuid.uuid4().hex[:12]}")
        return cls(chromadb.EphemeralClient(settings=chroma_settings()), encoder, **kwargs)

    # ---- the KnowledgeStore seam ----------------------------------------
    async def search(self, query: str, language: str, k: int = 5, *, on: date | None = None) -> list[Passage]:
        """Hybrid search; see the module docstring."""
        return await asyncio.to_thread(self.search_sync, query, language, k, on)

    async def upsert(self, article: Article) -> UpsertResult:
        """Index one article, re-embedding only changed chunks."""
        results = await asyncio.to_thread(self.upsert_many_sync, [article])
        return results[0]

    async def upsert_many(
        self, articles: list[Article], progress: Progress | None = None
    ) -> list[UpsertResult]:
        """Index many articles with batched encoding (ingest, benchmarks)."""
        return await asyncio.to_thread(self.upsert_many_sync, articles, progress)

    async def delete(self, article_id: str) -> int:
        return await asyncio.to_thread(self.delete_sync, article_id)

    async def article_hashes(self) -> dict[str, str]:
        with self._lock:
            return {r.article_id: str(r.meta["article_hash"]) for r in self._rows.values()}

    async def snapshot(self) -> ChromaKnowledgeStore:
        """An in-memory copy (vectors included, nothing re-embedded) to try a change on."""
        return await asyncio.to_thread(self.snapshot_sync)

    def drop(self) -> None:
        """Delete this store's collection (scratch copies, tests)."""
        self.client.delete_collection(self.collection_name)

    @property
    def chunk_count(self) -> int:
        return len(self._rows)

    # ---- writes ----------------------------------------------------------
    def upsert_many_sync(
        self, articles: list[Article], progress: Progress | None = None
    ) -> list[UpsertResult]:
        results: list[UpsertResult] = []
        pending: list[tuple[str, str, dict[str, Any]]] = []
        stale: list[str] = []
        with self._lock:
            for article in articles:
                result, fresh, gone = self._plan(article)
                results.append(result)
                pending.extend(fresh)
                stale.extend(gone)
            if stale:
                self._collection.delete(ids=stale)
                for chunk_id in stale:
                    self._drop_row(chunk_id)
            batch = max(1, min(PAGE, self.client.get_max_batch_size()))
            for start in range(0, len(pending), batch):
                part = pending[start : start + batch]
                vectors = self.encoder.encode([text for _, text, _ in part])
                self._collection.upsert(
                    ids=[cid for cid, _, _ in part],
                    embeddings=vectors,
                    documents=[text for _, text, _ in part],
                    metadatas=[meta for _, _, meta in part],
                )
                for cid, text, meta in part:
                    self._put_row(_Row(cid, str(meta["article_id"]), text, meta))
                if progress:
                    progress(len(part))
            if pending or stale:
                self._dirty = True
        return results

    def _plan(
        self, article: Article
    ) -> tuple[UpsertResult, list[tuple[str, str, dict[str, Any]]], list[str]]:
        """Which chunks to (re)embed and which to delete for this article."""
        digest = article.content_hash()
        existing = {cid: self._rows[cid] for cid in self._chunks_of.get(article.id, ())}
        if existing and all(r.meta["article_hash"] == digest for r in existing.values()):
            return UpsertResult(article_id=article.id, unchanged=True), [], []
        chunks = chunk_article(article)
        result = UpsertResult(article_id=article.id)
        fresh: list[tuple[str, str, dict[str, Any]]] = []
        for chunk in chunks:
            meta = {
                "article_id": article.id,
                "title": article.title,
                "category": article.category,
                "language": article.language,
                "valid_from": day_key(article.valid_from, OPEN_START),
                "valid_to": day_key(article.valid_to, OPEN_END),
                "answer": article.answer or "",
                "response_keys": ",".join(article.response_keys),
                "text": chunk.text,
                "chunk_hash": chunk.hash(),
                "article_hash": digest,
            }
            old = existing.get(chunk.id)
            if old is None:
                result.added += 1
            elif old.meta["chunk_hash"] != meta["chunk_hash"]:
                result.updated += 1
            elif old.meta != meta:
                # same text, other metadata (dates, answer): rewrite without re-embedding
                self._collection.update(ids=[chunk.id], metadatas=[meta])  # type: ignore[list-item]
                self._put_row(_Row(chunk.id, article.id, old.search_text, meta))
                self._dirty = True
                continue
            else:
                continue
            fresh.append((chunk.id, chunk.search_text, meta))
        keep = {c.id for c in chunks}
        gone = [cid for cid in existing if cid not in keep]
        result.removed = len(gone)
        return result, fresh, gone

    def delete_sync(self, article_id: str) -> int:
        with self._lock:
            ids = sorted(self._chunks_of.get(article_id, ()))
            if ids:
                self._collection.delete(ids=ids)
                for cid in ids:
                    self._drop_row(cid)
                self._dirty = True
            return len(ids)

    def _put_row(self, row: _Row) -> None:
        previous = self._rows.get(row.chunk_id)
        if previous is not None and previous.article_id != row.article_id:
            self._chunks_of[previous.article_id].discard(row.chunk_id)
        self._rows[row.chunk_id] = row
        self._chunks_of.setdefault(row.article_id, set()).add(row.chunk_id)

    def _drop_row(self, chunk_id: str) -> None:
        row = self._rows.pop(chunk_id, None)
        if row is not None:
            chunks = self._chunks_of.get(row.article_id)
            if chunks is not None:
                chunks.discard(chunk_id)
                if not chunks:
                    del self._chunks_of[row.article_id]

    def _load_mirror(self) -> None:
        offset = 0
        while True:
            page = self._collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            ids = page["ids"]
            for cid, doc, meta in zip(ids, page["documents"] or [], page["metadatas"] or [], strict=True):
                self._put_row(_Row(cid, str(meta["article_id"]), doc or "", dict(meta)))
            if len(ids) < PAGE:
                break
            offset += PAGE
        self._dirty = True

    def snapshot_sync(self) -> ChromaKnowledgeStore:
        copy = ChromaKnowledgeStore.in_memory(
            self.encoder,
            dense_weight=self.dense_weight,
            bm25_weight=self.bm25_weight,
            candidates=self.candidates,
            per_article=self.per_article,
        )
        with self._lock:
            ids = list(self._rows)
        for start in range(0, len(ids), PAGE):
            page = self._collection.get(
                ids=ids[start : start + PAGE], include=["embeddings", "documents", "metadatas"]
            )
            copy._collection.upsert(
                ids=page["ids"],
                embeddings=page["embeddings"],
                documents=page["documents"],
                metadatas=page["metadatas"],
            )
        copy._load_mirror()
        return copy

    # ---- reads -----------------------------------------------------------
    def _refresh(self) -> None:
        """Rebuild BM25 and the filter arrays after writes (lazily: bulk ingest pays once)."""
        if not self._dirty:
            return
        rows = list(self._rows.values())
        self._order = [r.chunk_id for r in rows]
        self._position = {cid: i for i, cid in enumerate(self._order)}
        self._lexical.build([r.search_text for r in rows])
        self._lang = np.array([str(r.meta["language"]) for r in rows], dtype="<U8")
        self._from = np.array([int(r.meta["valid_from"]) for r in rows], dtype=np.int64)
        self._to = np.array([int(r.meta["valid_to"]) for r in rows], dtype=np.int64)
        self._masks = {}
        self._dirty = False

    def search_sync(self, query: str, language: str, k: int = 5, on: date | None = None) -> list[Passage]:
        today = day_key(on or date.today(), OPEN_START)
        vector = self.encoder.encode([query])[0]
        with self._lock:
            self._refresh()
            if not self._order:
                return []
            allowed = self._allowed(language, today)
            if allowed is None:
                return []
            bm25, coverage = self._lexical.scores(query)
            lexical_rows = self._lexical.top(bm25, self.candidates, allowed)
            cos = dict(self._dense(vector, language, today, allowed))
            missing = [self._order[r] for r in lexical_rows if self._order[r] not in cos]
            if missing:
                got = self._collection.get(ids=missing, include=["embeddings"])
                for cid, emb in zip(got["ids"], got["embeddings"], strict=True):  # type: ignore[arg-type]
                    cos[cid] = float(np.dot(np.asarray(emb, dtype=np.float32), vector))
            # chunks another process added since our mirror was loaded are skipped, not guessed at
            cos = {cid: c for cid, c in cos.items() if cid in self._position}
            top_bm25 = max((float(bm25[self._position[cid]]) for cid in cos), default=0.0) or 1.0
            lexical_weight = 1.0 - self.dense_weight - self.bm25_weight
            scored = []
            for cid, cosine in cos.items():
                i = self._position[cid]
                score = (
                    self.dense_weight * max(cosine, 0.0)
                    + lexical_weight * float(coverage[i])
                    + self.bm25_weight * float(bm25[i]) / top_bm25
                )
                scored.append((score, float(bm25[i]), cid, cosine, float(coverage[i])))
            scored.sort(key=lambda s: (-s[0], -s[1]))
            taken: dict[str, int] = {}
            passages = []
            for score, raw, cid, cosine, cover in scored:
                row = self._rows[cid]
                if taken.get(row.article_id, 0) >= self.per_article:
                    continue
                taken[row.article_id] = taken.get(row.article_id, 0) + 1
                passages.append(self._passage(row, score, cosine, cover, raw))
                if len(passages) == k:
                    break
        return passages

    def _allowed(self, language: str, today: int) -> np.ndarray | None:
        """Rows a client in ``language`` may see today (cached until the next write); None if none."""
        key = (language, today)
        if key not in self._masks:
            mask = (self._lang == language) & (self._from <= today) & (self._to >= today)
            self._masks[key] = mask if mask.any() else None
        return self._masks[key]

    def _dense(
        self, vector: np.ndarray, language: str, today: int, allowed: np.ndarray
    ) -> list[tuple[str, float]]:
        available = int(allowed.sum())
        where: dict[str, Any] | None = None
        if available < len(allowed):  # a filter costs time in HNSW: only when it excludes something
            where = {
                "$and": [
                    {"language": {"$eq": language}},
                    {"valid_from": {"$lte": today}},
                    {"valid_to": {"$gte": today}},
                ]
            }
        found = self._collection.query(
            query_embeddings=[vector],
            n_results=max(1, min(self.candidates, available)),
            where=where,
            include=["distances"],
        )
        ids = found["ids"][0]
        distances = (found["distances"] or [[]])[0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    @staticmethod
    def _passage(row: _Row, score: float, cosine: float, cover: float, bm25: float) -> Passage:
        meta = row.meta
        return Passage(
            chunk_id=row.chunk_id,
            article_id=row.article_id,
            title=str(meta["title"]),
            category=str(meta["category"]),
            language=str(meta["language"]),
            text=str(meta["text"]),
            answer=str(meta["answer"]) or None,
            response_keys=[k for k in str(meta.get("response_keys", "")).split(",") if k],
            score=round(score, 4),
            dense=round(cosine, 4),
            lexical=round(cover, 4),
            bm25=round(bm25, 4),
        )
