"""Tokens and their offsets, for English, Polish, Ukrainian and an unknown language."""

from __future__ import annotations

import pytest

from bot.nlu.tokenizer import Tokenizer, whitespace_tokenize


@pytest.mark.parametrize(
    ("language", "text", "words"),
    [
        ("en", "I'd like a manicure, please!", ["I", "'d", "like", "a", "manicure", ",", "please", "!"]),
        ("pl", "Chcę umówić wizytę na jutro.", ["Chcę", "umówić", "wizytę", "na", "jutro", "."]),
        ("uk", "Скільки коштує педикюр?", ["Скільки", "коштує", "педикюр", "?"]),
        ("ru", "Сколько стоит маникюр?", ["Сколько", "стоит", "маникюр", "?"]),
    ],
)
def test_spacy_tokens_carry_offsets(language: str, text: str, words: list[str]) -> None:
    tokens = Tokenizer(language).tokenize(text)
    assert [t.text for t in tokens] == words
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_language_per_call_overrides_the_default() -> None:
    tokenizer = Tokenizer("en")
    assert [t.text for t in tokenizer.tokenize("don't", "en")] == ["do", "n't"]
    assert [t.text for t in tokenizer.tokenize("don't", "pl")] == ["don't"]


def test_unknown_language_falls_back_to_the_regex_split() -> None:
    text = "hello  e-mail: anna@example.com, 3.5 stars"
    tokens = Tokenizer("zz").tokenize(text)
    assert tokens == whitespace_tokenize(text)
    assert [t.text for t in tokens] == ["hello", "e-mail", ":", "anna@example.com", ",", "3.5", "stars"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
