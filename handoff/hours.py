"""Business hours per location, and the message a client gets outside them.

Times are computed in the location's own time zone, so "back at 09:00 tomorrow" is
right for a client writing at 23:30 in Warsaw whatever zone the server runs in.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import ConfigError
from handoff.config import WEEKDAYS, HandoffConfig, Location

SEARCH_DAYS = 14

_WEEKDAY_NAMES = {
    "en": ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "on Saturday", "on Sunday"],
    "pl": ["w poniedziałek", "we wtorek", "w środę", "w czwartek", "w piątek", "w sobotę", "w niedzielę"],
    "uk": ["у понеділок", "у вівторок", "у середу", "у четвер", "у п'ятницю", "у суботу", "у неділю"],
}
_RELATIVE = {
    "en": ("today at {t}", "tomorrow at {t}", "{day} at {t}"),
    "pl": ("dziś o {t}", "jutro o {t}", "{day} o {t}"),
    "uk": ("сьогодні о {t}", "завтра о {t}", "{day} о {t}"),
}


def _spans(location: Location, day: datetime) -> list[tuple[time, time]]:
    if day.date() in location.closed_dates:
        return []
    out = []
    for span in location.hours.get(WEEKDAYS[day.weekday()], []):
        start, end = span.split("-")
        # "24:00" means midnight at the end of the day
        end_time = time(23, 59, 59, 999999) if end == "24:00" else time.fromisoformat(end)
        out.append((time.fromisoformat(start), end_time))
    return sorted(out)


def is_open(location: Location, now: datetime) -> bool:
    """Whether ``location`` is open at ``now`` (an aware datetime)."""
    local = now.astimezone(ZoneInfo(location.timezone))
    return any(start <= local.time() < end for start, end in _spans(location, local))


def next_opening(location: Location, now: datetime) -> datetime:
    """The next moment ``location`` opens after ``now``, in the location's zone."""
    zone = ZoneInfo(location.timezone)
    local = now.astimezone(zone)
    for offset in range(SEARCH_DAYS + 1):
        day = (local + timedelta(days=offset)).replace(hour=0, minute=0, second=0, microsecond=0)
        for start, _end in _spans(location, day):
            candidate = datetime.combine(day.date(), start, tzinfo=zone)
            if candidate > local:
                return candidate
    raise ConfigError(f"{location.name} does not open in the next {SEARCH_DAYS} days")


def describe_when(opening: datetime, now: datetime, language: str) -> str:
    """ "tomorrow at 09:00" / "jutro o 09:00" / "у понеділок о 09:00", relative to ``now``."""
    lang = language if language in _RELATIVE else "en"
    today_form, tomorrow_form, day_form = _RELATIVE[lang]
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    clock = opening.strftime("%H:%M")
    if days == 0:
        return today_form.format(t=clock)
    if days == 1:
        return tomorrow_form.format(t=clock)
    return day_form.format(day=_WEEKDAY_NAMES[lang][opening.weekday()], t=clock)


def out_of_hours_message(
    config: HandoffConfig, location_id: str | None, now: datetime, language: str | None
) -> tuple[datetime, str] | None:
    """``(next opening, message for the client)`` when the location is closed at ``now``, else None."""
    location = (
        config.locations.get(location_id or config.default_location)
        or config.locations[config.default_location]
    )
    if is_open(location, now):
        return None
    opening = next_opening(location, now)
    lang = language if language in config.out_of_hours_message else config.default_language
    template = config.out_of_hours_message[lang]
    return opening, template.format(when=describe_when(opening, now, lang), location=location.name)
