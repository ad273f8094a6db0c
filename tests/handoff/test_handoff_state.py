"""The one transition table: every legal move, every illegal one, and the ticket folded from events."""

from __future__ import annotations

import itertools

import pytest

from bot.events import (
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    HandoffRequested,
    HandoffStatusChanged,
)
from bot.tracker import Tracker
from handoff.state import (
    TRANSITIONS,
    HandoffStatus,
    IllegalTransition,
    allowed_targets,
    current_status,
    ticket,
    transition,
)

S = HandoffStatus
LEGAL = {
    (S.BOT, S.QUEUED),
    (S.QUEUED, S.ASSIGNED),
    (S.QUEUED, S.BOT),
    (S.ASSIGNED, S.RESOLVED),
    (S.ASSIGNED, S.QUEUED),
    (S.ASSIGNED, S.BOT),
    (S.RESOLVED, S.BOT),
}


def test_the_table_is_exactly_the_documented_one() -> None:
    assert set(TRANSITIONS) == LEGAL


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_every_legal_transition_writes_a_status_event_with_actor_and_reason(
    current: HandoffStatus, target: HandoffStatus
) -> None:
    events = transition(
        current, target, actor="anna.kowalska", reason="because", metadata={"k": 1}, timestamp=10.0
    )
    status = events[0]
    assert isinstance(status, HandoffStatusChanged)
    assert (status.from_status, status.to_status, status.actor, status.reason) == (
        current,
        target,
        "anna.kowalska",
        "because",
    )
    assert status.metadata == {"k": 1} and status.timestamp == 10.0
    tail = [type(e) for e in events[1:]]
    if current == S.BOT:
        assert tail == [ConversationPaused]
    elif target == S.BOT:
        assert tail == [ConversationResumed]
    else:
        assert tail == []


ILLEGAL = sorted(set(itertools.product(S, S)) - LEGAL)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_illegal_transition_is_refused_with_what_is_allowed(
    current: HandoffStatus, target: HandoffStatus
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(current, target, actor="x")
    error = caught.value
    assert (error.current, error.target) == (current, target)
    assert error.allowed == sorted(str(t) for t in allowed_targets(current))
    assert f"cannot move a conversation from {current} to {target}" in str(error)


def test_illegal_count_and_unknown_status() -> None:
    assert len(ILLEGAL) == 16 - 7  # includes staying put, e.g. assigned -> assigned
    with pytest.raises(ValueError):
        transition("bot", "escalated", actor="x")


def test_the_tracker_fold_follows_the_events() -> None:
    tracker = Tracker(sender_id="ola")
    for event in transition("bot", "queued", actor="bot"):
        tracker.update(event)
    assert tracker.paused and tracker.handoff_status == "queued"
    for event in transition("queued", "assigned", actor="anna") + transition("assigned", "bot", actor="anna"):
        tracker.update(event)
    assert not tracker.paused and tracker.handoff_status == "bot"


def test_current_status_and_ticket_fold() -> None:
    events = [
        HandoffRequested(reason="rule:safety", detail="swelling", timestamp=100.0),
        *transition("bot", "queued", actor="bot", reason="rule:safety", timestamp=101.0),
        *transition("queued", "assigned", actor="anna", metadata={"agent_id": "anna"}, timestamp=130.0),
        BotUttered(text="Hi, Anna here", metadata={"sender": "agent"}, timestamp=145.0),
        *transition("assigned", "queued", actor="anna", reason="transfer to skin", timestamp=200.0),
        *transition("queued", "assigned", actor="olena", timestamp=210.0),
    ]
    assert current_status([]) == S.BOT
    assert current_status(events) == S.ASSIGNED
    t = ticket("widget:1", events)
    assert (t.status, t.reason, t.detail, t.assigned_to) == (S.ASSIGNED, "rule:safety", "swelling", "olena")
    assert (t.requested_at, t.queued_at) == (100.0, 101.0)  # a transfer does not restart the SLA clock
    assert t.first_response_seconds == 44.0

    later = events + transition("assigned", "resolved", actor="olena", timestamp=300.0)
    assert ticket("widget:1", later).resolved_at == 300.0
    again = later + transition("resolved", "bot", actor="olena") + [HandoffRequested(reason="client_request")]
    again += transition("bot", "queued", actor="bot", timestamp=900.0)
    fresh = ticket("widget:1", again)
    assert (fresh.reason, fresh.queued_at, fresh.assigned_to, fresh.first_response_at) == (
        "client_request",
        900.0,
        None,
        None,
    )
