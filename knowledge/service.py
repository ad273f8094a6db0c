"""The knowledge base as the bot, the CLI and the console use it: ask a question, get an answer.

Retrieval runs in the client's language; for a language other than the default one the
default language's articles are searched too (most articles exist in English only) and
used when they are clearly better. Unanswered and low-confidence questions
carry a gap note with what was tried, which the knowledge action writes to the conversation's
log as a ``knowledge_gap`` event (the gaps read model follows those events).

A :class:`Route` is the dialogue's guess (the response selector's ``faq/lateness``): the
articles naming that key (``response_keys``) answer when retrieval agrees they are about
the question (see :meth:`KnowledgeBase.routed`). A guess retrieval does not back (a
confident classifier on "can I bring my dog?") falls through to the plain knowledge base,
and then to the honest "I don't know".
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Protocol

from pydantic import BaseModel, Field

from knowledge.composer import AnswerComposer
from knowledge.guard import Verdict
from knowledge.models import Answer, GapNote, Passage
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)


class GapReport(Protocol):
    """Where the console reads the gaps report from (see :mod:`knowledge.gaps`)."""

    async def report(
        self, *, days: int = 30, limit: int = 20, since: Any = None, until: Any = None
    ) -> list[Any]: ...


class Route(BaseModel):
    """What the dialogue understood before asking the knowledge base: the intent and the
    response selector's key (``faq/lateness``), with their confidences."""

    intent: str | None = None
    intent_confidence: float = 0.0
    key: str | None = Field(default=None, max_length=130)
    key_confidence: float = 0.0

    def describe(self) -> str:
        parts = []
        if self.intent:
            parts.append(f"intent {self.intent} {self.intent_confidence:.2f}")
        if self.key:
            parts.append(f"response selector {self.key} {self.key_confidence:.2f}")
        return ", ".join(parts)


class LanguageGuesser(Protocol):
    def detect(self, text: str) -> str: ...


class KnowledgeBase:
    """Store + composer (+ the gaps report, + language detection)."""

    def __init__(
        self,
        store: KnowledgeStore,
        composer: AnswerComposer | None = None,
        *,
        gaps: GapReport | None = None,
        detector: LanguageGuesser | None = None,
        default_language: str = "en",
        k: int = 5,
        language_margin: float = 0.05,
        route_min_score: float = 0.4,
        route_min_confidence: float = 0.5,
        route_margin: float = 0.05,
    ) -> None:
        self.store = store
        self.composer = composer or AnswerComposer()
        self.gaps = gaps
        self.detector = detector
        self.default_language = default_language
        self.k = k
        self.language_margin = language_margin
        self.route_min_score = route_min_score
        self.route_min_confidence = route_min_confidence
        self.route_margin = route_margin

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

    async def routed(
        self, question: str, language: str, key: str, *, on: date | None = None
    ) -> tuple[list[Passage], str]:
        """The passages of the articles answering ``key`` when retrieval backs them for
        ``question`` (best first; empty when it does not), and a line saying what was found.

        Backed means: their best passage scores at least ``route_min_score`` with a meaning
        similarity of at least the guard's ``min_dense``, and no other article scores more
        than ``route_margin`` above it ("can I bring my dog?" is not about what to bring
        to a first visit, whatever the classifier says, when the pets article wins).
        """
        wide = max(self.k * 4, 20)
        languages = [language] if language == self.default_language else [language, self.default_language]
        line = f"{key} -> no published article answers it"
        for lang in languages:
            found = await self.store.search(question, lang, wide, on=on)
            keyed = [p for p in found if key in p.response_keys]
            if not keyed:
                continue
            top, best = keyed[0], found[0]
            if top.score < self.route_min_score or top.dense < self.composer.guard.min_dense:
                line = f"{key} -> {top.article_id} {top.score:.2f}, below {self.route_min_score:.2f}"
                continue
            if best.score > top.score + self.route_margin:
                line = (
                    f"{key} -> {top.article_id} {top.score:.2f}, "
                    f"but {best.article_id} {best.score:.2f} fits better"
                )
                continue
            rest = [p for p in found if key not in p.response_keys]
            return [*keyed, *rest][: self.k], f"{key} -> {top.article_id} {top.score:.2f}"
        return [], line

    async def ask(
        self,
        question: str,
        language: str | None = None,
        *,
        on: date | None = None,
        conversation_id: str | None = None,
        record_gaps: bool = True,
        route: Route | None = None,
    ) -> Answer:
        """Answer ``question`` (from the routed articles when ``route`` names a key retrieval
        backs); an unanswered or low-confidence one carries a gap note with what was tried
        (``answer.gap``), unless ``record_gaps`` is False (an editor's or agent's try). The
        caller writes the gap to its conversation's log (the knowledge action does, as a
        ``knowledge_gap`` event); ``conversation_id`` is no longer needed for it and unused."""
        language = language or self.detect_language(question)
        tried = [route.describe()] if route is not None and route.describe() else []
        if route is not None and route.key and route.key_confidence >= self.route_min_confidence:
            found, line = await self.routed(question, language, route.key, on=on)
            tried.append(line)
            if found:
                top = found[0]
                verdict = Verdict(answered=True, low_confidence=False, confidence=top.score, reason="routed")
                return await self.composer.compose(question, language, found, verdict)
        elif route is not None and route.key:
            tried.append(f"{route.key} below {self.route_min_confidence:.2f}: not routed")
        passages, verdict = await self.retrieve(question, language, on=on)
        answer = await self.composer.compose(question, language, passages, verdict)
        if passages:
            tried.append(
                f"knowledge base: {passages[0].article_id} {passages[0].score:.2f} ({verdict.reason})"
            )
        else:
            tried.append("knowledge base: nothing retrieved")
        if answer.fallback_reason:
            tried.append(answer.fallback_reason)
        if record_gaps and (not answer.answered or answer.low_confidence):
            note = GapNote(
                reason="low_confidence" if answer.answered else "no_answer", tried="; ".join(tried)
            )
            answer = answer.model_copy(update={"gap": note})
        return answer
