"""Dates and times with dateparser, in Duckling's format, in the message's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.nlu.entities.times import TimeParser, duckling_iso

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tuesday


@pytest.fixture(scope="module")
def times() -> TimeParser:
    return TimeParser()


@pytest.mark.parametrize(
    ("language", "text", "body", "value", "grain"),
    [
        ("en", "can I come tomorrow at 3pm?", "tomorrow at 3pm", "2026-11-25T15:00:00.000+00:00", "hour"),
        (
            "en",
            "next friday at 10:30 please",
            "next friday at 10:30",
            "2026-11-27T10:30:00.000+00:00",
            "minute",
        ),
        ("en", "is Saturday ok", "Saturday", "2026-11-28T00:00:00.000+00:00", "day"),
        ("en", "on 27 November", "on 27 November", "2026-11-27T00:00:00.000+00:00", "day"),
        ("pl", "czy mogę przyjść jutro o 15:00", "jutro o 15:00", "2026-11-25T15:00:00.000+00:00", "hour"),
        ("uk", "можна завтра о 15:00?", "завтра о 15:00", "2026-11-25T15:00:00.000+00:00", "hour"),
        ("ru", "можно в пятницу в 10:00", "в пятницу в 10:00", "2026-11-27T10:00:00.000+00:00", "hour"),
    ],
)
def test_finds_times(times: TimeParser, language: str, text: str, body: str, value: str, grain: str) -> None:
    found = times.find(text, language, NOW)
    assert len(found) == 1
    match = found[0]
    assert (text[match["start"] : match["end"]], match["value"], match["grain"]) == (body, value, grain)


@pytest.mark.parametrize(
    "text", ["May I have a manicure?", "my order number is 1234", "a second question", "I want to book"]
)
def test_no_false_times(times: TimeParser, text: str) -> None:
    assert times.find(text, "en", NOW) == []


def test_iso_format_matches_duckling() -> None:
    assert duckling_iso(datetime(2026, 11, 27, 15, 0, tzinfo=UTC)) == "2026-11-27T15:00:00.000+00:00"
