"""A client's name in their message: "my name is Anna Kowalska", "меня зовут Ольга", or just "Olena".

Why rules and not only the CRF: names are open-class words the training data can never
list, and a form asks for one with a message that is often nothing but the name. Two
cases are recognised, in English, Polish, Ukrainian and Russian:

* a cue ("my name is", "I'm", "nazywam się", "мене звати", "меня зовут", ...) followed by
  one to three capitalised words;
* a whole message of one to three capitalised words when the intent is ``inform`` and no
  other entity (a service, a studio, a date) covers them.

The value is the name as written (whitespace squeezed). Nothing is logged.
"""

from __future__ import annotations

import re

from bot.events import EntityValue

EXTRACTOR = "NameEntityExtractor"
ENTITY = "client_name"
_WORD = r"[A-ZÀ-ÖØ-ÞĄĆĘŁŃÓŚŹŻА-ЯЁІЇЄҐ][a-zß-öø-ÿąćęłńóśźżа-яёіїєґʼ'’]+(?:-[A-ZА-ЯЁІЇЄҐ][a-zа-яёіїєґ]+)?"
_NAME = rf"(?P<name>{_WORD}(?:\s+{_WORD}){{0,2}})"
_CUES = (
    r"my name is|my name's|the name is|name is|name:|i am|i'm|im|this is|it's|call me|under the name",
    r"nazywam się|mam na imię|jestem|tu|z tej strony|na nazwisko",
    r"мене звати|мене звуть|моє ім'я|моє імʼя|я",
    r"меня зовут|моё имя|мое имя|я|это",
)
# only the cue ignores case: the name itself must be capitalised, word by word
_CUE = re.compile(rf"(?<!\w)(?i:{'|'.join(_CUES)})\s*[:,-]?\s+{_NAME}(?!\w)")
_BARE = re.compile(rf"\s*{_NAME}\s*[.!,]?\s*(?:(?:here|thanks|please|dziękuję|дякую|спасибо)\W*)?$")
# Capitalised words that start a message without being a name.
_NOT_NAMES = frozenset(
    "hi hello hey yes no ok okay thanks thank sure please bye good great fine tomorrow today monday tuesday "
    "wednesday thursday friday saturday sunday cześć tak nie dzięki dziękuję jutro dzisiaj привіт так ні "
    "дякую завтра сьогодні привет да нет спасибо сегодня здравствуйте добрий добрый".split()
)


class NameExtractor:
    """Finds ``client_name`` after a name cue, or as a bare answer classified ``inform``."""

    def extract(self, text: str, intent: str | None, taken: list[EntityValue]) -> list[EntityValue]:
        """The name in ``text``, if any; ``taken`` are the entities other extractors found."""
        for match in _CUE.finditer(text):
            found = self._entity(match, taken)
            if found is not None:
                return [found]
        if intent == "inform":
            match = _BARE.match(text)
            if match:
                found = self._entity(match, taken)
                if found is not None:
                    return [found]
        return []

    @staticmethod
    def _entity(match: re.Match[str], taken: list[EntityValue]) -> EntityValue | None:
        start, end = match.start("name"), match.end("name")
        name = match.group("name")
        if not re.match(_WORD, name) or name.split()[0].casefold() in _NOT_NAMES:
            return None
        if any((e.start or 0) < end and start < (e.end or 0) for e in taken):
            return None  # "Mokotów" is a studio, "Friday" a date
        return EntityValue(
            entity=ENTITY, value=" ".join(name.split()), start=start, end=end, extractor=EXTRACTOR
        )
