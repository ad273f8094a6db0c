"""Payload messages typed or sent by buttons: Rasa's RegexMessageHandler."""

from __future__ import annotations

from bot.nlu.payload import parse_payload

INTENTS = ["greet", "book_appointment", "faq", "restart"]


def test_plain_intent_payload() -> None:
    parse = parse_payload("/greet", INTENTS, None)
    assert parse is not None
    assert (parse.intent.name, parse.intent.confidence) == ("greet", 1.0)
    assert [(r.name, r.confidence) for r in parse.intent_ranking] == [("greet", 1.0)]
    assert parse.entities == []


def test_entities_span_the_whole_payload() -> None:
    text = '/book_appointment{"service": "manicure", "time": ["10:00", "11:00"]}'
    parse = parse_payload(text, INTENTS, None)
    assert parse is not None
    assert [(e.entity, e.value, e.start, e.end) for e in parse.entities] == [
        ("service", "manicure", 0, len(text)),
        ("time", "10:00", 0, len(text)),
        ("time", "11:00", 0, len(text)),
    ]


def test_confidence_suffix() -> None:
    parse = parse_payload("/greet@0.4", INTENTS, None)
    assert parse is not None and parse.intent.confidence == 0.4
    capped = parse_payload("/greet@3", INTENTS, None)
    assert capped is not None and capped.intent.confidence == 1.0


def test_unknown_entities_are_dropped_when_the_domain_is_known() -> None:
    parse = parse_payload('/book_appointment{"service": "facial", "colour": "red"}', INTENTS, ["service"])
    assert parse is not None
    assert [e.entity for e in parse.entities] == ["service"]


def test_bad_json_keeps_the_intent() -> None:
    parse = parse_payload('/book_appointment{"service": manicure}', INTENTS, None)
    assert parse is not None
    assert parse.intent.name == "book_appointment" and parse.entities == []


def test_retrieval_payload_selects_the_response_key() -> None:
    responses = {"utter_faq/ask_hours": [{"text": "9-20"}]}
    parse = parse_payload("/faq/ask_hours", INTENTS, None, ["faq"], responses)
    assert parse is not None
    assert parse.intent.name == "faq"
    selector = parse.response_selector
    assert selector["all_retrieval_intents"] == ["faq"]
    assert selector["faq"]["response"] == {
        "responses": [{"text": "9-20"}],
        "confidence": 1.0,
        "intent_response_key": "faq/ask_hours",
        "utter_action": "utter_faq/ask_hours",
    }
    assert selector["default"] == selector["faq"]


def test_not_a_payload() -> None:
    assert parse_payload("hello /greet", INTENTS, None) is None
    assert parse_payload("/unknown_intent", INTENTS, None) is None
    assert parse_payload("/", INTENTS, None) is None
