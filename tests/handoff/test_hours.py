"""Business hours per location, in the location's own time zone, and the out-of-hours message."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.errors import ConfigError
from handoff.config import HandoffConfig, Location
from handoff.hours import describe_when, is_open, next_opening, out_of_hours_message

CONFIG = HandoffConfig()
MOKOTOW = CONFIG.locations["mokotow"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_and_closed_in_warsaw_time() -> None:
    assert is_open(MOKOTOW, utc(2026, 11, 24, 8, 0))  # 09:00 CET, Tuesday
    assert not is_open(MOKOTOW, utc(2026, 11, 24, 7, 59))
    assert not is_open(MOKOTOW, utc(2026, 11, 24, 20, 0))  # 21:00 CET: closing time
    assert not is_open(MOKOTOW, utc(2026, 11, 29, 12, 0))  # Sunday
    summer = utc(2026, 7, 7, 7, 0)  # 09:00 CEST
    assert is_open(MOKOTOW, summer)


def test_next_opening_skips_closed_days_and_holidays() -> None:
    friday_night = utc(2026, 12, 24, 21, 0)  # Thursday 24 Dec, 22:00 CET
    holiday = MOKOTOW.model_copy(update={"closed_dates": [date(2026, 12, 25), date(2026, 12, 26)]})
    assert next_opening(holiday, friday_night).isoformat() == "2026-12-28T09:00:00+01:00"
    assert next_opening(MOKOTOW, friday_night).isoformat() == "2026-12-25T09:00:00+01:00"
    never = Location(name="Closed", hours={})
    with pytest.raises(ConfigError):
        next_opening(never, friday_night)


@pytest.mark.parametrize(
    ("now", "language", "expected"),
    [
        (utc(2026, 11, 24, 6, 0), "en", "today at 09:00"),
        (utc(2026, 11, 24, 21, 0), "pl", "jutro o 09:00"),
        (utc(2026, 11, 28, 22, 0), "uk", "у понеділок о 09:00"),
        (utc(2026, 11, 28, 22, 0), "de", "on Monday at 09:00"),
    ],
)
def test_when_is_said_in_the_clients_language(now: datetime, language: str, expected: str) -> None:
    assert describe_when(next_opening(MOKOTOW, now), now, language) == expected


def test_the_out_of_hours_message() -> None:
    assert out_of_hours_message(CONFIG, "mokotow", utc(2026, 11, 24, 12, 0), "en") is None
    opening, text = out_of_hours_message(CONFIG, "praga", utc(2026, 11, 24, 19, 30), "uk")  # type: ignore[misc]
    assert opening.isoformat() == "2026-11-25T08:00:00+01:00"
    assert text.startswith("Наша команда зараз не на зв'язку. Людина з команди відповість завтра о 08:00.")
    # unknown language and unknown location fall back to the defaults
    _, english = out_of_hours_message(CONFIG, "atlantis", utc(2026, 11, 29, 12, 0), "fr")  # type: ignore[misc]
    assert "A person will reply tomorrow at 09:00" in english
