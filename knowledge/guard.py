"""The confidence guard: decides whether the retrieved passages answer the question.

A wrong answer from a luxury studio's bot costs more than an honest "I don't know" and a
human, so the guard is deliberately conservative. Thresholds are on the fused score
(see :mod:`knowledge.chroma_store`), plus a floor on meaning similarity so a question
that merely shares a word with an article ("tattoo *removal*" vs "gel *removal*") is not
answered on lexical overlap alone. MiniLM was trained on English: any two Polish (or
Ukrainian) texts look alike to it, so those languages need a higher score
(``min_score_by_language``). The defaults were tuned on the golden questions
(``data/knowledge_tests.yml``) and checked on the benchmark's held-apart questions.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from knowledge.models import Passage


class Verdict(BaseModel):
    """The guard's decision for one question."""

    answered: bool
    low_confidence: bool
    confidence: float
    reason: str


class ConfidenceGuard(BaseModel):
    """Thresholds; ``min_score`` <= ``confident_score``.

    - top score < ``min_score`` or top cosine < ``min_dense``: no answer;
    - top score < ``confident_score``: answered, but logged as a low-confidence answer
      so editors can check it.
    """

    min_score: float = Field(default=0.44, ge=0, le=1)
    confident_score: float = Field(default=0.55, ge=0, le=1)
    min_dense: float = Field(default=0.25, ge=-1, le=1)
    min_score_by_language: dict[str, float] = Field(default_factory=lambda: {"pl": 0.52, "uk": 0.52})

    def judge(self, passages: list[Passage]) -> Verdict:
        """Whether to answer from ``passages`` (best first)."""
        if not passages:
            return Verdict(answered=False, low_confidence=False, confidence=0.0, reason="nothing retrieved")
        top = passages[0]
        if top.score < self.min_score_by_language.get(top.language, self.min_score):
            return Verdict(
                answered=False, low_confidence=False, confidence=top.score, reason="score below threshold"
            )
        if top.dense < self.min_dense:
            return Verdict(
                answered=False, low_confidence=False, confidence=top.score, reason="meaning too far"
            )
        low = top.score < self.confident_score
        return Verdict(answered=True, low_confidence=low, confidence=top.score, reason="low" if low else "ok")
