"""Automated quality scoring of one conversation's replies, bot or person, by rules (issue 14
item 6; offline, no keys, no model).

The eight categories of Zendesk's auto-QA, each scored 0-1 with a one-line reason:
greeting, empathy, spelling & grammar, closing, solution offered, tone, readability,
comprehension. The rules read the transcript (what the client and the speaker wrote) in
English, Polish and Ukrainian. A category that does not apply (no upset client: empathy) is
``None`` and left out of the overall score, so it neither helps nor hurts.

The rules live in ``handoff`` beside the outcome rules for the same reason: the
``quality_scores`` read model (:mod:`handoff.quality_scores`) scores every resolved
conversation in the append's transaction, and read models are registered and rebuilt from
here. The console's LLM judge (:mod:`console.services.analytics.quality_judge`) falls back to
these rules for every category it does not answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from bot.models import TranscriptEntry

Speaker = Literal["bot", "agent"]
Source = Literal["rules", "llm"]
CATEGORIES = (
    "greeting",
    "empathy",
    "spelling_grammar",
    "closing",
    "solution_offered",
    "tone",
    "readability",
    "comprehension",
)
GREETINGS = re.compile(
    r"\b(hi|hello|hey|good (morning|afternoon|evening)|welcome|dzień dobry|cześć|witam|witaj|"
    r"добрий день|вітаю|привіт|доброго ранку)\b",
    re.IGNORECASE,
)
EMPATHY = re.compile(
    r"\b(sorry|apologi[sz]e|understand|i hear you|that must|frustrat|przepraszam|przykro|rozumiem|"
    r"вибачте|перепрошую|розумію|шкода)",
    re.IGNORECASE,
)
CLOSINGS = re.compile(
    r"(anything else|have a (great|nice|good)|take care|glad (i|we) could help|thank you for|"
    r"w czymś jeszcze|miłego dnia|dziękujemy|чимось ще|гарного дня|дякуємо)",
    re.IGNORECASE,
)
SOLUTIONS = re.compile(
    r"(https?://|\b\d{1,2}[:.]\d{2}\b|\b\d+ ?(pln|zł|zl|€|eur)\b|\byou can\b|\bplease\b|\bbook|"
    r"\bi (have|'ve) (booked|moved|refunded|cancel+ed|sent)|\bwe (will|'ll)\b|"
    r"możesz|proszę|zarezerw|можете|будь ласка|забронюв)",
    re.IGNORECASE,
)
RUDE = re.compile(
    r"\b(calm down|you should have|obviously|as i (already )?said|not my problem|whatever|stupid|"
    r"uspokój się|заспокойтеся)\b",
    re.IGNORECASE,
)
MISUNDERSTOOD = re.compile(
    r"(that'?s not what i (asked|meant)|you (don'?t|do not) understand|i already (said|told)|"
    r"nie o to (pytałem|pytałam|chodzi)|не те|я вже казав|я вже казала)",
    re.IGNORECASE,
)
NEGATIVE = re.compile(
    r"(angry|upset|terrible|awful|disappoint|complain|worst|broke|ruined|burn|rash|refund|"
    r"zły|zła|skandal|reklamac|okropn|жахлив|скарг|обурен)",
    re.IGNORECASE,
)
SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")
MAX_WORDS_PER_SENTENCE = 25


class CategoryScore(BaseModel):
    """One category: a score from 0 to 1 (None: does not apply) and why, in one line."""

    category: str
    score: float | None = Field(ge=0, le=1)
    reason: str
    source: Source = Field(default="rules", description="who scored it: the rules or the LLM judge")


class QualityScore(BaseModel):
    """A speaker's replies in one conversation, scored by category."""

    speaker: Speaker
    replies: int
    overall: float | None = Field(description="mean of the categories that apply")
    categories: list[CategoryScore]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.findall(text) if s.strip()]


def _spelling(replies: Sequence[str]) -> CategoryScore:
    problems = []
    for text in replies:
        for sentence in _sentences(text):
            if sentence[0].isalpha() and sentence[0].islower():
                problems.append(f"sentence starts in lower case: {sentence[:30]!r}")
        if re.search(r"\b(\w+) \1\b", text, re.IGNORECASE):
            problems.append("a word repeated")
        if re.search(r"[!?]{2,}|\s[,.]|,,", text):
            problems.append("stray or repeated punctuation")
        if re.search(r"(^|\s)i(\s|')", text) and re.search(r"[a-z]", text):
            problems.append("lower-case 'i'")
    score = max(0.0, 1 - 0.25 * len(problems))
    return CategoryScore(
        category="spelling_grammar",
        score=score,
        reason=problems[0] if problems else "no mechanical errors found",
    )


def _readability(replies: Sequence[str]) -> CategoryScore:
    sentences = [s for text in replies for s in _sentences(text)]
    if not sentences:
        return CategoryScore(category="readability", score=None, reason="no sentences")
    words = [len(s.split()) for s in sentences]
    average = sum(words) / len(words)
    long = sum(1 for n in words if n > MAX_WORDS_PER_SENTENCE)
    score = max(0.0, 1 - long / len(words) - max(0.0, (average - 20) / 40))
    return CategoryScore(
        category="readability",
        score=round(score, 2),
        reason=f"{average:.0f} words per sentence on average, {long} over {MAX_WORDS_PER_SENTENCE}",
    )


def score_conversation(lines: Sequence[TranscriptEntry], speaker: Speaker) -> QualityScore:
    """Score ``speaker``'s replies in ``lines`` (a conversation's transcript, in order)."""
    replies = [line.text for line in lines if line.sender == speaker and line.text]
    client = [line.text for line in lines if line.sender == "client" and line.text]
    if not replies:
        empty = [CategoryScore(category=c, score=None, reason="no replies") for c in CATEGORIES]
        return QualityScore(speaker=speaker, replies=0, overall=None, categories=empty)
    joined = " ".join(replies)
    upset = any(NEGATIVE.search(text) for text in client)
    categories = [
        CategoryScore(
            category="greeting",
            score=1.0 if GREETINGS.search(replies[0]) else 0.0,
            reason="the first reply greets the client"
            if GREETINGS.search(replies[0])
            else "the first reply has no greeting",
        ),
        CategoryScore(
            category="empathy",
            score=(1.0 if EMPATHY.search(joined) else 0.0) if upset else None,
            reason=(
                "acknowledged the client's frustration"
                if EMPATHY.search(joined)
                else "the client was upset and nothing acknowledged it"
            )
            if upset
            else "the client was not upset",
        ),
        _spelling(replies),
        CategoryScore(
            category="closing",
            score=1.0 if CLOSINGS.search(replies[-1]) else 0.0,
            reason="the last reply closes politely"
            if CLOSINGS.search(replies[-1])
            else "no closing in the last reply",
        ),
        CategoryScore(
            category="solution_offered",
            score=1.0 if SOLUTIONS.search(joined) else 0.0,
            reason="offered a concrete next step (a time, price, link or action)"
            if SOLUTIONS.search(joined)
            else "no concrete answer or next step",
        ),
        CategoryScore(
            category="tone",
            score=0.0 if RUDE.search(joined) else (0.5 if re.search(r"\b[A-Z]{4,}\b|!!", joined) else 1.0),
            reason="dismissive wording"
            if RUDE.search(joined)
            else ("shouting (capitals or '!!')" if re.search(r"\b[A-Z]{4,}\b|!!", joined) else "courteous"),
        ),
        _readability(replies),
        CategoryScore(
            category="comprehension",
            score=0.0 if any(MISUNDERSTOOD.search(text) for text in client) else 1.0,
            reason="the client said they were misunderstood"
            if any(MISUNDERSTOOD.search(text) for text in client)
            else "the client never said they were misunderstood",
        ),
    ]
    return QualityScore(
        speaker=speaker, replies=len(replies), overall=overall_of(categories), categories=categories
    )


def overall_of(categories: Sequence[CategoryScore]) -> float | None:
    """The mean of the categories that apply (None when none does)."""
    applied = [c.score for c in categories if c.score is not None]
    return round(sum(applied) / len(applied), 3) if applied else None
