"""The knowledge base's part: knowledge gaps, the questions clients asked that went unanswered.

A gap keeps the question's text and the conversation it came from. Erase deletes the
gaps of the subject's conversations and any gap whose question carries the subject's
phone, e-mail or name (a gap recorded without a conversation); retention deletes gaps
older than ``gaps_days`` (the editors' report looks at recent weeks).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from knowledge.tables import gaps
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, cutoff, row_dict
from privacy.subject import DataSubject


class GapEraser:
    """The ``kb_gaps`` table (knowledge/tables.py)."""

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
        """Delete the subject's gaps; returns how many."""
        ids = await self._ids(subject, run)
        for start in range(0, len(ids), 500):
            await run.conn.execute(delete(gaps).where(gaps.c.id.in_(ids[start : start + 500])))
        return len(ids)

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Delete gaps older than ``gaps_days``."""
        before = cutoff(run.now, retention.gaps_days)
        if before is None:
            return 0
        result = await run.conn.execute(delete(gaps).where(gaps.c.created_at < before))
        return result.rowcount or 0
