"""The local Duckling: e-mail, URL, phone, number, money and time, shaped as Rasa reports them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import ConfigError
from bot.events import EntityValue
from bot.nlu.entities.duckling import DucklingExtractor
from bot.nlu.entities.merge import resolve_overlaps

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def duckling() -> DucklingExtractor:
    return DucklingExtractor(timezone="UTC")


def _found(duckling: DucklingExtractor, text: str, language: str = "en") -> list[EntityValue]:
    return resolve_overlaps(duckling.extract(text, language, NOW))


def test_email(duckling: DucklingExtractor) -> None:
    text = "write to anna.k+salon@example.co.uk please"
    [email] = _found(duckling, text)
    assert email.model_dump(exclude_none=True) == {
        "entity": "email",
        "value": "anna.k+salon@example.co.uk",
        "start": 9,
        "end": 35,
        "extractor": "DucklingEntityExtractor",
        "text": "anna.k+salon@example.co.uk",
        "confidence": 1.0,
        "additional_info": {"value": "anna.k+salon@example.co.uk"},
    }


def test_numbers_digits_and_words(duckling: DucklingExtractor) -> None:
    found = _found(duckling, "2 kids, three dogs, twenty-five cats and 1,250.5 fish")
    assert [e.value for e in found] == [2, 3, 25, 1250.5]
    assert found[0].model_extra["additional_info"] == {"value": 2, "type": "value"}


def test_decimal_comma_outside_english(duckling: DucklingExtractor) -> None:
    assert [e.value for e in _found(duckling, "waga 2,5 kilograma", "pl") if e.entity == "number"] == [2.5]


def test_money_beats_the_number_inside_it(duckling: DucklingExtractor) -> None:
    found = _found(duckling, "send $20 to John or 50 zł to Anna")
    assert [(e.entity, e.value, e.model_extra["additional_info"]["unit"]) for e in found] == [
        ("amount-of-money", 20, "$"),
        ("amount-of-money", 50, "PLN"),
    ]


def test_phone_and_url(duckling: DucklingExtractor) -> None:
    found = _found(duckling, "call +48 123 456 789 or see www.mariiahub.pl/booking.")
    assert [(e.entity, e.value) for e in found] == [
        ("phone-number", "(+48) 123456789"),
        ("url", "www.mariiahub.pl/booking"),
    ]
    assert found[1].model_extra["additional_info"]["domain"] == "mariiahub.pl"


def test_time_value_and_grain(duckling: DucklingExtractor) -> None:
    [time_] = _found(duckling, "tomorrow at 3pm")
    assert time_.value == "2026-11-25T15:00:00.000+00:00"
    assert time_.model_extra["additional_info"] == {
        "values": [{"value": "2026-11-25T15:00:00.000+00:00", "grain": "hour", "type": "value"}],
        "value": "2026-11-25T15:00:00.000+00:00",
        "grain": "hour",
        "type": "value",
    }


def test_time_in_the_configured_timezone() -> None:
    warsaw = DucklingExtractor(["time"], timezone="Europe/Warsaw")
    [time_] = warsaw.extract("tomorrow at 3pm", "en", NOW)
    assert time_.value == "2026-11-25T15:00:00.000+01:00"


def test_without_a_timezone_times_are_in_ducklings_default_zone_as_rasa_gets_them() -> None:
    # a Duckling server asked without `tz` answers in America/Los_Angeles, and Rasa sends no
    # `tz` unless configured: Rasa's financial demo expects "-08:00" in its test stories
    [time_] = DucklingExtractor(["time"]).extract("in January 2019", "en", NOW)
    assert time_.value == "2019-01-01T00:00:00.000-08:00"
    [time_] = DucklingExtractor(["time"]).extract("tomorrow at 3pm", "en", NOW)
    assert time_.value == "2026-11-25T15:00:00.000-08:00"


def test_money_is_not_read_as_a_time(duckling: DucklingExtractor) -> None:
    found = _found(duckling, "завтра о 15:00 за 500 грн", "uk")
    by_type = {e.entity: e for e in found}
    assert by_type["time"].value == "2026-11-25T15:00:00.000+00:00"
    assert by_type["amount-of-money"].value == 500
    assert by_type["amount-of-money"].model_extra["additional_info"]["unit"] == "UAH"


def test_only_configured_dimensions(duckling: DucklingExtractor) -> None:
    emails_only = DucklingExtractor(["email", "distance"])
    assert emails_only.dimensions == ["email"]
    assert [e.entity for e in emails_only.extract("a@b.io on friday for $5", "en", NOW)] == ["email"]


def test_identifier_digits_are_not_numbers(duckling: DucklingExtractor) -> None:
    assert _found(duckling, "booking MH-123456") == []


def test_unknown_timezone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="timezone"):
        DucklingExtractor(timezone="Mars/Olympus")
