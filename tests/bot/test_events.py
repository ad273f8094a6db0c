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


# ---- who may write what -----------------------------------------------------------------------
def test_the_union_splits_into_what_actions_may_return_and_what_only_services_write() -> None:
    from bot.events import ACTION_EVENT_TYPES, SYSTEM_EVENT_TYPES

    assert {"slot", "bot", "user", "followup", "rewind", "undo", "restart", "session_started"} <= (
        ACTION_EVENT_TYPES
    )
    assert {"active_loop", "action_execution_rejected", "reset_slots", "entities"} <= ACTION_EVENT_TYPES
    assert SYSTEM_EVENT_TYPES == {
        "handoff_status",
        "pause",
        "resume",
        "agent_note",
        "csat_requested",
        "csat_recorded",
        "knowledge_gap",
    }
    assert not ACTION_EVENT_TYPES & SYSTEM_EVENT_TYPES
    # a request for a person is an action's to make: the handoff service decides and moves
    assert "handoff_requested" in ACTION_EVENT_TYPES


def test_handoff_statuses_are_typed_and_stored_as_plain_strings() -> None:
    from bot.events import HandoffStatus

    event = event_from_dict(RASA_EVENTS[-1])
    assert isinstance(event, HandoffStatusChanged)
    assert event.to_status is HandoffStatus.QUEUED and event.from_status is HandoffStatus.BOT
    assert event.to_dict()["to_status"] == "queued"
    with pytest.raises(ValidationError):
        event_from_dict({**RASA_EVENTS[-1], "to_status": "somewhere"})


@pytest.mark.parametrize(
    "raw",
    [
        RASA_EVENTS[-1],
        {"event": "resume"},
        {"event": "pause"},
        {"event": "agent_note", "text": "VIP, allergic to latex", "author": "anna"},
        {"event": "csat_recorded", "score": 5},
    ],
    ids=lambda raw: raw["event"],
)
def test_an_action_cannot_send_a_system_event(raw: dict[str, object]) -> None:
    from bot.events import SystemEventRefused, action_event_from_dict

    with pytest.raises(SystemEventRefused) as refused:
        action_event_from_dict(raw, "action_sneaky")
    assert refused.value.kind == raw["event"] and "action_sneaky" in str(refused.value)
    assert "latex" not in str(refused.value)  # the event's contents are never repeated


def test_system_events_returned_by_an_action_are_dropped_and_logged_without_their_contents(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.events import AgentNoteAdded, ConversationResumed, CsatRecorded, admit_action_events

    returned = [
        SlotSet(name="service", value="yoga"),
        HandoffStatusChanged(from_status="queued", to_status="bot", actor="bot"),
        ConversationResumed(),
        AgentNoteAdded(text="Ola's phone is +48601234567", author="x"),
        BotUttered(text="Done!"),
    ]
    with caplog.at_level("ERROR", logger="bot.events"):
        admitted = admit_action_events("action_sneaky", returned)
    assert admitted == [returned[0], returned[-1]]
    refused = [r.getMessage() for r in caplog.records]
    assert len(refused) == 3 and all("action_sneaky" in m and "refused" in m for m in refused)
    kinds = {m.split(" event")[0].split()[-1] for m in refused}
    assert kinds == {"'handoff_status'", "'resume'", "'agent_note'"}
    assert not any("+48601234567" in m or "Ola" in m for m in refused)

    class RecordsScores:  # a native action that is the system, granted one event type by name
        system_events = frozenset({CsatRecorded})

    score = CsatRecorded(score=4)
    granted = admit_action_events("action_record_csat", [score, ConversationResumed()], RecordsScores())
    assert granted == [score]
