"""The knowledge base's part: knowledge gaps, the questions clients asked that went unanswered.

The gaps read model (:mod:`knowledge.gaps`) keeps each gap's question and the conversation
it came from (``kb_gaps``), grouped in clusters (``kb_gap_clusters``: a lexical key, counts
and the earliest question as an example). Erase deletes the gaps of the subject's
conversations and any gap whose question carries the subject's phone, e-mail or name (a
question about them asked in someone else's conversation), then recounts the clusters
those gaps were in: a cluster left empty goes, the others get their count, dates and
example from the questions still held, so no example shows an erased question. The log's
own ``knowledge_gap`` events go with the subject's conversations (the events eraser), so a
rebuild does not bring them back. Retention deletes gaps older than ``gaps_days`` the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from knowledge.gaps import refresh_clusters
from knowledge.tables import gaps
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, cutoff, row_dict
from privacy.subject import DataSubject


class GapEraser:
    """The ``kb_gaps`` rows and their ``kb_gap_clusters`` (knowledge/tables.py)."""

    name = "knowledge_gaps"

    async def _ids(self, subject: DataSubject, run: Run) -> list[int]:
        found: set[int] = set()
        for ids in chunked(subject.conversation_ids):
            rows = await run.conn.execute(select(gaps.c.id).where(gaps.c.conversation_id.in_(ids)))
            found |= {r.id for r in rows}
        pattern = subject.pattern()
        if pattern is not None:
            rows = await run.conn.execute(select(gaps.c.id, gaps.c.question))
            found |= {r.id for r in rows if subject.mentions(r.question)}
        return sorted(found)

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """The subject's gaps (question, language, reason, when)."""
        ids = await self._ids(subject, run)
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), 500):
            rows = await run.conn.execute(select(gaps).where(gaps.c.id.in_(ids[start : start + 500])))
            out += [row_dict(row._mapping) for row in rows]
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete the subject's gaps and recount their clusters; returns how many gaps."""
        ids = await self._ids(subject, run)
        clusters: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await run.conn.execute(select(gaps.c.cluster_id).where(gaps.c.id.in_(chunk)))
            clusters |= {r.cluster_id for r in rows if r.cluster_id is not None}
            await run.conn.execute(delete(gaps).where(gaps.c.id.in_(chunk)))
        await refresh_clusters(run.conn, clusters)
        return len(ids)

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Delete gaps older than ``gaps_days`` and recount their clusters."""
        before = cutoff(run.now, retention.gaps_days)
        if before is None:
            return 0
        old = gaps.c.created_at < before
        rows = await run.conn.execute(
            select(gaps.c.cluster_id).where(old, gaps.c.cluster_id.is_not(None)).distinct()
        )
        clusters = {r.cluster_id for r in rows}
        result = await run.conn.execute(delete(gaps).where(old))
        await refresh_clusters(run.conn, clusters)
        return result.rowcount or 0
