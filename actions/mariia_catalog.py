"""Mariia Hub's price list, studios and salon policies, read from ``data/demo/*.csv``.

The demo bot's actions (:mod:`actions.mariia`) look services and studios up here,
whatever the client called them ("gel nails", "na Mokotowie", "Краків"), and apply
the salon's policies through the same functions the tests use: free cancellation up
to 24 hours before and 50% of the price after that; a 30% deposit for bookings over
500 PLN; references like ``MH-10234``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

STUDIO_TZ = ZoneInfo("Europe/Warsaw")
DEMO_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"
FREE_CANCELLATION = timedelta(hours=24)
LATE_CANCELLATION_SHARE = 0.5
DEPOSIT_THRESHOLD_PLN = 500
DEPOSIT_SHARE = 0.3
REFERENCE = re.compile(r"\bMH[-\s]?(\d{5})\b", re.IGNORECASE)
WEEKDAYS = ("mon_fri",) * 5 + ("sat", "sun")


def normalise(text: str) -> str:
    """Lower-case ``text`` without accents, so "Mokotów" and "mokotow" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _split(raw: str, sep: str = "|") -> list[str]:
    return [part.strip() for part in raw.split(sep) if part.strip()]


class _Named(BaseModel):
    """Something with a name in each of the bot's languages and words clients use for it."""

    model_config = ConfigDict(frozen=True)
    key: str
    name_en: str
    name_pl: str
    name_uk: str
    aliases: list[str] = Field(default_factory=list)

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, raw: object) -> object:
        return _split(raw) if isinstance(raw, str) else raw

    def name(self, language: str) -> str:
        """The display name in ``language`` (English for any other language)."""
        return str(getattr(self, f"name_{language}", self.name_en))

    def words(self) -> list[str]:
        """Every spelling that refers to this item: key, names and aliases."""
        return [self.key, self.key.replace("_", " "), self.name_en, self.name_pl, self.name_uk, *self.aliases]


class Category(_Named):
    """A group of services on the price list (hair, nails, ...)."""


class Service(_Named):
    """One line of the price list."""

    category: str
    price_pln: int
    from_price: bool = False
    duration_min: int
    patch_test: bool = False
    bookable: bool = True
    locations: list[str] = Field(default_factory=list, description="studio keys; empty means all")

    @field_validator("from_price", "patch_test", "bookable", mode="before")
    @classmethod
    def _yes_no(cls, raw: object) -> object:
        return raw.strip().lower() in ("yes", "true", "1") if isinstance(raw, str) else raw

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, raw: object) -> object:
        if isinstance(raw, str):
            return [] if raw.strip() in ("", "all") else raw.split()
        return raw

    @property
    def needs_deposit(self) -> bool:
        """Bookings over 500 PLN need a deposit (the salon's deposit policy)."""
        return self.price_pln > DEPOSIT_THRESHOLD_PLN

    @property
    def deposit_pln(self) -> int:
        """The deposit for booking this service: 30% of the price above the threshold, else 0."""
        return round(self.price_pln * DEPOSIT_SHARE) if self.needs_deposit else 0

    def offered_at(self, location: str) -> bool:
        """True when the studio ``location`` offers this service."""
        return not self.locations or location in self.locations


class Location(_Named):
    """A studio with its address and opening hours (local time, Europe/Warsaw)."""

    address: str
    phone: str
    mon_fri: str
    sat: str
    sun: str

    def hours_on(self, day: datetime) -> tuple[time, time] | None:
        """Opening and closing time on ``day``'s weekday, or None when the studio is closed."""
        return self.parse_hours(getattr(self, WEEKDAYS[day.weekday()]))

    @staticmethod
    def parse_hours(raw: str) -> tuple[time, time] | None:
        """``"08:00-21:00"`` as (opening, closing); ``"closed"`` as None."""
        if raw.strip().lower() == "closed":
            return None
        opens, closes = (time.fromisoformat(part.strip()) for part in raw.split("-"))
        return opens, closes


class Catalog(BaseModel):
    """The price list and the studios, read from ``data/demo``."""

    categories: dict[str, Category]
    services: dict[str, Service]
    locations: dict[str, Location]

    @classmethod
    def load(cls, directory: Path | None = None) -> Catalog:
        """Read ``categories.csv``, ``services.csv`` and ``locations.csv`` from ``directory``."""
        folder = Path(directory) if directory else DEMO_DATA_DIR
        return cls(
            categories={c.key: c for c in _rows(folder / "categories.csv", Category)},
            services={s.key: s for s in _rows(folder / "services.csv", Service)},
            locations={loc.key: loc for loc in _rows(folder / "locations.csv", Location)},
        )

    def find_service(self, text: str | None) -> Service | None:
        """The service ``text`` names (key, name or alias), or None."""
        return _find(self.services.values(), text)

    def find_category(self, text: str | None) -> Category | None:
        """The price-list category ``text`` names, or None."""
        return _find(self.categories.values(), text)

    def find_location(self, text: str | None) -> Location | None:
        """The studio ``text`` names, or None."""
        return _find(self.locations.values(), text)

    def in_category(self, category: str) -> list[Service]:
        """The services of one category, in price-list order."""
        return [s for s in self.services.values() if s.category == category]


_Row = TypeVar("_Row", bound=BaseModel)
_Item = TypeVar("_Item", bound="_Named")


def _rows(path: Path, model: type[_Row]) -> list[_Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [model.model_validate(row) for row in csv.DictReader(handle)]


def _find(items: Iterable[_Item], text: str | None) -> _Item | None:
    """The item whose longest spelling occurs in ``text`` as whole words.

    Exact matches win; otherwise the longest alias found inside the text, so "gel
    pedicure" is not read as "pedicure" and "Mokotowska street" is not "Mokotów".
    """
    if not text:
        return None
    wanted = normalise(str(text)).strip()
    best: tuple[int, _Item] | None = None
    for item in items:
        for spelling, pattern in _spellings(tuple(item.words())):
            if spelling == wanted:
                return item
            if pattern.search(wanted) and (best is None or len(spelling) > best[0]):
                best = (len(spelling), item)
    return best[1] if best else None


@lru_cache(maxsize=4096)
def _spellings(words: tuple[str, ...]) -> list[tuple[str, re.Pattern[str]]]:
    """Each word normalised, with the compiled whole-word pattern :func:`_find` searches for
    (computed once per item: slot validation looks the catalogue up several times a turn)."""
    found = []
    for word in words:
        spelling = normalise(word)
        found.append((spelling, re.compile(rf"(?<!\w){re.escape(spelling)}(?!\w)")))
    return found


# ---- policies -----------------------------------------------------------------------


def cancellation_fee(price_pln: int, starts_at: datetime, now: datetime) -> int:
    """The fee for cancelling (or moving) at ``now``: 0 up to 24 hours before, else 50%."""
    return 0 if starts_at - now >= FREE_CANCELLATION else round(price_pln * LATE_CANCELLATION_SHARE)


def find_reference(text: str | None) -> str | None:
    """A booking reference (``MH-12345``) written anywhere in ``text``, normalised."""
    match = REFERENCE.search(text or "")
    return f"MH-{match.group(1)}" if match else None
