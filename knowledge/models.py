"""The knowledge base's data model: articles, chunks, retrieved passages and answers.

These are the shapes that cross every seam of :mod:`knowledge` (ingest, the store, the
composer, the editor API), so they are pydantic models validated where they enter.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

ARTICLE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,120}$"
RESPONSE_KEY = r"^[a-z][a-z0-9_]{0,63}/[a-z0-9_]{1,64}$"

AnswerMode = Literal["curated", "passage", "llm", "none"]


class Article(BaseModel):
    """One knowledge article: front matter plus a Markdown body.

    ``answer`` is an editor's curated short answer; when present it is what the
    extractive composer says. ``translation_of`` links a Polish or Ukrainian version to
    the English article it translates. ``response_keys`` are the response selector's keys
    (``faq/lateness``) this article answers: the bot's FAQ answers come from the articles
    that name them, never from copies in domain.yml (see :meth:`KnowledgeBase.ask`).
    """

    id: str = Field(pattern=ARTICLE_ID)
    title: str = Field(min_length=1)
    category: str = "general"
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    tags: list[str] = Field(default_factory=list)
    valid_from: date | None = None
    valid_to: date | None = None
    answer: str | None = None
    translation_of: str | None = None
    response_keys: list[Annotated[str, Field(pattern=RESPONSE_KEY)]] = Field(
        default_factory=list, max_length=20
    )
    body: str = ""

    def content_hash(self) -> str:
        """A hash of everything that affects retrieval or answers; unchanged hash = no re-index.
        An article without response keys hashes as before the field existed (no re-import)."""
        exclude = None if self.response_keys else {"response_keys"}
        payload = json.dumps(
            self.model_dump(mode="json", exclude=exclude), sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def is_valid_on(self, day: date) -> bool:
        """Whether the article may be shown on ``day`` (its validity dates include it)."""
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_to and day > self.valid_to)


class Chunk(BaseModel):
    """A retrievable piece of an article.

    ``text`` is what a client may be shown; ``search_text`` adds the title and section so
    a chunk is findable on its own (a paragraph rarely repeats its article's subject).
    """

    id: str
    article_id: str
    index: int
    section: str | None = None
    text: str
    search_text: str

    def hash(self) -> str:
        return hashlib.sha256(self.search_text.encode()).hexdigest()[:16]


class Passage(BaseModel):
    """A chunk as retrieval returns it, with the scores that ranked it.

    ``score`` is the fused score the confidence guard reads; ``dense`` is the cosine
    similarity to the question and ``lexical`` the IDF-weighted share of the question's
    words that the chunk contains (both in [0, 1]-ish ranges, comparable across queries).
    """

    chunk_id: str
    article_id: str
    title: str
    category: str = "general"
    language: str = "en"
    text: str
    answer: str | None = None
    response_keys: list[str] = Field(default_factory=list)
    score: float
    dense: float
    lexical: float
    bm25: float = 0.0


class Source(BaseModel):
    """Where an answer comes from; ``ref`` is the number used in citations like [1]."""

    ref: int
    article_id: str
    title: str
    chunk_id: str
    score: float


class GapNote(BaseModel):
    """Why an answer is a knowledge gap (``no_answer`` or ``low_confidence``) and what was
    tried; the knowledge action writes it to the log as a ``knowledge_gap`` event."""

    reason: Literal["no_answer", "low_confidence"]
    tried: str | None = None


class Answer(BaseModel):
    """What the knowledge base says to one question.

    ``answered`` False means an honest "no answer": ``text`` is then None and the
    caller offers a fallback or a human. ``fallback_reason`` says why an LLM answer was
    replaced by the extractive one (timeout, error, no citation ...).
    """

    question: str
    language: str
    answered: bool
    text: str | None = None
    mode: AnswerMode = "none"
    confidence: float = 0.0
    low_confidence: bool = False
    sources: list[Source] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    fallback_reason: str | None = None
    #: set when the question is a gap worth an editor's look (unless asked with record_gaps=False)
    gap: GapNote | None = None
