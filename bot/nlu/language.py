"""Which of the bot's languages a message is written in.

Only the configured languages are candidates (``config.language`` + ``config.languages``),
so a Polish client is never told they wrote Slovak. The script narrows them first (a
Cyrillic message is not English); letters only one language has decide next (і/ї/є for
Ukrainian, ы/э/ъ/ё for Russian, ą/ę/ł... for Polish), then frequent words only one of
Russian and Ukrainian has ("меня", "мене"), since py3langid's character n-grams confuse
the two on chat-length messages; then py3langid ranks what is left. A message too short
or too uncertain keeps the bot's main language, which is what the client most likely
speaks when they type "ok".
"""

from __future__ import annotations

import re
import threading

# Letters that occur in one of the closely related languages and not the others.
_MARKERS: dict[str, re.Pattern[str]] = {
    "uk": re.compile(r"[іїєґІЇЄҐ]"),
    "ru": re.compile(r"[ыэъёЫЭЪЁ]"),
    "pl": re.compile(r"[ąćęłńśźżĄĆĘŁŃŚŹŻ]"),
    "be": re.compile(r"[ўЎ]"),
}
# Frequent words only one of Russian and Ukrainian has, for messages too short for
# py3langid ("меня зовут ..." is uk at 0.73 to it; "меня" is Russian, "мене" Ukrainian).
# Words with a marker letter (мені, скільки) are decided by the letter already.
_MARKER_WORDS: dict[str, frozenset[str]] = {
    "ru": frozenset(
        "меня тебя себя что это как когда где зовут пожалуйста спасибо нет можно хорошо сейчас "
        "очень только нужно или мне вас нас записаться здравствуйте".split()
    ),
    "uk": frozenset(
        "мене тебе що це як коли де звати звуть будь ласка дякую можна добре зараз дуже або чи".split()
    ),
}
_WORDS = re.compile(r"[^\W\d_]+(?:['ʼ’][^\W\d_]+)?")
_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]")
CYRILLIC_LANGUAGES = {"ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg"}
MIN_LETTERS = 4
MIN_PROBABILITY = 0.8
# A Cyrillic message this long without і/ї/є is Russian rather than Ukrainian.
UKRAINIAN_MARKER_EXPECTED_AFTER = 15


class LanguageDetector:
    """Detects a message's language among the configured ones; falls back to ``default``."""

    def __init__(self, default: str, languages: list[str] | None = None) -> None:
        self.default = default
        self.languages = list(dict.fromkeys([default, *(languages or [])]))
        self._identifier: object | None = None
        self._lock = threading.Lock()

    def detect(self, text: str) -> str:
        """The language code of ``text`` (one of :attr:`languages`)."""
        if len(self.languages) == 1:
            return self.default
        letters = len(_LETTER.findall(text))
        if letters < MIN_LETTERS:
            return self.default
        cyrillic = len(_CYRILLIC.findall(text)) > len(_LATIN.findall(text))
        candidates = [lang for lang in self.languages if (lang in CYRILLIC_LANGUAGES) == cyrillic]
        if len(candidates) <= 1:
            return candidates[0] if candidates else self.default
        marked = [lang for lang in candidates if lang in _MARKERS and _MARKERS[lang].search(text)]
        if len(marked) == 1:
            return marked[0]
        by_words = self._by_words(text, marked or candidates)
        if by_words is not None:
            return by_words
        ranked = [(lang, p) for lang, p in self._rank(text) if lang in (marked or candidates)]
        total = sum(p for _, p in ranked)
        if ranked and total > 0 and ranked[0][1] / total >= MIN_PROBABILITY:
            return ranked[0][0]
        if {"uk", "ru"} <= set(candidates) and not marked and letters >= UKRAINIAN_MARKER_EXPECTED_AFTER:
            return "ru"
        if self.default in candidates or not ranked or total <= 0:
            return self.default if self.default in candidates else candidates[0]
        # Unsure between languages of the message's own script (a short Cyrillic greeting:
        # "добрий день" is uk 0.54 / ru 0.46): the likelier of them, never the main
        # language of another script, which the client certainly did not write in.
        return ranked[0][0]

    @staticmethod
    def _by_words(text: str, candidates: list[str]) -> str | None:
        """The one candidate with more of its own words (:data:`_MARKER_WORDS`) than any other."""
        words = [w.lower() for w in _WORDS.findall(text)]
        counts = sorted(
            (
                (sum(w in _MARKER_WORDS[lang] for w in words), lang)
                for lang in candidates
                if lang in _MARKER_WORDS
            ),
            reverse=True,
        )
        if counts and counts[0][0] > 0 and (len(counts) == 1 or counts[0][0] > counts[1][0]):
            return counts[0][1]
        return None

    def _rank(self, text: str) -> list[tuple[str, float]]:
        ranked = self._load().rank(text)  # type: ignore[attr-defined]
        return [(str(lang), float(p)) for lang, p in ranked]

    def _load(self) -> object:
        if self._identifier is None:
            with self._lock:
                if self._identifier is None:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier

                    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                    known = [lang for lang in self.languages if lang in identifier.nb_classes]
                    identifier.set_languages(known or None)
                    self._identifier = identifier
        return self._identifier
