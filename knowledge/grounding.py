"""Is an LLM answer grounded? Every sentence must be supported by the passages it cites.

The offline check (the default, no model): a sentence is supported when the passages it
cites (its own ``[n]`` marks, else every passage the answer cites) contain its numbers and
at least ``min_share`` of its content words (by stem, as :mod:`knowledge.facts` matches
them). One unsupported sentence is enough to withhold the answer: the composer then sends
the extractive answer and says why in ``fallback_reason``. A model that answers off-topic
text and decorates it with "[1]" is caught here; one that paraphrases the passage closely
passes.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from knowledge.facts import MIN_STEM, STOPWORDS, words
from knowledge.models import Passage

_CITE = re.compile(r"\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=\])\s+(?=[A-ZА-ЯЁЇІЄҐŁŚŻŹĆŃÓ])")
# words any polite answer may use without a passage saying them
FILLER = frozenset(
    "yes no please thank thanks sure course happy help also just all any more most very "
    "there here have has had not but so than then they them their what which who when where "
    "how would could should may might must about into over after before up down out".split()
)


class SentenceCheck(BaseModel):
    """One sentence of the answer, the passages it was checked against and the verdict."""

    sentence: str
    cited: list[int]
    share: float
    supported: bool
    unsupported_words: list[str]


class Grounding(BaseModel):
    """The verdict on a whole answer."""

    grounded: bool
    sentences: list[SentenceCheck]

    def reason(self) -> str:
        bad = next((s for s in self.sentences if not s.supported), None)
        if bad is None:
            return "grounded"
        words_ = ", ".join(bad.unsupported_words[:5])
        return f"llm answer not supported by its sources: {bad.sentence[:80]!r} ({words_})"


def sentences(text: str) -> list[str]:
    """The answer split into sentences (citation marks stay with their sentence)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _content(text: str) -> list[str]:
    return [w for w in words(_CITE.sub(" ", text)) if w not in STOPWORDS and w not in FILLER and len(w) > 1]


def _stems(text: str) -> tuple[set[str], set[str]]:
    found = words(text)
    exact = set(found)
    prefixes = {w[:n] for w in found if not w[0].isdigit() for n in range(MIN_STEM, len(w) + 1)}
    return exact, prefixes


def _supported(word: str, exact: set[str], prefixes: set[str]) -> bool:
    if word[0].isdigit() or len(word) <= MIN_STEM:
        return word in exact
    return word[: max(MIN_STEM, len(word) - 2)] in prefixes


class GroundingChecker:
    """The offline lexical check; ``min_share`` of a sentence's content words must be in its sources."""

    def __init__(self, min_share: float = 0.6) -> None:
        self.min_share = min_share

    def check(self, answer: str, passages: list[Passage], cited: list[int]) -> Grounding:
        """Whether every sentence of ``answer`` is supported by the passages it cites (1-based)."""
        checks: list[SentenceCheck] = []
        for sentence in sentences(answer):
            own = [int(m) for m in _CITE.findall(sentence) if 1 <= int(m) <= len(passages)]
            refs = own or cited
            source = " ".join(
                f"{passages[r - 1].title} {passages[r - 1].answer or ''} {passages[r - 1].text}" for r in refs
            )
            exact, prefixes = _stems(source)
            content = _content(sentence)
            missing = [w for w in content if not _supported(w, exact, prefixes)]
            numbers_ok = not any(w[0].isdigit() for w in missing)
            share = 1.0 if not content else 1 - len(missing) / len(content)
            checks.append(
                SentenceCheck(
                    sentence=sentence,
                    cited=refs,
                    share=round(share, 3),
                    supported=bool(refs) and numbers_ok and share >= self.min_share,
                    unsupported_words=missing,
                )
            )
        return Grounding(grounded=bool(checks) and all(c.supported for c in checks), sentences=checks)
