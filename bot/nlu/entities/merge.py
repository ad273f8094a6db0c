"""One list of entities from several extractors: no duplicates, the more specific span wins.

Rules, applied to each overlapping pair:

* the same entity type: keep the longer span (a tie goes to the more trusted extractor:
  regex/lookup, then Duckling, then the CRF), so "$20" beats "20" and a lookup's
  "gel manicure" beats the CRF's "manicure";
* two Duckling dimensions: keep the longer span, a tie going to the more specific
  dimension (time > amount-of-money > email > url > phone-number > number);
* a Duckling ``number`` inside any other entity is dropped ("3" in "3pm" or in the
  CRF's "3 kids" entity); other different-type overlaps are both kept, as in Rasa.
"""

from __future__ import annotations

from bot.events import EntityValue

_EXTRACTOR_RANK = {"RegexEntityExtractor": 0, "DucklingEntityExtractor": 1}
_DIMENSION_RANK = {"time": 0, "amount-of-money": 1, "email": 2, "url": 3, "phone-number": 4, "number": 5}
_DUCKLING = "DucklingEntityExtractor"


def _overlap(a: EntityValue, b: EntityValue) -> bool:
    return (a.start or 0) < (b.end or 0) and (b.start or 0) < (a.end or 0)


def _length(e: EntityValue) -> int:
    return (e.end or 0) - (e.start or 0)


def _loser(a: EntityValue, b: EntityValue) -> EntityValue | None:
    """Which of two overlapping entities to drop, or ``None`` to keep both."""
    if a.entity == b.entity or (a.extractor == _DUCKLING and b.extractor == _DUCKLING):
        if _length(a) != _length(b):
            return a if _length(a) < _length(b) else b
        if a.extractor == _DUCKLING and b.extractor == _DUCKLING:
            return a if _DIMENSION_RANK.get(a.entity, 9) > _DIMENSION_RANK.get(b.entity, 9) else b
        rank_a = _EXTRACTOR_RANK.get(a.extractor or "", 2)
        return a if rank_a > _EXTRACTOR_RANK.get(b.extractor or "", 2) else b
    for candidate in (a, b):
        if candidate.extractor == _DUCKLING and candidate.entity == "number":
            return candidate
    return None


def resolve_overlaps(entities: list[EntityValue]) -> list[EntityValue]:
    """The entities with losers of every overlapping pair removed, ordered by position."""
    kept: list[EntityValue] = []
    # Longest first, so a long span is in place before the short ones it should absorb.
    for candidate in sorted(entities, key=lambda e: (-_length(e), e.start or 0)):
        drop = False
        for other in list(kept):
            if not _overlap(candidate, other):
                continue
            loser = _loser(candidate, other)
            if loser is candidate:
                drop = True
                break
            if loser is other:
                kept.remove(other)
        if not drop:
            kept.append(candidate)
    return sorted(kept, key=lambda e: (e.start or 0, e.end or 0))
