"""Golden questions: the knowledge base's regression tests (``data/knowledge_tests.yml``).

Each question names the article that must answer it (or several acceptable ones), or
``null`` when the honest answer is "I don't know", and the ``facts`` its answer must state
(short snippets or claims, checked by :mod:`knowledge.facts`). They run on retrieval, the
confidence guard and the extractive answer, without the LLM, so a result does not depend
on a model's mood. A question passes when the right article answers and every fact is
stated; an edit that keeps the article on top but drops a fact ("The garage is open
24/7." as the lateness article) fails it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.errors import FormatError
from knowledge.composer import AnswerComposer
from knowledge.facts import FactCheck, check_facts
from knowledge.service import KnowledgeBase

MAX_FACTS = 10


class GoldenQuestion(BaseModel):
    """One golden question; ``expect`` empty means "must not be answered"."""

    question: str = Field(min_length=1)
    expect: list[str] = Field(default_factory=list)
    facts: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=MAX_FACTS
    )
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    date: dt.date | None = None

    @field_validator("expect", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value


class GoldenFile(BaseModel):
    version: str = "1"
    tests: list[GoldenQuestion] = Field(default_factory=list)


class GoldenResult(BaseModel):
    """How one golden question went: what was expected, what came back."""

    question: str
    language: str
    expect: list[str]
    got: str | None
    score: float
    passed: bool
    answer: str | None = None
    facts: list[FactCheck] = Field(default_factory=list)

    @property
    def article_ok(self) -> bool:
        return self.got is None if not self.expect else self.got in self.expect

    def lost_facts(self) -> list[FactCheck]:
        """The facts this answer does not state (missing or contradicted)."""
        return [f for f in self.facts if not f.ok]


class GoldenReport(BaseModel):
    results: list[GoldenResult]

    @property
    def failures(self) -> list[GoldenResult]:
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> bool:
        return not self.failures


def load_golden(path: Path) -> list[GoldenQuestion]:
    """The golden questions of ``path``; a malformed file raises :class:`FormatError`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(str(path), f"invalid YAML: {exc}", line=mark.line + 1 if mark else None) from None
    try:
        return GoldenFile.model_validate(raw).tests
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FormatError(str(path), f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


async def run_golden(
    kb: KnowledgeBase, questions: list[GoldenQuestion], progress: Callable[[], None] | None = None
) -> GoldenReport:
    """Ask every golden question (no gap logging, no LLM) and compare with what is expected."""
    results = []
    for q in questions:
        passages, verdict = await kb.retrieve(q.question, q.language, on=q.date)
        got = passages[0].article_id if verdict.answered else None
        text = (
            AnswerComposer.extractive(q.question, q.language, passages, verdict).text
            if verdict.answered
            else None
        )
        facts = check_facts(q.facts, text)
        article_ok = got is None if not q.expect else got in q.expect
        results.append(
            GoldenResult(
                question=q.question,
                language=q.language,
                expect=q.expect,
                got=got,
                score=verdict.confidence,
                passed=article_ok and all(f.ok for f in facts),
                answer=text,
                facts=facts,
            )
        )
        if progress:
            progress()
    return GoldenReport(results=results)
