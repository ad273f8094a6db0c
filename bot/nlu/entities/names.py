"""A client's name in their message: "my name is Anna Kowalska", "меня зовут Ольга", or just "Olena".

Why rules and not only the CRF: names are open-class words the training data can never
list, and a form asks for one with a message that is often nothing but the name. Two
cases are recognised, in English, Polish, Ukrainian and Russian:

* a cue ("my name is", "I'm", "nazywam się", "мене звати", "меня зовут", ...) followed by
  one to three capitalised words;
* a whole message of one to three capitalised words none of which the bot knows (its
  training words: "Mokotów", "Friday" and "Bye" are known, "Zofia" is not), or which the
  classifier read as ``inform`` and no other entity (a service, a studio, a date) covers.

Both are found before the intent is known (:meth:`NameExtractor.spans`), because which
name a client gives says nothing about what they want nor which language they write in:
the classifier reads one placeholder name in its place (in training too), the language
detector the text without it (:func:`without`). A bare "Zofia" then reads as what it is,
an answer, instead of the intent whose examples its letters happen to resemble ("Zofia"
was ``goodbye`` at 0.89, like "ciao"), and "my name is Anna Kowalska" is English whatever
the surname. Other capitalised words stay: "London" or "American Express" in a question
mean something (taking them out too cost a point on the demo's held-out split).

The value is the name as written (whitespace squeezed). Nothing is logged.
"""

from __future__ import annotations

import re

from bot.events import EntityValue
from bot.nlu.vocabulary import Vocabulary

EXTRACTOR = "NameEntityExtractor"
ENTITY = "client_name"
# What the classifier reads in place of every name, in training and parsing alike: that a
# name was given tells the intent ("Maria Petrova, thanks" answers a question), which
# name does not. A plain name MiniLM reads as one, in none of the demo's examples.
PLACEHOLDER = "Alex"
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
_NAME_WORD = re.compile(_WORD)
TYPOS_FROM = 6  # letters: a shorter word one typo from a known one is still a name
_LETTERS = re.compile(r"[^\W\d_]+")
# Capitalised words that start a message without being a name.
_NOT_NAMES = frozenset(
    "hi hello hey yes no ok okay thanks thank sure please bye good great fine tomorrow today monday tuesday "
    "wednesday thursday friday saturday sunday cześć tak nie dzięki dziękuję jutro dzisiaj привіт так ні "
    "дякую завтра сьогодні привет да нет спасибо сегодня здравствуйте добрий добрый".split()
)


class NameExtractor:
    """Finds ``client_name`` after a cue, or as a bare answer of words the bot does not know.

    ``known`` are the words the NLU was trained on, names taken out (none: every
    capitalised word outside :data:`_NOT_NAMES` may be a name).
    """

    def __init__(self, known: Vocabulary | None = None) -> None:
        self.known = known

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where ``text`` names the client, decided from the text alone (no intent needed)."""
        for match in _CUE.finditer(text):
            span = self._unknown_run(match)
            if span is not None:
                return [span]
        bare = _BARE.match(text)
        if bare and self._unknown_run(bare) == bare.span("name"):
            return [bare.span("name")]
        return []

    def extract(self, text: str, intent: str | None, taken: list[EntityValue]) -> list[EntityValue]:
        """The name in ``text``, if any; ``taken`` are the entities other extractors found."""
        for start, end in self.spans(text):
            found = _entity(text, start, end, taken)
            if found is not None:
                return [found]
        if intent == "inform":  # a bare answer whose words the bot happens to know ("Rose")
            match = _BARE.match(text)
            if match and self.is_name(match.group("name")):
                found = _entity(text, match.start("name"), match.end("name"), taken)
                if found is not None:
                    return [found]
        return []

    def is_name(self, value: str) -> bool:
        """Whether ``value`` (another extractor's ``client_name``) can be a name at all:
        capitalised words, not a greeting or a day, not only words the bot knows ("Ciao")."""
        words = value.split()
        return (
            bool(words)
            and all(_NAME_WORD.fullmatch(w) for w in words)
            and not self._common(words[0])
            and not all(self._known(w) for w in words)
        )

    def _unknown_run(self, match: re.Match[str]) -> tuple[int, int] | None:
        """The span of the match's name cut before its first word the bot knows, if any is left."""
        start = end = match.start("name")
        for word in _NAME_WORD.finditer(match.group("name")):
            if self._common(word.group()) or self._known(word.group()):
                break
            end = start + word.end()
        return (start, end) if end > start else None

    def _common(self, word: str) -> bool:
        return word.casefold() in _NOT_NAMES

    def _known(self, word: str) -> bool:
        # Typos are forgiven only in long words: "Mokotow" is the studio, but "Anna" is
        # not "wanna" nor "Kate" "date".
        known = self.known
        return known is not None and all(
            known.knows(p.lower(), typos_from=TYPOS_FROM) for p in _LETTERS.findall(word)
        )


def without(text: str, spans: list[tuple[int, int]], placeholder: str = "") -> str:
    """``text`` with each of ``spans`` replaced by ``placeholder`` (cut out by default;
    whitespace squeezed)."""
    if not spans:
        return text
    kept, last = [], 0
    for start, end in sorted(spans):
        kept.append(text[last:start])
        kept.append(placeholder)
        last = end
    kept.append(text[last:])
    return " ".join("".join(kept).split())


def _entity(text: str, start: int, end: int, taken: list[EntityValue]) -> EntityValue | None:
    if any((e.start or 0) < end and start < (e.end or 0) for e in taken):
        return None  # "Mokotów" is a studio, "Friday" a date
    return EntityValue(
        entity=ENTITY, value=" ".join(text[start:end].split()), start=start, end=end, extractor=EXTRACTOR
    )
