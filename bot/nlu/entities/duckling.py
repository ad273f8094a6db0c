"""A local stand-in for Rasa's DucklingEntityExtractor: no Duckling server is ever called.

Supported dimensions: ``email``, ``url``, ``phone-number``, ``number``,
``amount-of-money`` and ``time`` (dates and times through dateparser, in the message's
language). Entities come out exactly as Rasa converts Duckling's answer: ``value`` is
the plain value (ISO timestamp for times), ``additional_info`` is Duckling's value
object (with ``grain`` for times, ``unit`` for money), ``confidence`` is 1.0. Other
dimensions in ``config.yml`` are ignored with a log line.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import ConfigError
from bot.events import EntityValue
from bot.nlu.entities.times import TimeParser

log = logging.getLogger(__name__)

EXTRACTOR = "DucklingEntityExtractor"
SUPPORTED = ("amount-of-money", "email", "number", "phone-number", "time", "url")

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?"
_NUMBER = re.compile(rf"(?<![\w.,])(?<!\w-)(?P<neg>-)?(?P<num>{_NUM})(?![\d])")
_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_NUMBER_WORDS = re.compile(
    rf"\b(?:(?:{_TENS})[\s-](?:one|two|three|four|five|six|seven|eight|nine)|"
    + "|".join(sorted(_WORDS, key=len, reverse=True))
    + r")\b",
    re.I,
)
# Currency markers before or after the amount, and the unit Duckling reports for each.
_UNITS = {
    "$": "$",
    "dollar": "$",
    "dollars": "$",
    "buck": "$",
    "bucks": "$",
    "usd": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "zł": "PLN",
    "zl": "PLN",
    "pln": "PLN",
    "złotych": "PLN",
    "złote": "PLN",
    "złoty": "PLN",
    "uah": "UAH",
    "₴": "UAH",
    "грн": "UAH",
    "гривень": "UAH",
    "гривні": "UAH",
    "гривня": "UAH",
    "rub": "RUB",
    "₽": "RUB",
    "руб": "RUB",
    "рублей": "RUB",
    "рубля": "RUB",
    "рубль": "RUB",
    "cent": "cent",
    "cents": "cent",
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_MONEY_BEFORE = re.compile(rf"(?<!\w)(?P<unit>[$€£₴₽]|usd|eur|gbp|pln|uah|rub)\s?(?P<num>{_NUM})(?!\d)", re.I)
_MONEY_AFTER = re.compile(rf"(?<![\w.,])(?P<num>{_NUM})\s?(?P<unit>{_UNIT_ALT})(?!\w)", re.I)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?![\w])", re.I)
_URL = re.compile(
    r"(?<![@\w.])(?:https?://[^\s<>\"']+|www\.[^\s<>\"']+|"
    r"(?:[a-z0-9-]+\.)+(?:com|org|net|pl|ua|ru|io|eu|de|uk|co|info|biz|app|dev|me|shop)(?:/[^\s<>\"']*)?)",
    re.I,
)
_DATE_LIKE = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}(?!\w)"
)


#: What a Duckling server assumes when a request names no ``tz`` (its ``defaultTimeZone``),
#: and Rasa sends none unless the component sets ``timezone``: a Rasa project without one
#: gets times in this zone, so ours does too. Set ``timezone`` in config.yml for your studio.
DUCKLING_DEFAULT_TIMEZONE = "America/Los_Angeles"


class DucklingExtractor:
    """Extracts the configured Duckling dimensions locally (``timezone``: an IANA name;
    unset, Duckling's own default, :data:`DUCKLING_DEFAULT_TIMEZONE`)."""

    def __init__(self, dimensions: list[str] | None = None, timezone: str | None = None) -> None:
        wanted = list(SUPPORTED) if not dimensions else dimensions
        unknown = [d for d in wanted if d not in SUPPORTED]
        if unknown:
            log.info("Duckling dimensions %s have no local implementation; ignored", unknown)
        self.dimensions = [d for d in wanted if d in SUPPORTED]
        try:
            self.zone: tzinfo = ZoneInfo(timezone or DUCKLING_DEFAULT_TIMEZONE)
        except Exception as exc:
            raise ConfigError(f"DucklingEntityExtractor: unknown timezone {timezone!r}") from exc
        self._times = TimeParser()

    def extract(
        self, text: str, language: str = "en", reference_time: datetime | None = None
    ) -> list[EntityValue]:
        """Every supported dimension found in ``text``; overlaps are resolved later."""
        found: list[EntityValue] = []
        dims = self.dimensions
        if "email" in dims:
            for m in _EMAIL.finditer(text):
                found.append(self._entity("email", m, m.group(), {"value": m.group()}))
        if "url" in dims:
            for m in _URL.finditer(text):
                url = m.group().rstrip(".,!?;:)")
                domain = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.I).split("/")[0].lower()
                info = {"value": url, "domain": domain}
                found.append(self._entity("url", m, url, info, end=m.start() + len(url)))
        if "phone-number" in dims:
            for m in _PHONE.finditer(text):
                digits = re.sub(r"\D", "", m.group())
                if 7 <= len(digits) <= 15 and not _DATE_LIKE.fullmatch(m.group()):
                    phone = _phone_value(m.group())
                    found.append(self._entity("phone-number", m, phone, {"value": phone}))
        if "amount-of-money" in dims:
            for pattern in (_MONEY_BEFORE, _MONEY_AFTER):
                for m in pattern.finditer(text):
                    amount = _to_number(m.group("num"), language)
                    unit = _UNITS[m.group("unit").lower()]
                    found.append(
                        self._entity(
                            "amount-of-money", m, amount, {"value": amount, "type": "value", "unit": unit}
                        )
                    )
        if "number" in dims:
            for m in _NUMBER.finditer(text):
                value = _to_number(m.group("num"), language)
                value = -value if m.group("neg") else value
                found.append(self._entity("number", m, value, {"value": value, "type": "value"}))
            if language == "en":
                for m in _NUMBER_WORDS.finditer(text):
                    value = _word_number(m.group())
                    found.append(self._entity("number", m, value, {"value": value, "type": "value"}))
        if "time" in dims:
            now = reference_time.astimezone(self.zone) if reference_time else datetime.now(self.zone)
            masked = _mask(text, [e for e in found if e.entity != "number"])
            for t in self._times.find(masked, language, now):
                grain: dict[str, Any] = {
                    "values": [{"value": t["value"], "grain": t["grain"], "type": "value"}],
                    "value": t["value"],
                    "grain": t["grain"],
                    "type": "value",
                }
                found.append(_duckling_entity("time", t["value"], t["start"], t["end"], text, grain))
        return found

    @staticmethod
    def _entity(
        dim: str, m: re.Match[str], value: Any, info: dict[str, Any], end: int | None = None
    ) -> EntityValue:
        return _duckling_entity(dim, value, m.start(), m.end() if end is None else end, m.string, info)


def _duckling_entity(
    dim: str, value: Any, start: int, end: int, text: str, info: dict[str, Any]
) -> EntityValue:
    """An entity as Rasa converts a Duckling match: ``text``, ``confidence`` and ``additional_info`` extra."""
    return EntityValue.model_validate(
        {
            "entity": dim,
            "value": value,
            "start": start,
            "end": end,
            "extractor": EXTRACTOR,
            "text": text[start:end],
            "confidence": 1.0,
            "additional_info": info,
        }
    )


def _mask(text: str, spans: list[EntityValue]) -> str:
    """``text`` with the given spans blanked out (offsets unchanged)."""
    chars = list(text)
    for e in spans:
        chars[e.start or 0 : e.end or 0] = " " * ((e.end or 0) - (e.start or 0))
    return "".join(chars)


def _to_number(raw: str, language: str) -> int | float:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) and language == "en":
        raw = raw.replace(",", "")  # "1,000.50": English thousands separators
    else:
        raw = raw.replace(",", ".")  # "2,5": a decimal comma (Polish, Ukrainian, Russian, ...)
    value = float(raw) if raw.count(".") <= 1 else float(raw.replace(".", ""))
    return int(value) if value.is_integer() else value


def _word_number(words: str) -> int:
    return sum(_WORDS[w] for w in re.split(r"[\s-]+", words.lower()))


def _phone_value(raw: str) -> str:
    """Duckling's normal form: ``(+48) 123456789`` with a country code, else the digits."""
    m = re.match(r"\s*\+(\d{1,3})[\s.-]?(.*)", raw)
    if m:
        digits = re.sub(r"\D", "", m.group(2))
        return f"(+{m.group(1)}) {digits}"
    return re.sub(r"\D", "", raw)
