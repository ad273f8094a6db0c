"""The client's name: after a cue in four languages, or as a bare answer of words the bot
does not know (or classified ``inform``); and what the classifier is not shown."""

from __future__ import annotations

import pytest

from bot.events import EntityValue
from bot.nlu.entities.names import NameExtractor, without
from bot.nlu.vocabulary import Vocabulary

# words a small bot was trained on
KNOWN = Vocabulary(
    {"thanks", "bye", "for", "booking", "mokotów", "hello", "is", "this", "wanna", "date", "ciao"}
)


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
        ("я хочу записаться", "book_appointment"),
    ],
)
def test_other_messages_have_no_name(text: str, intent: str) -> None:
    assert NameExtractor().extract(text, intent, []) == []


def test_a_word_another_extractor_took_is_not_a_name() -> None:
    studio = EntityValue(entity="location", value="warsaw_mokotow", start=0, end=7)
    assert NameExtractor().extract("Mokotów", "inform", [studio]) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Zofia", "Zofia"),
        ("Bartholomew", "Bartholomew"),
        ("Zofia Wiśniewska.", "Zofia Wiśniewska"),
        ("Богдан", "Богдан"),
        ("Anna", "Anna"),  # one typo from "wanna", but short words are not forgiven typos
        ("Kate", "Kate"),  # nor "date"
        ("my name is Anna Kowalska", "Anna Kowalska"),
    ],
)
def test_a_bare_name_is_found_before_the_intent_is_known(text: str, name: str) -> None:
    names = NameExtractor(KNOWN)
    assert [text[s:e] for s, e in names.spans(text)] == [name]
    # whatever the classifier made of it
    assert [e.value for e in names.extract(text, "goodbye", [])] == [name]


@pytest.mark.parametrize(
    "text", ["Bye", "Ciao!", "Mokotów", "Mokotow", "Hello", "This is Mokotów", "Thanks Bye"]
)
def test_capitalised_words_the_bot_knows_are_not_names(text: str) -> None:
    names = NameExtractor(KNOWN)
    assert names.spans(text) == []
    assert names.extract(text, "goodbye", []) == []


def test_only_the_clients_name_is_found_not_other_capitalised_words() -> None:
    # "London" or "American Express" inside a question mean something to the classifier
    names = NameExtractor(KNOWN)
    assert names.spans("thanks Zofia, booking for Bartholomew. Hello") == []
    assert names.spans("is there parking in London") == []


def test_another_extractors_client_name_must_look_like_a_name() -> None:
    names = NameExtractor(KNOWN)
    assert names.is_name("Marta Nowak") and names.is_name("Ольга")
    assert not names.is_name("Bye") and not names.is_name("marta") and not names.is_name("")
    assert not names.is_name("Ciao Bye")  # words the bot knows


def test_without_cuts_spans_and_squeezes_spaces() -> None:
    assert without("a  Zofia b", [(3, 8)]) == "a b"
    assert without("unchanged  text", []) == "unchanged  text"
