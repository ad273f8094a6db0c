"""Automated quality scoring of one conversation, as the console shows it (issue 14 item 6).

The rules are :mod:`handoff.quality` (re-exported here: the console, the labelled set and the
agreement benchmark read them under this name); the scores of every resolved conversation
are kept by the ``quality_scores`` read model (:mod:`handoff.quality_scores`) for the
analytics page's per-agent table. This module scores one conversation on demand, from its
log, with the LLM judge (:mod:`console.services.analytics.quality_judge`) when one is
configured and the rules otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import select

from bot.models import TranscriptEntry
from bot.store import EventStore
from bot.transcript import transcript_entry
from console.services.analytics.models import DateRange, QualityRow
from handoff.projections import conversation_facts
from handoff.quality import (
    CATEGORIES,
    CategoryScore,
    QualityScore,
    Source,
    Speaker,
    overall_of,
    score_conversation,
)
from handoff.quality_scores import StoredScore, quality_scores, score_from_row

__all__ = [
    "CATEGORIES",
    "CategoryScore",
    "ConversationQuality",
    "Judge",
    "QualityScore",
    "Source",
    "Speaker",
    "conversation_quality",
    "overall_of",
    "quality_rows",
    "quality_table",
    "score_conversation",
]


class Judge(Protocol):
    """Scores a speaker's replies (the LLM judge; the rules are the fallback it owns)."""

    async def judge(self, lines: list[TranscriptEntry], speaker: Speaker) -> QualityScore:
        """The eight categories for ``speaker``'s replies in ``lines``."""
        ...


class ConversationQuality(BaseModel):
    """A conversation's replies scored, the bot's and the people's apart."""

    conversation_id: str
    bot: QualityScore
    agent: QualityScore


async def conversation_quality(
    store: EventStore, conversation_id: str, judge: Judge | None = None
) -> ConversationQuality | None:
    """Score one conversation from its log (None when it has no lines): by ``judge`` when
    given, by the rules otherwise."""
    lines = [
        entry
        for s in await store.load(conversation_id)
        if (entry := transcript_entry(s.seq, s.event)) is not None
    ]
    if not lines:
        return None
    if judge is None:
        bot, agent = score_conversation(lines, "bot"), score_conversation(lines, "agent")
    else:
        bot, agent = await judge.judge(lines, "bot"), await judge.judge(lines, "agent")
    return ConversationQuality(conversation_id=conversation_id, bot=bot, agent=agent)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def quality_rows(scores: Sequence[StoredScore]) -> list[QualityRow]:
    """Stored scores averaged per speaker: the bot first, then each agent by id. A category
    averages the conversations where it applied (empathy: only upset clients)."""
    groups: dict[tuple[str, str], list[StoredScore]] = defaultdict(list)
    for score in scores:
        key = "bot" if score.speaker == "bot" else (score.agent_id or "unknown")
        groups[(score.speaker, key)].append(score)
    rows = []
    for (speaker, key), group in sorted(groups.items(), key=lambda item: (item[0][0] != "bot", item[0][1])):
        by_category: dict[str, list[float]] = {c: [] for c in CATEGORIES}
        for score in group:
            for category in score.categories:
                if category.score is not None and category.category in by_category:
                    by_category[category.category].append(category.score)
        rows.append(
            QualityRow(
                key=key,
                speaker=speaker,  # type: ignore[arg-type]
                conversations=len(group),
                overall=_mean([s.overall for s in group if s.overall is not None]),
                categories={c: _mean(values) for c, values in by_category.items()},
            )
        )
    return rows


async def quality_table(store: EventStore, period: DateRange) -> list[QualityRow]:
    """The per-speaker quality of the resolved conversations started in ``period`` (the
    ``quality_scores`` read model joined to the conversations' facts for the start time)."""
    stmt = (
        select(quality_scores)
        .join(conversation_facts, conversation_facts.c.conversation_id == quality_scores.c.conversation_id)
        .where(
            conversation_facts.c.first_user_at >= period.start_ts,
            conversation_facts.c.first_user_at < period.end_ts,
        )
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return quality_rows([score_from_row(r) for r in rows])
