"""The knowledge base as the bot, the CLI and the console use it: ask a question, get an answer.

Retrieval runs in the client's language; for a language other than the default one the
default language's articles are searched too (most articles exist in English only) and
used when they are clearly better. Unanswered and low-confidence questions
are recorded as knowledge gaps.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Protocol

from knowledge.composer import AnswerComposer
from knowledge.guard import Verdict
from knowledge.models import Answer, Passage
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)


class GapRecorder(Protocol):
    """Where questions the knowledge base could not answer well go (see :mod:`knowledge.gaps`)."""

    async def record(
        self,
        question: str,
        language: str,
        reason: str,
        score: float | None = None,
        conversation_id: str | None = None,
    ) -> None: ...


class LanguageGuesser(Protocol):
    def detect(self, text: str) -> str: ...


class KnowledgeBase:
    """Store + composer (+ gap log, + language detection)."""

    def __init__(
        self,
        store: KnowledgeStore,
        composer: AnswerComposer | None = None,
        *,
        gaps: GapRecorder | None = None,
        detector: LanguageGuesser | None = None,
        default_language: str = "en",
        k: int = 5,
        language_margin: float = 0.05,
    ) -> None:
        self.store = store
        self.composer = composer or AnswerComposer()
        self.gaps = gaps
        self.detector = detector
        self.default_language = default_language
        self.k = k
        self.language_margin = language_margin

    def detect_language(self, text: str) -> str:
        """The question's language (the default one when no detector is configured)."""
        return self.detector.detect(text) if self.detector else self.default_language

    async def retrieve(
        self, question: str, language: str, *, on: date | None = None
    ) -> tuple[list[Passage], Verdict]:
        """Passages for ``question`` and the guard's verdict on them.

        For a language other than the default one, the default language's articles are
        searched too, and win when the guard accepts them and they score clearly higher
        (by ``language_margin``): most articles exist in English only.
        """
        guard = self.composer.guard
        passages = await self.store.search(question, language, self.k, on=on)
        verdict = guard.judge(passages)
        if language == self.default_language:
            return passages, verdict
        fallback = await self.store.search(question, self.default_language, self.k, on=on)
        fallback_verdict = guard.judge(fallback)
        if fallback_verdict.answered and (
            not verdict.answered or fallback_verdict.confidence > verdict.confidence + self.language_margin
        ):
            return fallback, fallback_verdict
        return passages, verdict

    async def ask(
        self,
        question: str,
        language: str | None = None,
        *,
        on: date | None = None,
        conversation_id: str | None = None,
        record_gaps: bool = True,
    ) -> Answer:
        """Answer ``question``; an unanswered or low-confidence one is logged as a gap."""
        language = language or self.detect_language(question)
        passages, verdict = await self.retrieve(question, language, on=on)
        answer = await self.composer.compose(question, language, passages, verdict)
        if record_gaps and self.gaps is not None and (not answer.answered or answer.low_confidence):
            reason = "no_answer" if not answer.answered else "low_confidence"
            try:
                await self.gaps.record(question, language, reason, answer.confidence, conversation_id)
            except Exception:  # a gap log outage must not cost the client their answer
                log.exception("could not record a knowledge gap")
        return answer

    async def record_handoff(self, question: str, language: str, conversation_id: str | None = None) -> None:
        """Log a question whose conversation ended with a human (called by the handoff path)."""
        if self.gaps is not None:
            await self.gaps.record(question, language, "handoff", None, conversation_id)
