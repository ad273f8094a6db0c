"""RegexEntityExtractor: patterns named like entities extract them."""

from __future__ import annotations

from bot.nlu.entities.regex import RegexEntityExtractor
from bot.nlu.patterns import PatternSet


def test_only_patterns_named_after_entities_extract() -> None:
    patterns = PatternSet(
        [("booking_ref", r"\bMH-\d{6}\b"), ("zip", r"\b\d{2}-\d{3}\b")],
        {"service": ["manicure", "gel nails"]},
    )
    extractor = RegexEntityExtractor(patterns, {"booking_ref", "service"})
    text = "Move my Gel Nails, ref MH-123456, to 00-950 Warsaw"
    found = extractor.extract(text)
    assert [(e.entity, e.value, e.start, e.end, e.extractor) for e in found] == [
        ("service", "Gel Nails", 8, 17, "RegexEntityExtractor"),
        ("booking_ref", "MH-123456", 23, 32, "RegexEntityExtractor"),
    ]


def test_lookup_respects_word_boundaries() -> None:
    extractor = RegexEntityExtractor(PatternSet([], {"service": ["gel"]}), {"service"})
    assert extractor.extract("an angel") == []
    assert [e.value for e in extractor.extract("GEL, please")] == ["GEL"]


def test_duplicate_matches_are_reported_once() -> None:
    patterns = PatternSet([("service", r"manicure")], {"service": ["manicure"]})
    found = RegexEntityExtractor(patterns, {"service"}).extract("a manicure")
    assert len(found) == 1
