"""Tokens with character offsets, for the featurizers and the entity extractors.

Every Rasa tokenizer name (``WhitespaceTokenizer``, ``SpacyTokenizer``, ...) maps here.
spaCy's blank pipelines carry hand-written tokenizer rules for many languages (English
contractions, Polish, Ukrainian and Russian punctuation) and need no trained model, so
nothing is downloaded; a language spaCy does not know falls back to a regex split.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Words (keeping inner apostrophes, dots and hyphens: "don't", "e-mail", "3.5") or single symbols.
_FALLBACK = re.compile(r"\w+(?:[-'’.@]\w+)*|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text == message[start:end]``."""

    text: str
    start: int
    end: int


def whitespace_tokenize(text: str) -> list[Token]:
    """The fallback split: words and single punctuation marks, with offsets."""
    return [Token(m.group(), m.start(), m.end()) for m in _FALLBACK.finditer(text)]


class Tokenizer:
    """Splits messages into tokens, with one spaCy blank tokenizer per language.

    Tokenizers are built on first use and kept by this object (never module-global), so
    a pipeline that understands Polish and Ukrainian pays only for the languages it sees.
    """

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self._split: dict[str, Callable[[str], list[Token]]] = {}
        self._lock = threading.Lock()

    def tokenize(self, text: str, language: str | None = None) -> list[Token]:
        """Tokens of ``text`` with character offsets; whitespace-only tokens are dropped."""
        return self._splitter(language or self.language)(text)

    def _splitter(self, language: str) -> Callable[[str], list[Token]]:
        split = self._split.get(language)
        if split is None:
            with self._lock:
                split = self._split.get(language) or _build(language)
                self._split[language] = split
        return split


def _build(language: str) -> Callable[[str], list[Token]]:
    try:
        import spacy

        tokenizer = spacy.blank(language).tokenizer
    except Exception as exc:  # an unknown language code, or a language needing extra packages
        log.info("no spaCy tokenizer for %r (%s); using the regex tokenizer", language, exc)
        return whitespace_tokenize

    def split(text: str) -> list[Token]:
        return [Token(t.text, t.idx, t.idx + len(t.text)) for t in tokenizer(text) if not t.is_space]

    return split
