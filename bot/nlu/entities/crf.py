"""A trainable entity extractor: a linear-chain CRF over tokens with BILOU tags.

Rasa's CRFEntityExtractor, and the entity half of DIETClassifier, map here. Features
follow Rasa's LexicalSyntacticFeaturizer (lower-cased word, prefixes and suffixes, word
shape, title/upper/digit flags, the same for the neighbouring tokens) plus "inside a
regex/lookup match" flags, plus "this phrase was annotated as <entity> somewhere in the
training data" flags: with a handful of annotations per entity, a value seen alone
("[low](priority)") is then also found inside a sentence ("it should be a low priority").
A label carries the entity with its role and group, so
``[Berlin]{"entity": "city", "role": "destination"}`` comes back with its role.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bot.events import EntityValue
from bot.nlu.patterns import PatternMatch, PatternSet
from bot.nlu.tokenizer import Token
from bot.training_data import EntitySpan

OUTSIDE = "O"
_SEP = "\x1f"  # between entity, role and group inside a label
_SHAPE = [
    (re.compile(r"[A-ZА-ЯЁІЇЄҐĄĆĘŁŃÓŚŹŻ]"), "X"),
    (re.compile(r"[a-zа-яёіїєґąćęłńóśźż]"), "x"),
    (re.compile(r"\d"), "d"),
]


def _shape(word: str) -> str:
    for pattern, char in _SHAPE:
        word = pattern.sub(char, word)
    return re.sub(r"(.)\1{2,}", r"\1\1", word)  # "Xxxxxx" -> "Xxx": length matters less than form


def _label(span: EntitySpan) -> str:
    return _SEP.join([span.entity, span.role or "", span.group or ""])


def token_features(tokens: Sequence[Token], matches: Sequence[PatternMatch]) -> list[dict[str, Any]]:
    """CRF features of every token of one message."""
    words = [t.text for t in tokens]
    hits: list[list[str]] = [[] for _ in tokens]
    for m in matches:
        for i, t in enumerate(tokens):
            if t.start < m.end and m.start < t.end:
                hits[i].append(m.name)
    out: list[dict[str, Any]] = []
    for i, word in enumerate(words):
        low = word.lower()
        f: dict[str, Any] = {
            "bias": 1.0,
            "low": low,
            "prefix2": low[:2],
            "prefix3": low[:3],
            "suffix2": low[-2:],
            "suffix3": low[-3:],
            "suffix5": low[-5:],
            "shape": _shape(word),
            "title": word.istitle(),
            "upper": word.isupper(),
            "digit": word.isdigit(),
            "alpha": word.isalpha(),
            "len": min(len(word), 8),
        }
        for name in hits[i]:
            f[f"pattern:{name}"] = 1.0
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < len(words):
                other = words[j]
                f[f"{offset}:low"] = other.lower()
                if abs(offset) == 1:
                    f[f"{offset}:title"] = other.istitle()
                    f[f"{offset}:digit"] = other.isdigit()
                    f[f"{offset}:shape"] = _shape(other)
                    f[f"{offset}:suffix3"] = other.lower()[-3:]
                    for name in hits[j]:
                        f[f"{offset}:pattern:{name}"] = 1.0
            elif offset == -1:
                f["BOS"] = True
            elif offset == 1:
                f["EOS"] = True
        out.append(f)
    return out


def bilou_tags(tokens: Sequence[Token], spans: Sequence[EntitySpan]) -> list[str]:
    """BILOU labels for tokens, from character-offset entity annotations."""
    tags = [OUTSIDE] * len(tokens)
    for span in spans:
        inside = [i for i, t in enumerate(tokens) if t.start < span.end and span.start < t.end]
        if not inside:
            continue
        label = _label(span)
        if len(inside) == 1:
            tags[inside[0]] = f"U-{label}"
            continue
        tags[inside[0]] = f"B-{label}"
        for i in inside[1:-1]:
            tags[i] = f"I-{label}"
        tags[inside[-1]] = f"L-{label}"
    return tags


class CRFEntityExtractor:
    """CRF tagger trained on the annotated examples (examples without entities are negatives)."""

    def __init__(
        self,
        name: str = "CRFEntityExtractor",
        *,
        c1: float = 0.1,
        c2: float = 0.1,
        max_iterations: int = 50,
        gazetteer: bool = True,
    ) -> None:
        self.name = name
        self.use_gazetteer = gazetteer
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self._crf: Any = None
        self._gazetteer = PatternSet([], {})
        self._lock = threading.Lock()

    @property
    def trained(self) -> bool:
        """Whether there were annotations to learn from."""
        return self._crf is not None

    def train(self, sequences: list[tuple[str, list[Token], list[PatternMatch], list[EntitySpan]]]) -> None:
        """Train on (text, tokens, pattern matches, gold spans) per example; no-op without any entity."""
        if not any(spans for _, _, _, spans in sequences):
            self._crf = None
            return
        import sklearn_crfsuite

        seen: dict[str, Counter[str]] = {}
        for text, _, _, spans in sequences if self.use_gazetteer else []:
            for value in {(s.entity, text[s.start : s.end].lower()) for s in spans}:
                seen.setdefault(f"gazetteer:{value[0]}", Counter())[value[1]] += 1
        self._gazetteer = PatternSet([], {name: list(values) for name, values in seen.items()})
        # Training sees the feature only for values annotated in at least two examples, as if
        # each example were left out of the gazetteer: otherwise every training entity carries
        # it and the CRF learns to ignore unseen values (new names) at prediction time.
        repeated = PatternSet(
            [], {name: [v for v, n in values.items() if n > 1] for name, values in seen.items()}
        )
        X = [
            token_features(tokens, [*matches, *repeated.find(text)]) for text, tokens, matches, _ in sequences
        ]
        y = [bilou_tags(tokens, spans) for _, tokens, _, spans in sequences]
        crf = sklearn_crfsuite.CRF(
            algorithm="lbfgs",
            c1=self.c1,
            c2=self.c2,
            max_iterations=self.max_iterations,
            all_possible_transitions=True,
        )
        crf.fit(X, y)
        self._crf = crf

    def extract(self, text: str, tokens: list[Token], matches: list[PatternMatch]) -> list[EntityValue]:
        """Entities tagged in one message, with the mean token marginal as confidence."""
        if self._crf is None or not tokens:
            return []
        features = token_features(tokens, [*matches, *self._gazetteer.find(text)])
        with self._lock:  # a pycrfsuite Tagger holds the current sequence: one user at a time
            tagger = self._crf.tagger_
            tagger.set(features)
            tags = tagger.tag()
            confidences = [tagger.marginal(tag, i) for i, tag in enumerate(tags)]
        return self._decode(text, tokens, tags, confidences)

    def _decode(
        self, text: str, tokens: list[Token], tags: list[str], conf: list[float]
    ) -> list[EntityValue]:
        entities: list[EntityValue] = []
        start: int | None = None
        current = ""
        for i, tag in enumerate(tags):
            prefix, _, label = tag.partition("-")
            if tag == OUTSIDE or prefix in ("B", "U") or label != current:
                if start is not None:  # a span left open by an unexpected tag: close it
                    entities.append(self._entity(text, tokens, start, i - 1, current, conf))
                start, current = None, ""
            if tag == OUTSIDE:
                continue
            if prefix in ("U", "L"):
                entities.append(self._entity(text, tokens, i if start is None else start, i, label, conf))
                start, current = None, ""
            elif start is None:
                start, current = i, label
        if start is not None:
            entities.append(self._entity(text, tokens, start, len(tags) - 1, current, conf))
        return entities

    def _entity(
        self, text: str, tokens: list[Token], first: int, last: int, label: str, conf: list[float]
    ) -> EntityValue:
        entity, role, group = [*label.split(_SEP), "", ""][:3]
        begin, end = tokens[first].start, tokens[last].end
        confidence = sum(conf[first : last + 1]) / (last - first + 1)
        return EntityValue(
            entity=entity,
            value=text[begin:end],
            start=begin,
            end=end,
            role=role or None,
            group=group or None,
            extractor=self.name,
            confidence_entity=round(confidence, 6),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
