"""The project's ``regex:`` and ``lookup:`` tables, compiled once and matched against messages.

The same matches feed three consumers, as in Rasa: the intent featurizer (RegexFeaturizer),
the CRF entity extractor (a "this token is inside a <name> match" feature) and the
RegexEntityExtractor (the match *is* the entity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import ConfigError
from bot.training_data import NLUData


@dataclass(frozen=True, slots=True)
class PatternMatch:
    """``text[start:end]`` matched the regex or lookup table called ``name``."""

    name: str
    start: int
    end: int
    text: str
    kind: str  # "regex" or "lookup"


@dataclass(frozen=True, slots=True)
class _Pattern:
    name: str
    kind: str
    regex: re.Pattern[str]


class PatternSet:
    """Compiled regexes and lookup tables.

    Lookup entries are literal phrases matched case-insensitively (unless
    ``case_sensitive``) and, with ``word_boundaries``, only as whole words, so the
    lookup value "gel" does not fire inside "angel". Regexes are used as written.
    """

    def __init__(
        self,
        regexes: list[tuple[str, str]],
        lookups: dict[str, list[str]],
        *,
        case_sensitive: bool = False,
        word_boundaries: bool = True,
    ) -> None:
        flags = 0 if case_sensitive else re.IGNORECASE
        patterns: list[_Pattern] = []
        for name, pattern in regexes:
            try:
                patterns.append(_Pattern(name, "regex", re.compile(pattern, flags)))
            except re.error as exc:
                raise ConfigError(f"regex {name!r}: invalid pattern {pattern!r}: {exc}") from exc
        for name, values in lookups.items():
            phrases = sorted({v.strip() for v in values if v and v.strip()}, key=len, reverse=True)
            if not phrases:
                continue
            body = "|".join(re.escape(p) for p in phrases)
            # (?<!\w)/(?!\w) rather than \b: a phrase may begin or end with a symbol ("c++", "24/7").
            source = rf"(?<!\w)(?:{body})(?!\w)" if word_boundaries else f"(?:{body})"
            patterns.append(_Pattern(name, "lookup", re.compile(source, flags)))
        self._patterns = patterns

    @classmethod
    def from_data(
        cls, data: NLUData, *, case_sensitive: bool = False, word_boundaries: bool = True
    ) -> PatternSet:
        """All regexes and lookups of the training data."""
        return cls(
            [(r.name, r.pattern) for r in data.regexes],
            data.lookups,
            case_sensitive=case_sensitive,
            word_boundaries=word_boundaries,
        )

    @property
    def names(self) -> list[str]:
        """Distinct pattern names, in a stable order (one feature column each)."""
        return list(dict.fromkeys(p.name for p in self._patterns))

    def __len__(self) -> int:
        return len(self._patterns)

    def find(self, text: str) -> list[PatternMatch]:
        """Every non-empty match of every pattern, ordered by position."""
        found: list[PatternMatch] = []
        for pattern in self._patterns:
            for m in pattern.regex.finditer(text):
                if m.end() > m.start():
                    found.append(PatternMatch(pattern.name, m.start(), m.end(), m.group(), pattern.kind))
        found.sort(key=lambda m: (m.start, -m.end))
        return found

    def subset(self, names: set[str]) -> PatternSet:
        """The patterns whose name is in ``names`` (e.g. only those naming an entity)."""
        clone = PatternSet([], {})
        clone._patterns = [p for p in self._patterns if p.name in names]
        return clone
