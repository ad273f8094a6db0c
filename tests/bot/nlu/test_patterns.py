"""Regex and lookup tables compiled from the training data."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.nlu.patterns import PatternSet


def test_lookups_match_whole_words_case_insensitively() -> None:
    patterns = PatternSet([], {"service": ["gel", "Gel Nails", "c++"]})
    found = patterns.find("An angel wants GEL NAILS and c++ lessons")
    assert [(m.name, m.text, m.kind) for m in found] == [
        ("service", "GEL NAILS", "lookup"),
        ("service", "c++", "lookup"),
    ]


def test_longest_lookup_phrase_wins() -> None:
    found = PatternSet([], {"service": ["hair", "hair colouring"]}).find("hair colouring please")
    assert [m.text for m in found] == ["hair colouring"]


def test_regexes_and_offsets() -> None:
    text = "my booking is MH-123456, ok?"
    found = PatternSet([("booking_ref", r"\bMH-\d{6}\b")], {}).find(text)
    assert [(m.name, m.start, m.end) for m in found] == [("booking_ref", 14, 23)]
    assert text[found[0].start : found[0].end] == "MH-123456"


def test_case_sensitive_and_boundaries_are_options() -> None:
    assert PatternSet([], {"x": ["gel"]}, case_sensitive=True).find("GEL") == []
    assert [m.text for m in PatternSet([], {"x": ["gel"]}, word_boundaries=False).find("angel")] == ["gel"]


def test_subset_and_names() -> None:
    patterns = PatternSet([("zip", r"\d{2}-\d{3}")], {"service": ["manicure"], "city": ["Warsaw"]})
    assert patterns.names == ["zip", "service", "city"]
    assert patterns.subset({"city"}).names == ["city"]


def test_invalid_regex_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="regex 'bad'"):
        PatternSet([("bad", "(unclosed")], {})
