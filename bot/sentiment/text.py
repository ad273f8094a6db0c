"""Text preparation and hand-made features shared by training and scoring.

Both the word and the character views see the same normalised text, so a model trained
on one spelling of "soooo slow" recognises another. Case is folded for the n-grams,
but shouting in capitals and runs of "!!!" are kept as separate dense features: they
are among the strongest anger signals in support chats and would be lost to lowercase.

A small support-domain anger lexicon (en/pl/uk/ru word stems: "furious", "worst",
"ripping people off", "wściekła", "найгірша", "в бешенстве") is one more dense feature:
with a few hundred training messages the n-grams alone missed anger put in words the
training set lacks ("worst studio ever, I am furious" scored positive), and a stem list
generalises across inflections where a single example cannot.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

_URL = re.compile(r"https?://\S+|www\.\S+")
_USER = re.compile(r"@\w+")
_NUMBER = re.compile(r"\d+([.,:]\d+)*")
_REPEAT = re.compile(r"(\w)\1{2,}")
_PUNCT_RUN = re.compile(r"([!?.])\1{2,}")
_SPACES = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")
_UPPER_WORD = re.compile(r"\b[^\W\d_a-zа-яёіїєґąćęłńóśźż]{3,}\b")

# Stems of words and phrases that carry anger in support chats; matched at word starts on
# lower-cased text. Kept short and specific: "bad" or "late" are left to the model.
_ANGER = re.compile(
    r"(?<!\w)(?:"
    r"furious|fuming|livid|outrage|disgust|appall|worst|rip(?:ping|ped)?[ -]?(?:\w+ )?off|"
    r"scam|con artist|daylight robbery|cheat|shame on you|unacceptable|ridiculous|"
    r"wście[kc]|najgorsz|zdzierstw|oszuk|oszust|skandal|karygodn|żenad|"
    r"лют[іиь]|люті|найгірш|обдира|ошук|обурлив|скандал|жахлив|"
    r"ярост|бешенств|худш|обман|безобраз|возмутит|ужасн"
    r")"
)

# Word tokens, runs of ! or ?, and any other single non-space symbol (emoji, emoticon parts).
WORD_TOKEN_PATTERN = r"(?u)\b\w+\b|[!?]+|[^\w\s]"


def normalise(text: str) -> str:
    """Lower-cased, NFKC text with URLs, user handles and numbers replaced by placeholders,
    letters repeated three or more times squeezed to two, and punctuation runs to three."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _URL.sub(" url ", text)
    text = _USER.sub(" @user ", text)
    text = text.lower()
    text = _NUMBER.sub("0", text)
    text = _REPEAT.sub(r"\1\1", text)
    text = _PUNCT_RUN.sub(r"\1\1\1", text)
    return _SPACES.sub(" ", text).strip()


def surface_features(text: str) -> list[float]:
    """Signals lost by lower-casing (share of capital letters, shouted words, ! and ?), the
    length, and how many anger-lexicon stems the message holds."""
    text = text or ""
    letters = _LETTER.findall(text)
    upper = sum(1 for ch in letters if ch.isupper())
    caps_ratio = upper / len(letters) if len(letters) >= 4 else 0.0
    shouted = len(_UPPER_WORD.findall(text))
    exclaim = text.count("!")
    question = text.count("?")
    words = len(text.split())
    return [
        caps_ratio,
        min(shouted, 5) / 5,
        min(exclaim, 5) / 5,
        min(question, 5) / 5,
        1.0 if "?!" in text or "!?" in text else 0.0,
        min(words, 60) / 60,
        min(len(_ANGER.findall(text.lower())), 3) / 3,
    ]


class SurfaceFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """scikit-learn transformer wrapping :func:`surface_features` (reads the raw text)."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def fit(self, texts: Iterable[str], y: object = None) -> SurfaceFeatures:
        """Nothing to learn; present for the pipeline."""
        return self

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """One row of surface features per text, scaled by ``weight``."""
        rows = [surface_features(t) for t in texts]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1) * self.weight
