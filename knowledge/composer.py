"""Turns retrieved passages into the answer a client sees.

Extractive by default: the best article's curated answer (what an editor wrote as the
short answer) or else the best passage, with that article as the source. With an LLM
configured, the model writes the answer from the top passages with citations; if it
fails, is too slow, declines, cites nothing, or says something its cited passages do not
support (:mod:`knowledge.grounding`, checked sentence by sentence), the extractive answer
goes out instead, in the same turn, and ``fallback_reason`` says why.
"""

from __future__ import annotations

import logging

from knowledge.grounding import GroundingChecker
from knowledge.guard import ConfidenceGuard, Verdict
from knowledge.llm import LLMAnswerer, LLMUnavailable
from knowledge.models import Answer, AnswerMode, Passage, Source

log = logging.getLogger(__name__)


def _source(ref: int, passage: Passage) -> Source:
    return Source(
        ref=ref,
        article_id=passage.article_id,
        title=passage.title,
        chunk_id=passage.chunk_id,
        score=passage.score,
    )


class AnswerComposer:
    """Guard + extractive answer + optional LLM; ``llm_passages`` is how many passages the LLM sees."""

    def __init__(
        self,
        guard: ConfidenceGuard | None = None,
        llm: LLMAnswerer | None = None,
        *,
        llm_passages: int = 3,
        grounding: GroundingChecker | None = None,
    ) -> None:
        self.guard = guard or ConfidenceGuard()
        self.llm = llm
        self.llm_passages = llm_passages
        self.grounding = grounding or GroundingChecker()

    async def compose(
        self, question: str, language: str, passages: list[Passage], verdict: Verdict | None = None
    ) -> Answer:
        """The answer (or an honest no-answer) for ``question`` from ``passages`` (best first)."""
        verdict = verdict or self.guard.judge(passages)
        if not verdict.answered:
            return Answer(
                question=question,
                language=language,
                answered=False,
                confidence=verdict.confidence,
                passages=passages,
            )
        extractive = self.extractive(question, language, passages, verdict)
        if self.llm is None:
            return extractive
        context = passages[: self.llm_passages]
        try:
            reply = await self.llm.answer(question, language, context)
        except LLMUnavailable as exc:
            log.warning("LLM unavailable, sending the extractive answer: %s", exc)
            return extractive.model_copy(update={"fallback_reason": f"llm unavailable: {exc}"})
        if reply.declined:
            return extractive.model_copy(update={"fallback_reason": "llm declined"})
        if not reply.cited:
            # an answer that cites nothing cannot be shown to be grounded
            return extractive.model_copy(update={"fallback_reason": "llm cited no passage"})
        grounding = self.grounding.check(reply.text, context, reply.cited)
        if not grounding.grounded:
            log.info("LLM answer withheld: %s", grounding.reason())
            return extractive.model_copy(update={"fallback_reason": grounding.reason()})
        sources = [_source(ref, context[ref - 1]) for ref in reply.cited]
        return Answer(
            question=question,
            language=language,
            answered=True,
            text=reply.text,
            mode="llm",
            confidence=verdict.confidence,
            low_confidence=verdict.low_confidence,
            sources=sources,
            passages=passages,
        )

    @staticmethod
    def extractive(question: str, language: str, passages: list[Passage], verdict: Verdict) -> Answer:
        """The best article's curated answer, else the best passage; cited as [1]."""
        top = passages[0]
        mode: AnswerMode = "curated" if top.answer else "passage"
        text = top.answer or top.text
        return Answer(
            question=question,
            language=language,
            answered=True,
            text=text,
            mode=mode,
            confidence=verdict.confidence,
            low_confidence=verdict.low_confidence,
            sources=[_source(1, top)],
            passages=passages,
        )
