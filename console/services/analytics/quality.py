"""Automated quality scoring of one conversation, as the console shows it (issue 14 item 6).

The rules are :mod:`handoff.quality` (re-exported here: the console, the labelled set and the
agreement benchmark read them under this name); the scores of every resolved conversation
are kept by the ``quality_scores`` read model (:mod:`handoff.quality_scores`) for the
analytics page's per-agent table. This module scores one conversation on demand, from its
log, with the LLM judge (:mod:`console.services.analytics.quality_judge`) when one is
configured and the rules otherwise.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from bot.models import TranscriptEntry
from bot.store import EventStore
from bot.transcript import transcript_entry
from handoff.quality import (
    CATEGORIES,
    CategoryScore,
    QualityScore,
    Source,
    Speaker,
    overall_of,
    score_conversation,
)

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
