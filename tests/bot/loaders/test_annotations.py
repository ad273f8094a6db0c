"""Inline entity annotations are stripped to plain text with correct offsets."""

from __future__ import annotations

import pytest

from bot.loaders import parse_annotated
from bot.loaders.annotations import AnnotationError, synonyms_from_spans


def test_plain_text_has_no_entities() -> None:
    assert parse_annotated("hello there") == ("hello there", [])


def test_short_form_and_offsets() -> None:
    text, spans = parse_annotated("what's my [emblm](credit_card) [balance](amount-of-money)?")
    assert text == "what's my emblm balance?"
    assert [(s.entity, s.value, text[s.start : s.end]) for s in spans] == [
        ("credit_card", "emblm", "emblm"),
        ("amount-of-money", "balance", "balance"),
    ]


def test_legacy_value_form() -> None:
    text, spans = parse_annotated("fly to [NYC](city:New York)")
    assert text == "fly to NYC"
    assert (spans[0].entity, spans[0].value, spans[0].start, spans[0].end) == ("city", "New York", 7, 10)


def test_dict_form_with_role_and_group() -> None:
    text, spans = parse_annotated('from [Berlin]{"entity": "city", "role": "departure", "group": "1"} on')
    assert text == "from Berlin on"
    span = spans[0]
    assert (span.entity, span.value, span.role, span.group) == ("city", "Berlin", "departure", "1")
    assert text[span.start : span.end] == "Berlin"


def test_dict_form_with_value_makes_a_synonym() -> None:
    text, spans = parse_annotated('i want to pay off my [emblm]{"entity": "credit_card", "value": "emblem"}')
    assert text == "i want to pay off my emblm"
    assert (spans[0].value, text[spans[0].start : spans[0].end]) == ("emblem", "emblm")
    synonyms: dict[str, str] = {}
    synonyms_from_spans(text, spans, synonyms)
    assert synonyms == {"emblm": "emblem"}


def test_list_form_gives_several_entities_on_one_span() -> None:
    text, spans = parse_annotated(
        'a [cheap]{"entity": "price"} [Italian][{"entity": "cuisine"}, {"entity": "type", "value": "food"}]'
    )
    assert text == "a cheap Italian"
    assert [(s.entity, s.value, s.start, s.end) for s in spans] == [
        ("price", "cheap", 2, 7),
        ("cuisine", "Italian", 8, 15),
        ("type", "food", 8, 15),
    ]


def test_brackets_without_annotation_stay() -> None:
    assert parse_annotated("press [enter] now") == ("press [enter] now", [])


@pytest.mark.parametrize(
    "bad", ['[x]{"entity": }', '[x]{"value": "y"}', '[x]{"entity": "e", "colour": "red"}']
)
def test_bad_dicts_raise(bad: str) -> None:
    with pytest.raises(AnnotationError):
        parse_annotated(bad)
