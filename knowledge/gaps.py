"""Knowledge gaps: what clients asked that the knowledge base could not answer well.

Questions that got no answer, a low-confidence answer, or ended with a human are
recorded; the report groups them by meaning (MiniLM cosine similarity, greedy
clustering against each group's centroid) and ranks the groups by how often they were
asked, so editors see what to write next.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.encoder import TextEncoder
from knowledge.tables import GAP_REASONS, gaps


class GapGroup(BaseModel):
    """Questions that mean nearly the same thing, with how often and why they went unanswered."""

    question: str = Field(description="the most frequent wording in the group")
    count: int
    reasons: dict[str, int]
    languages: dict[str, int]
    examples: list[str]
    tried: list[str] = Field(default_factory=list, description="what the bot tried, latest first")
    last_asked: datetime


class GapLog:
    """Records gaps and reports them grouped; ``similarity`` is the grouping threshold (cosine)."""

    def __init__(self, engine: AsyncEngine, encoder: TextEncoder, *, similarity: float = 0.68) -> None:
        self.engine = engine
        self.encoder = encoder
        self.similarity = similarity

    async def record(
        self,
        question: str,
        language: str,
        reason: str,
        score: float | None = None,
        conversation_id: str | None = None,
        tried: str | None = None,
    ) -> None:
        """Store one gap; ``reason`` is ``no_answer``, ``low_confidence`` or ``handoff``;
        ``tried`` says what the bot tried (intent, response selector, best article)."""
        if reason not in GAP_REASONS:
            raise ValueError(f"gap reason must be one of {GAP_REASONS}, not {reason!r}")
        async with self.engine.begin() as conn:
            await conn.execute(
                gaps.insert().values(
                    question=question.strip()[:2000],
                    language=language,
                    reason=reason,
                    score=score,
                    conversation_id=conversation_id,
                    created_at=datetime.now(UTC),
                    tried=tried[:1000] if tried else None,
                )
            )

    async def report(
        self,
        *,
        days: int = 30,
        limit: int = 20,
        max_questions: int = 5000,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[GapGroup]:
        """The most frequent gap groups, biggest first: of the last ``days`` days, or from
        ``since`` to before ``until`` when given (an analytics date range)."""
        since = since or datetime.now(UTC) - timedelta(days=days)
        query = select(
            gaps.c.question, gaps.c.language, gaps.c.reason, gaps.c.created_at, gaps.c.tried
        ).where(gaps.c.created_at >= since)
        if until is not None:
            query = query.where(gaps.c.created_at < until)
        query = query.order_by(gaps.c.created_at.desc()).limit(max_questions)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return []
        vectors = await asyncio.to_thread(self.encoder.encode, [r.question for r in rows])
        return group_gaps(list(rows), vectors, self.similarity)[:limit]


def group_gaps(rows: list, vectors: np.ndarray, similarity: float) -> list[GapGroup]:  # type: ignore[type-arg]
    """Greedy clustering: each question joins the closest group whose centroid is similar enough."""
    centroids: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, vector in enumerate(vectors):
        best, best_sim = -1, similarity
        for g, centroid in enumerate(centroids):
            sim = float(np.dot(centroid, vector) / (np.linalg.norm(centroid) or 1.0))
            if sim >= best_sim:
                best, best_sim = g, sim
        if best < 0:
            centroids.append(vector.astype(np.float32).copy())
            members.append([i])
        else:
            members[best].append(i)
            centroids[best] = centroids[best] + (vector - centroids[best]) / len(members[best])
    groups = []
    for indices in members:
        wordings = Counter(rows[i].question.strip().lower() for i in indices)
        top_wording = wordings.most_common(1)[0][0]
        representative = next(
            rows[i].question for i in indices if rows[i].question.strip().lower() == top_wording
        )
        groups.append(
            GapGroup(
                question=representative,
                count=len(indices),
                reasons=dict(Counter(rows[i].reason for i in indices)),
                languages=dict(Counter(rows[i].language for i in indices)),
                examples=list(dict.fromkeys(rows[i].question for i in indices))[:5],
                tried=list(dict.fromkeys(t for i in indices if (t := getattr(rows[i], "tried", None))))[:3],
                last_asked=max(rows[i].created_at for i in indices),
            )
        )
    groups.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return groups
