"""The client's name: after a cue in four languages, or as a bare answer classified ``inform``."""

from __future__ import annotations

import pytest

from bot.events import EntityValue
from bot.nlu.entities.names import NameExtractor


@pytest.mark.parametrize(
    ("text", "intent", "name"),
    [
        ("my name is Anna Kowalska", "inform", "Anna Kowalska"),
        ("I'm Anna and I'd like a facial", "book_appointment", "Anna"),
        ("call me Kate", "inform", "Kate"),
        ("Olena", "inform", "Olena"),
        ("Anna Kowalska", "inform", "Anna Kowalska"),
        ("Maria Petrova, thanks", "inform", "Maria Petrova"),
        ("Nazywam się Ewa Lewandowska", "inform", "Ewa Lewandowska"),
        ("Мене звати Олена Петренко", "inform", "Олена Петренко"),
        ("меня зовут Ольга", "inform", "Ольга"),
        ("Наталья", "inform", "Наталья"),
    ],
)
def test_names_are_found_after_a_cue_or_as_a_bare_answer(text: str, intent: str, name: str) -> None:
    found = NameExtractor().extract(text, intent, [])
    assert [(e.entity, e.value, text[e.start or 0 : e.end]) for e in found] == [("client_name", name, name)]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I am going to be late", "faq"),  # a cue, but no capitalised name after it
        ("Yes", "affirm"),
        ("Tomorrow", "inform"),
        ("Hi", "greet"),
        ("Anna", "greet"),  # a bare capitalised word counts only as an answer (inform)
        ("я хочу записаться", "book_appointment"),
    ],
)
def test_other_messages_have_no_name(text: str, intent: str) -> None:
    assert NameExtractor().extract(text, intent, []) == []


def test_a_word_another_extractor_took_is_not_a_name() -> None:
    studio = EntityValue(entity="location", value="warsaw_mokotow", start=0, end=7)
    assert NameExtractor().extract("Mokotów", "inform", [studio]) == []
