"""What the Mariia Hub actions put into responses, in English, Polish and Ukrainian,
and the check of a requested appointment time against a studio's opening hours.

The sentences themselves are domain responses (``domain.yml``); this module supplies
the values that go into them: dates ("piątek, 10 maja"), prices ("od 750 zł"), opening
hours, and which response explains why a time cannot be booked.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from actions.mariia_catalog import STUDIO_TZ, Location, Service

LANGUAGES = ("en", "pl", "uk", "ru")
_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "closed": "closed",
        "mon_fri": "Mon–Fri",
        "sat": "Sat",
        "sun": "Sun",
        "book_it": "Book it",
        "from": "from {amount} PLN",
        "amount": "{amount} PLN",
        "when": "{day} at {time}",
        "day": "{weekday} {d} {month}",
    },
    "pl": {
        "closed": "nieczynne",
        "mon_fri": "pon.–pt.",
        "sat": "sob.",
        "sun": "niedz.",
        "book_it": "Zarezerwuj",
        "from": "od {amount} zł",
        "amount": "{amount} zł",
        "when": "{day}, godz. {time}",
        "day": "{weekday}, {d} {month}",
    },
    "uk": {
        "closed": "зачинено",
        "mon_fri": "пн–пт",
        "sat": "сб",
        "sun": "нд",
        "book_it": "Забронювати",
        "from": "від {amount} PLN",
        "amount": "{amount} PLN",
        "when": "{day}, о {time}",
        "day": "{weekday}, {d} {month}",
    },
    "ru": {
        "closed": "закрыто",
        "mon_fri": "пн–пт",
        "sat": "сб",
        "sun": "вс",
        "book_it": "Записаться",
        "from": "от {amount} PLN",
        "amount": "{amount} PLN",
        "when": "{day}, в {time}",
        "day": "{weekday}, {d} {month}",
    },
}
_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "pl": ("poniedziałek", "wtorek", "środa", "czwartek", "piątek", "sobota", "niedziela"),
    "uk": ("понеділок", "вівторок", "середа", "четвер", "пʼятниця", "субота", "неділя"),
    "ru": ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"),
}
_MONTHS = {  # Polish, Ukrainian and Russian dates use the genitive: "10 maja", "10 травня", "10 мая"
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "pl": (
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "września",
        "października",
        "listopada",
        "grudnia",
    ),
    "uk": (
        "січня",
        "лютого",
        "березня",
        "квітня",
        "травня",
        "червня",
        "липня",
        "серпня",
        "вересня",
        "жовтня",
        "листопада",
        "грудня",
    ),
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
}


def word(key: str, language: str) -> str:
    """One of the small words above in ``language``."""
    return _WORDS.get(language, _WORDS["en"])[key]


def format_day(moment: datetime, language: str) -> str:
    """A day as written in ``language``: "Friday 10 May", "piątek, 10 maja", "пʼятниця, 10 травня"."""
    lang = language if language in LANGUAGES else "en"
    return word("day", lang).format(
        weekday=_WEEKDAYS[lang][moment.weekday()], d=moment.day, month=_MONTHS[lang][moment.month - 1]
    )


def format_when(moment: datetime, language: str) -> str:
    """The day and the time of an appointment, as the client reads it."""
    return word("when", language).format(day=format_day(moment, language), time=moment.strftime("%H:%M"))


def format_hours(hours: tuple[time, time]) -> str:
    """Opening hours like "8:00–21:00"."""
    return "–".join(f"{t.hour}:{t.minute:02d}" for t in hours)


def format_price(service: Service, language: str) -> str:
    """A service's price as written in ``language``: "190 PLN", "from 750 PLN", "od 750 zł"."""
    return word("from" if service.from_price else "amount", language).format(
        amount=f"{service.price_pln:,}".replace(",", " ")
    )


MIN_NOTICE = timedelta(hours=1)
BOOKING_HORIZON_DAYS = 90


def studio_now() -> datetime:
    """The current time in the studios' time zone."""
    return datetime.now(STUDIO_TZ)


def parse_time(value: Any) -> datetime | None:
    """A ``time`` slot or entity value as a studio-local datetime.

    Duckling gives an ISO timestamp, or ``{"from": ..., "to": ...}`` for an interval
    ("tomorrow afternoon"), whose start is taken; anything else is None.
    """
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("from") or value.get("value") or value.get("to")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STUDIO_TZ)
    return moment.astimezone(STUDIO_TZ)


def is_date_only(moment: datetime) -> bool:
    """True for a time at midnight: the client named a day but not the hour ("on Friday")."""
    return moment.hour == 0 and moment.minute == 0


# An hour written after a preposition ("at 3pm", "o 15", "о 15:30", "godz. 10") or as hh:mm.
_HOUR_AFTER_WORD = re.compile(
    r"(?:\bat|\bo|\bob|\bо|\bоб|\bna|\bgodz\.?|\bgodzina|@)\s*(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?(?!\w)",
    re.IGNORECASE,
)
_HOUR_ALONE = re.compile(r"(?<![\d.:/])(\d{1,2})(?::(\d{2})\s*(am|pm)?|\s*(am|pm))(?!\w)", re.IGNORECASE)
# Words that name a day: then a time is not an answer to "what time on <the day we agreed>?".
_DAY_WORDS = re.compile(
    r"(?<!\w)(?:today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|next\b|weekend|"
    r"january|february|march|april|may\b|june|july|august|september|october|november|december|"
    r"dzi[sś]|jutro|pojutrze|poniedzia|wtor|[sś]rod|czwart|pi[aą]t|sobot|niedziel|przysz[lł]|"
    r"stycz|lut|marz|kwie|maj|czerw|lip|sierp|wrze[sś]|pa[zź]dzier|listopad|grud|"
    r"сьогодн|завтра|понед|вівтор|серед|четвер|п.ятниц|субот|неділ|наступн|"
    r"січ|лют|берез|квіт|травн|червн|лип|серп|верес|жовт|листопад|груд|"
    r"\d{1,2}[./]\d{1,2}|\d{1,2}(?:st|nd|rd|th)\b)",
    re.IGNORECASE,
)


_WEEKDAY_WORDS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"(?<!\w)(?:monday|mon\b|poniedzia|понеділ)",
        r"(?<!\w)(?:tuesday|tue\b|tues\b|wtor|вівтор)",
        r"(?<!\w)(?:wednesday|wed\b|[śs]rod[aęey]\b|серед[аиу]\b)",
        r"(?<!\w)(?:thursday|thu\b|thurs\b|czwart|четвер)",
        r"(?<!\w)(?:friday|fri\b|pi[ąa]t[ekku]|п.?ятниц)",
        r"(?<!\w)(?:saturday|sat\b|sobot|субот)",
        r"(?<!\w)(?:sunday|sun\b|niedziel|неділ)",
    )
]


def weekdays_in_text(text: str | None) -> set[int]:
    """The weekdays a message names (0 = Monday), in English, Polish or Ukrainian."""
    return {day for day, pattern in enumerate(_WEEKDAY_WORDS) if pattern.search(text or "")}


def hour_in_text(text: str | None) -> time | None:
    """The hour a message names ("at 5" -> 17:00, "o 15", "10:30am"), or None.

    Without am/pm, 1-6 o'clock means the afternoon: the studios open at 7 at the earliest.
    """
    match = _HOUR_AFTER_WORD.search(text or "") or _HOUR_ALONE.search(text or "")
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = next((g.lower() for g in match.groups()[2:] if g), None)
    if suffix == "pm" and hour < 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    elif suffix is None and 1 <= hour <= 6:
        hour += 12
    return time(hour, minute) if hour < 24 and minute < 60 else None


def complete_time(moment: datetime, text: str | None, pending_day: str | None) -> datetime | None:
    """Fill in what the time extractor missed: the hour of "tomorrow at 5" from the text, or
    the day agreed earlier when the client now only gives the hour ("at 11").

    None when the extracted day is not a weekday the message names ("Sunday" read as a
    Tuesday): better to ask again than to book the wrong day.
    """
    named = weekdays_in_text(text)
    if named and moment.weekday() not in named:
        return None
    if is_date_only(moment):
        hour = hour_in_text(text)
        return datetime.combine(moment.date(), hour, STUDIO_TZ) if hour else moment
    if pending_day and not _DAY_WORDS.search(text or ""):
        return datetime.combine(date.fromisoformat(pending_day), moment.time(), STUDIO_TZ)
    return moment


def time_problem(
    moment: datetime, service: Service | None, location: Location | None, now: datetime, language: str
) -> tuple[str, dict[str, Any]] | None:
    """Why ``moment`` cannot be booked, as (response name, values), or None when it can.

    For a day without an hour (see :func:`is_date_only`) only the day is checked. Without
    a studio only the date range is checked; the studio's hours once it is known.
    """
    date_only = is_date_only(moment)
    if (moment.date() < now.date()) if date_only else (moment < now + MIN_NOTICE):
        return "utter_time_in_past", {}
    if moment > now + timedelta(days=BOOKING_HORIZON_DAYS):
        return "utter_time_too_far", {"days": BOOKING_HORIZON_DAYS}
    if location is None:
        return None
    day = format_day(moment, language)
    studio = location.name(language)
    hours = location.hours_on(moment)
    if hours is None:
        return "utter_studio_closed", {"studio": studio, "day": day}
    if date_only:
        return None
    opens, closes = hours
    end = moment + timedelta(minutes=service.duration_min if service else 0)
    if moment.time() < opens or end.time() > closes or end.date() != moment.date():
        latest = datetime.combine(moment.date(), closes) - (end - moment)
        return "utter_outside_opening_hours", {
            "studio": studio,
            "day": day,
            "hours": format_hours(hours),
            "latest": latest.strftime("%H:%M"),
        }
    return None


def week_hours(location: Location, language: str) -> str:
    """A studio's week: "Mon–Fri 8:00–21:00, Sat 9:00–19:00, Sun 10:00–17:00"."""
    parts = []
    for label, raw in (("mon_fri", location.mon_fri), ("sat", location.sat), ("sun", location.sun)):
        hours = Location.parse_hours(raw)
        parts.append(f"{word(label, language)} {format_hours(hours) if hours else word('closed', language)}")
    return ", ".join(parts)
