"""Overlapping entities from several extractors: no duplicates, the more specific span wins."""

from __future__ import annotations

from bot.events import EntityValue
from bot.nlu.entities.merge import resolve_overlaps


def _e(entity: str, start: int, end: int, extractor: str, value: object = None) -> EntityValue:
    return EntityValue(
        entity=entity,
        value=value if value is not None else f"{start}-{end}",
        start=start,
        end=end,
        extractor=extractor,
    )


def test_same_entity_keeps_the_longer_span() -> None:
    out = resolve_overlaps(
        [_e("service", 5, 13, "CRFEntityExtractor"), _e("service", 0, 13, "RegexEntityExtractor")]
    )
    assert [(e.start, e.extractor) for e in out] == [(0, "RegexEntityExtractor")]


def test_exact_duplicate_prefers_the_regex_extractor() -> None:
    out = resolve_overlaps(
        [_e("service", 0, 8, "CRFEntityExtractor"), _e("service", 0, 8, "RegexEntityExtractor")]
    )
    assert [e.extractor for e in out] == ["RegexEntityExtractor"]


def test_duckling_dimensions_longer_then_more_specific() -> None:
    money = _e("amount-of-money", 0, 3, "DucklingEntityExtractor")
    number = _e("number", 1, 3, "DucklingEntityExtractor")
    time_ = _e("time", 10, 20, "DucklingEntityExtractor")
    phone = _e("phone-number", 10, 20, "DucklingEntityExtractor")
    assert [e.entity for e in resolve_overlaps([number, money, phone, time_])] == ["amount-of-money", "time"]


def test_number_inside_another_entity_is_dropped_other_overlaps_kept() -> None:
    number = _e("number", 4, 5, "DucklingEntityExtractor")
    crf = _e("guests", 4, 11, "DIETClassifier")
    person = _e("PERSON", 20, 25, "DIETClassifier")
    city = _e("city", 22, 28, "RegexEntityExtractor")
    out = resolve_overlaps([number, crf, person, city])
    assert [e.entity for e in out] == ["guests", "PERSON", "city"]


def test_order_is_by_position() -> None:
    out = resolve_overlaps([_e("b", 10, 12, "x"), _e("a", 0, 2, "x")])
    assert [e.entity for e in out] == ["a", "b"]
