"""Dates and times in a message, in Duckling's ``time`` format, found with dateparser.

dateparser's search is accurate but not free, so it only runs when the message has a
digit or a date word of its language (month and weekday names, "tomorrow", "tonight"
...), taken from dateparser's own locale data. Results are biased to the future and
truncated to their grain, as Duckling does: "tomorrow" is tomorrow at 00:00 with grain
``day``, "tomorrow at 3pm" is 15:00 with grain ``hour``.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, tzinfo
from typing import Any

# Words dateparser would read as a date that in a chat are almost always something else.
_NOT_DATES = {
    "may",
    "march",
    "sun",
    "sat",
    "wed",
    "mon",
    "fri",
    "now",
    "second",
    "a",
    "an",
    "m",
    "h",
    "d",
    "s",
    "t",
    "w",
    "min",
    "sec",
    "year",
    "day",
    "week",
    "month",
    "hour",
    "minute",
}
# Too common in chat to start a date search on their own.
_NOT_TRIGGERS = {"may", "second", "sun", "sat", "wed", "mon", "fri", "min", "sec"}
_EXTRA_TRIGGERS = {
    "en": {
        "noon",
        "midnight",
        "tonight",
        "morning",
        "evening",
        "afternoon",
        "weekend",
        "today",
        "tomorrow",
        "yesterday",
        "next",
        "am",
        "pm",
        "o'clock",
    }
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_LETTER = re.compile(r"[^\W\d_]")
_NUMERIC_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}(?:[./-]\d{1,4})?")
_HAS_TIME = re.compile(r"\d{1,2}:\d{2}|\d\s*(?:am|pm|a\.m\.|p\.m\.)\b|o'clock|noon|midnight", re.I)


class TimeParser:
    """Finds time expressions; one instance per pipeline (it caches dateparser objects)."""

    def __init__(self) -> None:
        self._triggers: dict[str, set[str]] = {}
        self._parsers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def find(self, text: str, language: str, now: datetime) -> list[dict[str, Any]]:
        """Duckling-shaped matches: ``start``, ``end``, ``body``, ``value`` (ISO), ``grain``.

        Blank out spans already known to be something else (money, e-mail, ...) before
        calling: "за 500 грн" must not become "in 500 hours".
        """
        if not self._triggered(text, language):
            return []
        from dateparser.search import search_dates

        settings = {
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "RETURN_AS_TIMEZONE_AWARE": False,
        }
        try:
            found = search_dates(text, languages=[language], settings=settings) or []
        except Exception:  # dateparser raises on some locale edge cases; no time then
            return []
        results: list[dict[str, Any]] = []
        cursor = 0
        for body, moment in found:
            start = text.find(body, cursor)
            if start < 0:
                continue
            cursor = start + len(body)
            if not self._plausible(body, moment, now):
                continue
            grain = self._grain(body, moment, language)
            value = _truncate(moment, grain).replace(tzinfo=now.tzinfo)
            results.append(
                {
                    "start": start,
                    "end": start + len(body),
                    "body": body,
                    "value": duckling_iso(value),
                    "grain": grain,
                }
            )
        return results

    def _triggered(self, text: str, language: str) -> bool:
        if any(ch.isdigit() for ch in text):
            return True
        triggers = self._trigger_words(language)
        return any(w.lower() in triggers for w in _WORD.findall(text))

    def _trigger_words(self, language: str) -> set[str]:
        words = self._triggers.get(language)
        if words is None:
            with self._lock:
                words = _locale_words(language) | _EXTRA_TRIGGERS.get(language, set())
                words -= _NOT_TRIGGERS
                self._triggers[language] = words
        return words

    @staticmethod
    def _plausible(body: str, moment: datetime, now: datetime) -> bool:
        stripped = body.strip().lower()
        wordless = not _LETTER.search(stripped)
        if wordless and not _HAS_TIME.search(stripped) and not _NUMERIC_DATE.search(stripped):
            return False  # "1234" or "$20" is a number or an amount, not the year 1234
        if stripped in _NOT_DATES:
            return False
        if abs(moment.year - now.year) > 10:
            return False
        # dateparser sometimes reads a bare hour as a month ("w piątek o 10" -> October next year);
        # a date more than a year ahead without a written year is such a misreading.
        return moment.replace(tzinfo=None) - now.replace(tzinfo=None) <= timedelta(days=366) or bool(
            re.search(r"\d{4}", stripped)
        )

    def _grain(self, body: str, moment: datetime, language: str) -> str:
        parser = self._parsers.get(language)
        if parser is None:
            from dateparser import DateDataParser

            parser = self._parsers.setdefault(language, DateDataParser(languages=[language]))
        data = parser.get_date_data(body)
        parts = getattr(data, "parts", None) or ()
        if "time" in parts or _HAS_TIME.search(body):
            return "minute" if moment.minute else "hour"
        period = getattr(data, "period", None) or "day"
        return {"time": "hour"}.get(period, period)


def _truncate(moment: datetime, grain: str) -> datetime:
    if grain == "minute":
        return moment.replace(second=0, microsecond=0)
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    return day


def duckling_iso(moment: datetime) -> str:
    """Duckling's timestamp format: ``2026-11-27T15:00:00.000+00:00``."""
    return moment.isoformat(timespec="milliseconds")


def now_in(zone: tzinfo) -> datetime:
    """The current time in ``zone``."""
    return datetime.now(zone)


def _locale_words(language: str) -> set[str]:
    """Month and weekday names and relative-day words of ``language`` from dateparser's data."""
    try:
        from dateparser.languages.loader import LocaleDataLoader

        info = LocaleDataLoader().get_locale(language).info
    except Exception:
        return set()
    words: set[str] = set()
    keys = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "am",
        "pm",
    ]
    for key in keys:
        words.update(v.lower().rstrip(".") for v in info.get(key, []) if len(v) >= 3 or key in ("am", "pm"))
    for phrases in info.get("relative-type", {}).values():
        for phrase in phrases:
            words.update(w.lower() for w in _WORD.findall(phrase) if len(w) >= 4)
    for item in info.get("simplifications", []):
        for phrase in item:
            words.update(w.lower() for w in _WORD.findall(str(phrase)) if len(w) >= 4)
    return words
