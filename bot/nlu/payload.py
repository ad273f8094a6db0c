"""Button payloads typed as text: ``/intent``, ``/intent{"entity": "value"}``, ``/intent@0.8``.

Rasa's RegexMessageHandler: the intent comes from the payload with confidence 1.0 (or
the ``@`` value), entities from the JSON object with ``start``/``end`` spanning the
whole payload. ``/faq/ask_hours`` is the retrieval intent ``faq`` with the response key
``faq/ask_hours`` selected. An intent the bot does not know, or a payload that does not
parse, is treated as ordinary text (Rasa warns and does the same).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from typing import Any

from bot.events import EntityValue, IntentPrediction, ParseData

log = logging.getLogger(__name__)

PREFIX = "/"
_PATTERN = re.compile(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?(?P<rest>.*)", re.S)


def parse_payload(
    text: str,
    known_intents: Collection[str],
    known_entities: Collection[str] | None,
    retrieval_intents: Collection[str] = (),
    responses: dict[str, list[dict[str, Any]]] | None = None,
) -> ParseData | None:
    """The parse of a payload message, or ``None`` when ``text`` is not a usable payload.

    ``known_entities=None`` accepts every entity name (no domain to check against).
    """
    stripped = text.strip()
    if not stripped.startswith(PREFIX):
        return None
    match = _PATTERN.match(stripped)
    if match is None:
        return None
    name = match.group("intent").strip()
    response_key: str | None = None
    if "/" in name:
        base, _, _ = name.partition("/")
        if base not in retrieval_intents and base not in known_intents:
            return None
        name, response_key = base, name
    if name not in known_intents:
        # the payload is the client's text: its length, never its content, goes to the log
        log.info("a payload (%d chars) names an unknown intent; parsing it as text", len(stripped))
        return None
    if match.group("rest"):
        log.info("a payload: ignoring an unparsed rest of %d chars", len(match.group("rest")))
    confidence = _confidence(match.group("confidence"))
    entities = _entities(match, known_entities)
    intent = IntentPrediction(name=name, confidence=confidence)
    parse = ParseData(text=stripped, intent=intent, entities=entities, intent_ranking=[intent.model_copy()])
    if response_key is not None:
        ranking = [(response_key, confidence)]
        parse.response_selector = selector_output(
            sorted(set(retrieval_intents) | {name}), {name: ranking}, ranking, responses or {}
        )
    return parse


def _confidence(raw: str | None) -> float:
    if raw is None:
        return 1.0
    try:
        return min(1.0, float(raw[1:]))
    except ValueError:
        return 0.0


def _entities(match: re.Match[str], known: Collection[str] | None) -> list[EntityValue]:
    raw = match.group("entities")
    if raw is None:
        return []
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        log.info("payload %r: entities are not valid JSON; ignoring them", match.string)
        return []
    if not isinstance(parsed, dict):
        return []
    entities: list[EntityValue] = []
    for entity, values in parsed.items():
        if known is not None and entity not in known:
            log.info("payload %r: unknown entity %r ignored", match.string, entity)
            continue
        for value in values if isinstance(values, list) else [values]:
            entities.append(EntityValue(entity=entity, value=value, start=match.start(), end=match.end()))
    return entities


def selector_output(
    retrieval_intents: list[str],
    per_intent: dict[str, list[tuple[str, float]]],
    default: list[tuple[str, float]],
    responses: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """Rasa's ``response_selector`` dict: ``all_retrieval_intents``, one entry per retrieval
    intent (its keys only) and ``default`` (all keys), each ``{"response", "ranking"}``."""
    out: dict[str, Any] = {"all_retrieval_intents": retrieval_intents}
    for name, ranking in per_intent.items():
        if ranking:
            out[name] = _selector_entry(ranking, responses)
    if default:
        out["default"] = _selector_entry(default, responses)
    return out


def _selector_entry(
    ranking: list[tuple[str, float]], responses: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    top_key, top_confidence = ranking[0]
    utter = f"utter_{top_key}"
    return {
        "response": {
            "responses": responses.get(utter, []),
            "confidence": top_confidence,
            "intent_response_key": top_key,
            "utter_action": utter,
        },
        "ranking": [{"confidence": c, "intent_response_key": key} for key, c in ranking],
    }
