"""What people see of the event log: notes and CSAT bookkeeping never reach the client."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.events import AgentNoteAdded, BotUttered, CsatRecorded, CsatRequested, event_from_dict
from bot.transcript import transcript_entry


def test_notes_and_csat_events_are_not_transcript_lines() -> None:
    for event in (
        AgentNoteAdded(text="client is allergic to latex", author="Anna Kowalska"),
        CsatRequested(agent_id="anna.kowalska"),
        CsatRecorded(score=4, agent_id="anna.kowalska"),
    ):
        assert transcript_entry(7, event) is None
    agent = transcript_entry(8, BotUttered(text="Hello!", metadata={"sender": "agent", "agent_id": "anna"}))
    assert agent is not None and (agent.sender, agent.text) == ("agent", "Hello!")


def test_the_new_events_round_trip_through_the_wire_format() -> None:
    note = AgentNoteAdded(text="VIP, be quick", author="Anna")
    assert note.to_dict()["event"] == "agent_note"
    assert event_from_dict(note.to_dict()) == note
    recorded = CsatRecorded(score=5, comment="lovely", agent_id="anna.kowalska")
    assert event_from_dict(recorded.to_dict()) == recorded
    asked = event_from_dict({"event": "csat_requested", "timestamp": 12.5})
    assert asked == CsatRequested(timestamp=12.5, agent_id=None)


@pytest.mark.parametrize("score", [0, 6])
def test_a_csat_score_is_one_to_five(score: int) -> None:
    with pytest.raises(ValidationError):
        event_from_dict({"event": "csat_recorded", "score": score})
