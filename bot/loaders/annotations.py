"""Rasa's inline entity annotations: ``[text](entity)``, ``[text](entity:value)``,
``[text]{"entity": "e", "value": "v", "role": "r", "group": "g"}`` and ``[text][{...}, {...}]``.

The same syntax appears in NLU examples and in test stories' ``user:`` lines, so the
parser is public: :func:`parse_annotated` returns the plain text and the entity spans
with offsets into that plain text (as rasa/shared/nlu/training_data/entities_parser.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.training_data import EntitySpan

# The regex Rasa 3 uses (entities_parser.ENTITY_REGEX), kept identical so edge cases match.
ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\]"
    r"(\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}"
    r"|\[(?P<list_entity_dicts>.*?)\])"
)
_SINGLE_DICT = re.compile(r"{(?P<entity_dict>[^}]+?)\}")
_DICT_KEYS = {"entity", "value", "role", "group"}


class AnnotationError(ValueError):
    """An entity annotation that cannot be read (bad JSON, missing ``entity``)."""


def parse_annotated(text: str) -> tuple[str, list[EntitySpan]]:
    """Strip annotations from ``text``; return the plain text and its entity spans.

    ``[emblm]{"entity": "credit_card", "value": "emblem"}`` gives plain text ``emblm``
    and a span 0..5 with value ``emblem``. Raises :class:`AnnotationError` on bad JSON.
    """
    spans: list[EntitySpan] = []
    pieces: list[str] = []
    position = 0  # in the annotated text
    plain_length = 0
    for match in ENTITY_REGEX.finditer(text):
        before = text[position : match.start()]
        pieces.append(before)
        plain_length += len(before)
        surface = match.group("entity_text")
        start, end = plain_length, plain_length + len(surface)
        spans.extend(EntitySpan(start=start, end=end, **attrs) for attrs in _attributes(match, surface))
        pieces.append(surface)
        plain_length = end
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces), spans


def _attributes(match: re.Match[str], surface: str) -> list[dict[str, Any]]:
    if match.group("entity_dict"):
        return [_from_dict(match.group("entity_dict"), surface)]
    if match.group("list_entity_dicts") is not None:
        found = [
            _from_dict(m.group("entity_dict"), surface)
            for m in _SINGLE_DICT.finditer(match.group("list_entity_dicts"))
        ]
        if not found:
            raise AnnotationError(f"entity list for {surface!r} holds no {{...}} entity")
        return found
    value = match.group("value")
    return [{"entity": match.group("entity"), "value": value if value is not None else surface}]


def _from_dict(body: str, surface: str) -> dict[str, Any]:
    try:
        data = json.loads("{" + body + "}")
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"entity annotation {{{body}}} is not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entity"), str) or not data["entity"]:
        raise AnnotationError(f'entity annotation {{{body}}} needs an "entity" name')
    unknown = set(data) - _DICT_KEYS
    if unknown:
        raise AnnotationError(f"entity annotation {{{body}}} has unknown keys: {', '.join(sorted(unknown))}")
    return {
        "entity": data["entity"],
        "value": data.get("value", surface),
        "role": data.get("role"),
        "group": data.get("group"),
    }


def synonyms_from_spans(text: str, spans: list[EntitySpan], into: dict[str, str]) -> None:
    """An annotated value that differs from its surface text is a synonym (EntitySynonymMapper)."""
    for span in spans:
        surface = text[span.start : span.end]
        if span.value is not None and surface != str(span.value):
            into[surface.lower()] = str(span.value)
