"""Rasa's RegexEntityExtractor: a regex or lookup table named like an entity extracts it."""

from __future__ import annotations

from bot.events import EntityValue
from bot.nlu.patterns import PatternMatch, PatternSet

EXTRACTOR = "RegexEntityExtractor"


class RegexEntityExtractor:
    """Turns matches of the patterns named after entities into entities.

    Only patterns whose name is an entity (annotated in the training data or declared
    in the domain) extract anything, as in Rasa; the others stay features.
    """

    def __init__(self, patterns: PatternSet, entity_names: set[str]) -> None:
        self.patterns = patterns.subset(entity_names)

    def extract(self, text: str, matches: list[PatternMatch] | None = None) -> list[EntityValue]:
        """Entities found in ``text`` (pass ``matches`` when they are already computed)."""
        names = set(self.patterns.names)
        found = matches if matches is not None else self.patterns.find(text)
        entities: list[EntityValue] = []
        seen: set[tuple[str, int, int]] = set()
        for m in found:
            key = (m.name, m.start, m.end)
            if m.name not in names or key in seen:
                continue
            seen.add(key)
            entities.append(
                EntityValue(entity=m.name, value=m.text, start=m.start, end=m.end, extractor=EXTRACTOR)
            )
        return entities
