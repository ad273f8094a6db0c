"""Events round-trip through Rasa's wire format unchanged."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    HandoffStatusChanged,
    SlotSet,
    UserUttered,
    event_from_dict,
    events_from_dicts,
    events_to_dicts,
)

RASA_EVENTS = [
    {"event": "action", "timestamp": 1.0, "name": "action_listen", "policy": None, "confidence": None},
    {
        "event": "user",
        "timestamp": 2.0,
        "text": "book a gel manicure tomorrow",
        "parse_data": {
            "text": "book a gel manicure tomorrow",
            "intent": {"name": "book_appointment", "confidence": 0.93},
            "entities": [{"entity": "service", "value": "manicure_gel", "start": 7, "end": 19}],
            "intent_ranking": [{"name": "book_appointment", "confidence": 0.93}],
        },
        "input_channel": "widget",
        "message_id": "m1",
        "metadata": {},
    },
    {"event": "slot", "timestamp": 3.0, "name": "service", "value": "manicure_gel"},
    {"event": "form", "timestamp": 4.0, "name": "booking_form"},
    {
        "event": "bot",
        "timestamp": 5.0,
        "text": "Which studio?",
        "data": {"buttons": [{"title": "Mokotów", "payload": "/inform"}]},
    },
    {"event": "active_loop", "timestamp": 6.0, "name": None},
    {
        "event": "handoff_status",
        "timestamp": 7.0,
        "from_status": "bot",
        "to_status": "queued",
        "actor": "bot",
    },
]


def test_rasa_dicts_parse_into_typed_events() -> None:
    events = events_from_dicts(RASA_EVENTS)
    assert isinstance(events[0], ActionExecuted) and events[0].name == "action_listen"
    user = events[1]
    assert isinstance(user, UserUttered)
    assert user.intent_name == "book_appointment"
    assert user.entities[0].value == "manicure_gel"
    assert isinstance(events[2], SlotSet) and events[2].value == "manicure_gel"
    # Rasa 2's "form" event is read as active_loop
    assert isinstance(events[3], ActiveLoop) and events[3].name == "booking_form"
    assert isinstance(events[4], BotUttered) and events[4].data["buttons"][0]["title"] == "Mokotów"
    assert isinstance(events[6], HandoffStatusChanged) and events[6].to_status == "queued"


def test_round_trip_keeps_every_field() -> None:
    events = events_from_dicts(RASA_EVENTS)
    again = events_from_dicts(events_to_dicts(events))
    assert again == events
    dumped = events_to_dicts(events)[1]
    assert dumped["event"] == "user"
    assert dumped["parse_data"]["intent"]["confidence"] == 0.93


def test_unknown_event_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="event"):
        event_from_dict({"event": "teleport", "timestamp": 1.0})


def test_sentiment_is_stored_as_score_and_label_and_older_bare_scores_still_load() -> None:
    from bot.events import SentimentScore

    scored = UserUttered(text="great", parse_data={"sentiment": {"score": 0.8, "label": "positive"}})
    assert scored.to_dict()["parse_data"]["sentiment"] == {"score": 0.8, "label": "positive"}
    assert scored.parse_data.sentiment == SentimentScore(score=0.8, label="positive")
    older = event_from_dict({"event": "user", "text": "meh", "parse_data": {"sentiment": -0.6}})
    assert isinstance(older, UserUttered) and older.parse_data.sentiment is not None
    assert (older.parse_data.sentiment.score, older.parse_data.sentiment.label) == (-0.6, "negative")
    assert SentimentScore.of(0.1).label == "neutral" and SentimentScore.of(0.3).label == "positive"
    with pytest.raises(ValidationError):
        UserUttered(parse_data={"sentiment": {"score": 2.0, "label": "positive"}})
