"""Rasa NLU training files (``nlu:`` key) -> :class:`NLUData`.

Follows rasa/shared/nlu/training_data/formats/rasa_yaml.py: ``intent`` examples as a
``|`` block of ``- `` lines or as a list of ``text:`` mappings, ``synonym``, ``regex``
and ``lookup`` items. Retrieval intents (``faq/ask_hours``) are split into intent and
response key; annotated values that differ from the surface text become synonyms as
Rasa's EntitySynonymMapper learns them. ``responses:`` in data files are returned too,
so the project loader can merge them into the domain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain import ResponseVariation
from bot.errors import FormatError
from bot.loaders.annotations import AnnotationError, parse_annotated, synonyms_from_spans
from bot.loaders.responses import parse_responses
from bot.loaders.yaml_io import Source, describe, expand_paths, line_of
from bot.training_data import NLUData, NLUExample, RegexFeature

_ITEM_KEYS = {
    "intent": {"intent", "examples", "metadata"},
    "synonym": {"synonym", "examples"},
    "regex": {"regex", "examples"},
    "lookup": {"lookup", "examples"},
}


@dataclass
class NLUFiles:
    """Everything read from NLU files: the training data and any ``responses:`` blocks."""

    data: NLUData = field(default_factory=NLUData)
    responses: dict[str, list[ResponseVariation]] = field(default_factory=dict)
    response_origin: dict[str, str] = field(default_factory=dict)  # response name -> file:line


@dataclass
class _Line:
    """One example line with the file line it came from."""

    text: str
    line: int | None


def load_nlu(paths: Sequence[Path], warnings: list[str] | None = None) -> NLUData:
    """Read NLU training data from YAML files or directories (files without ``nlu:`` add nothing)."""
    out = NLUFiles()
    notes = warnings if warnings is not None else []
    for path in expand_paths(paths):
        parse_nlu_source(Source.read(Path(path)), out, notes)
    return out.data


def parse_nlu_source(src: Source, out: NLUFiles, warnings: list[str]) -> None:
    """Add the ``nlu:`` and ``responses:`` content of one parsed file to ``out``."""
    top = src.top()
    src.check_version()
    if "responses" in top:
        for name, variations in parse_responses(src, top).items():
            out.responses.setdefault(name, variations)
            out.response_origin.setdefault(name, src.where(top["responses"], name))
    if "nlu" not in top:
        return
    items = src.seq(top, "nlu", "'nlu'")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            src.fail(
                f"nlu item {i + 1} must be a mapping (intent, synonym, regex or lookup), "
                f"found {describe(item)}",
                items,
                i,
            )
        kind = next((k for k in _ITEM_KEYS if k in item), None)
        if kind is None:
            src.fail(f"nlu item {i + 1} has none of the keys intent, synonym, regex, lookup", items, i)
        src.check_keys(item, _ITEM_KEYS[kind], f"nlu item {i + 1} ({kind})")
        name = src.text(item, kind, f"nlu item {i + 1}: {kind!r}")
        _PARSERS[kind](src, item, name, out.data, warnings)


def _intent(src: Source, item: Mapping[str, Any], name: str, data: NLUData, warnings: list[str]) -> None:
    intent, _, response_key = name.partition("/")
    lines = _example_lines(src, item, f"intent {name!r}", warnings, allow_dicts=True)
    if not lines:
        warnings.append(f"{src.where(item, 'intent')}: intent {name!r} has no examples")
    for line in lines:
        try:
            text, spans = parse_annotated(line.text)
        except AnnotationError as exc:
            raise _at(src, line, exc) from exc
        synonyms_from_spans(text, spans, data.synonyms)
        data.examples.append(
            NLUExample(text=text, intent=intent, entities=spans, response_key=response_key or None)
        )


def _at(src: Source, line: _Line, exc: Exception) -> FormatError:
    return FormatError(str(src.path), f"example {line.text!r}: {exc}", line.line)


def _synonym(src: Source, item: Mapping[str, Any], name: str, data: NLUData, warnings: list[str]) -> None:
    for line in _example_lines(src, item, f"synonym {name!r}", warnings):
        data.synonyms[line.text.lower()] = name


def _regex(src: Source, item: Mapping[str, Any], name: str, data: NLUData, warnings: list[str]) -> None:
    for line in _example_lines(src, item, f"regex {name!r}", warnings):
        try:
            re.compile(line.text)
        except re.error as exc:
            raise _at(src, line, ValueError(f"regex {name!r} is not a valid pattern: {exc}")) from exc
        data.regexes.append(RegexFeature(name=name, pattern=line.text))


def _lookup(src: Source, item: Mapping[str, Any], name: str, data: NLUData, warnings: list[str]) -> None:
    raw = item.get("examples")
    if isinstance(raw, str) and raw.strip() and "\n" not in raw.strip() and not raw.lstrip().startswith("-"):
        elements = _lookup_file(src, item, raw.strip(), name)
    else:
        elements = [line.text for line in _example_lines(src, item, f"lookup {name!r}", warnings)]
    table = data.lookups.setdefault(name, [])
    table.extend(e for e in elements if e not in table)


def _lookup_file(src: Source, item: Mapping[str, Any], ref: str, name: str) -> list[str]:
    """Rasa 1/2 lookup tables could name a text file with one element per line."""
    candidates = [src.path.parent / ref, Path(ref)]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        src.fail(
            f"lookup {name!r}: file {ref!r} not found "
            f" (looked next to this file and in the current directory)",
            item,
            "examples",
        )
    return [line.strip() for line in found.read_text(encoding="utf-8").splitlines() if line.strip()]


def _example_lines(
    src: Source, item: Mapping[str, Any], what: str, warnings: list[str], allow_dicts: bool = False
) -> list[_Line]:
    """``examples: |`` block lines (``- text``) or, for intents, a list of ``text:`` mappings."""
    raw = item.get("examples")
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return _block_lines(src, item, raw, what, warnings)
    if allow_dicts and isinstance(raw, Sequence):
        out: list[_Line] = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, Mapping) or "text" not in entry:
                src.fail(
                    f"{what}: example {i + 1} must be a mapping with 'text' (and optional 'metadata')", raw, i
                )
            src.check_keys(entry, {"text", "metadata"}, f"{what}: example {i + 1}")
            out.append(_Line(str(entry["text"]).strip("\n\r "), line_of(raw, i)))
        return out
    src.fail(f"{what}: 'examples' must be a '|' block of '- ' lines, found {describe(raw)}", item, "examples")


def _block_lines(
    src: Source, item: Mapping[str, Any], raw: str, what: str, warnings: list[str]
) -> list[_Line]:
    key_line = line_of(item, "examples")
    # A literal block starts on the line after ``examples: |``; a one-line string is on the key's line.
    first = key_line + 1 if key_line is not None and "\n" in raw else key_line
    out: list[_Line] = []
    for offset, text in enumerate(raw.splitlines()):
        line = first + offset if first is not None else None
        if not text.strip():
            continue
        if not text.startswith("-"):
            where = f"{src.path}:{line}" if line is not None else str(src.path)
            warnings.append(
                f"{where}: {what}: example {text.strip()!r} does not start with '- ' and is skipped"
            )
            continue
        example = text[1:].strip("\n\r ")
        if not example:
            where = f"{src.path}:{line}" if line is not None else str(src.path)
            warnings.append(f"{where}: {what}: an empty example is skipped")
            continue
        out.append(_Line(example, line))
    return out


_PARSERS = {"intent": _intent, "synonym": _synonym, "regex": _regex, "lookup": _lookup}
