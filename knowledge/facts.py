"""Facts a golden answer must state: a short snippet or claim checked against the answer text.

A fact is *present* when every content word of it is in the answer (numbers exactly; words
by a shared stem, so "15-minute" matches "15 minutes" and "odwołać" matches "odwołanie").
A fact with numbers is *contradicted* when the answer talks about the same thing (most of
its words are there) with other numbers ("24 hours" where the fact says "48 hours"), and
*missing* otherwise. Offline and deterministic: the gate never depends on a model's mood.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel

FactStatus = Literal["present", "missing", "contradicted"]

_WORD = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+", re.UNICODE)
STOPWORDS = frozenset(
    "a an the and or of to in on at for is are be it its you your we our us with by as if "
    "that this from can do does will".split()
)
MIN_STEM = 4


class FactCheck(BaseModel):
    """One fact and whether the answer states it; ``note`` says what the answer said instead."""

    fact: str
    status: FactStatus
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "present"


def words(text: str) -> list[str]:
    """Lower-cased words and numbers of ``text`` (NFKC, hyphens and slashes split words)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [w.replace(",", ".") for w in _WORD.findall(folded)]


def _is_number(word: str) -> bool:
    return word[0].isdigit()


def _stem(word: str) -> str:
    return word if len(word) <= MIN_STEM else word[: max(MIN_STEM, len(word) - 2)]


def _matches(word: str, answer: set[str], stems: set[str]) -> bool:
    if _is_number(word):
        return word in answer
    return word in answer or _stem(word) in stems


def check_fact(fact: str, answer: str | None) -> FactCheck:
    """Whether ``answer`` states ``fact`` (see the module docstring)."""
    if not answer:
        return FactCheck(fact=fact, status="missing", note="no answer")
    said = words(answer)
    answer_words = set(said)
    stems = {_stem(w) for w in said if not _is_number(w)} | {
        w[:n] for w in said if not _is_number(w) for n in range(MIN_STEM, len(w))
    }
    content = [w for w in words(fact) if w not in STOPWORDS] or words(fact)
    missing = [w for w in content if not _matches(w, answer_words, stems)]
    if not missing:
        return FactCheck(fact=fact, status="present")
    numbers = [w for w in content if _is_number(w)]
    others = [w for w in content if not _is_number(w)]
    lost_numbers = [w for w in missing if _is_number(w)]
    found_others = [w for w in others if _matches(w, answer_words, stems)]
    said_numbers = [w for w in dict.fromkeys(said) if _is_number(w)]
    if lost_numbers and numbers and said_numbers and len(found_others) * 2 >= max(1, len(others)):
        return FactCheck(
            fact=fact, status="contradicted", note=f"the answer says {', '.join(said_numbers[:4])}"
        )
    return FactCheck(fact=fact, status="missing", note=f"not stated: {', '.join(missing[:6])}")


def check_facts(facts: list[str], answer: str | None) -> list[FactCheck]:
    """Every fact checked against ``answer``, in order."""
    return [check_fact(f, answer) for f in facts]
