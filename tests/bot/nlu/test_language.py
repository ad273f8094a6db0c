"""Language detection restricted to the bot's languages, with the main language as fallback."""

from __future__ import annotations

import pytest

from bot.nlu.language import LanguageDetector


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector("en", ["pl", "uk", "ru"])


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Dzień dobry, chciałabym umówić wizytę", "pl"),
        ("Czy mogę zapłacić kartą?", "pl"),
        ("Добрий день, я хочу записатися на манікюр", "uk"),
        ("Здравствуйте, я хочу записаться на маникюр", "ru"),  # py3langid alone says uk here
        ("Сколько стоит педикюр?", "ru"),
        ("Хочу записаться на маникюр", "ru"),  # long, unmarked, py3langid unsure (uk 0.63)
        ("хочу поговорити з людиною", "uk"),  # long, unmarked, but py3langid is sure (uk 0.94)
        # short Cyrillic greetings py3langid cannot split between uk and ru: the likelier of
        # the two, never English (the main language) for a message in Cyrillic
        ("добрий день", "uk"),
        ("привет", "ru"),
        ("спасибо", "ru"),
        # words only one of the two has, where no letter tells: "меня" / "мене"
        ("меня зовут", "ru"),
        ("мене звати", "uk"),
        ("как записаться?", "ru"),
        ("що у вас є", "uk"),
        ("Hello, when are you open on Saturday?", "en"),
        ("ok", "en"),
        ("так", "en"),  # three letters: too short to tell apart, keep the main language
    ],
)
def test_detects_configured_languages(detector: LanguageDetector, text: str, language: str) -> None:
    assert detector.detect(text) == language


def test_only_configured_languages_are_returned() -> None:
    detector = LanguageDetector("pl", ["en"])
    # German text: not a configured language, so the answer is one of ours.
    assert detector.detect("Guten Tag, ich möchte einen Termin vereinbaren") in {"pl", "en"}
    assert detector.detect("Добрий день, я хочу записатися на манікюр") in {"pl", "en"}


def test_single_language_bot_never_guesses() -> None:
    assert LanguageDetector("uk").detect("Hello there, how are you doing today?") == "uk"
