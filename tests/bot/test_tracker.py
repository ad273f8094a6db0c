"""The tracker is a fold over events with Rasa's semantics."""

from __future__ import annotations

from bot.domain import Domain, SlotDef
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    ConversationPaused,
    ConversationResumed,
    HandoffStatusChanged,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from bot.tracker import Tracker


def user(intent: str, text: str = "") -> UserUttered:
    return UserUttered(text=text or intent, parse_data={"intent": {"name": intent, "confidence": 1.0}})


def domain() -> Domain:
    return Domain(
        slots={
            "service": SlotDef(name="service", type="text"),
            "tier": SlotDef(name="tier", initial_value="standard"),
        }
    )


def names(tracker: Tracker) -> list[str]:
    return [
        getattr(e, "name", None) or getattr(e, "intent_name", None) or e.event
        for e in tracker.applied_events()
    ]


def test_slots_start_at_initial_values_and_follow_events() -> None:
    t = Tracker.for_domain("c1", domain())
    assert t.get_slot("tier") == "standard" and t.get_slot("service") is None
    t.update(SlotSet(name="service", value="massage"))
    assert t.get_slot("service") == "massage"
    t.update(Restarted())
    assert t.get_slot("service") is None and t.get_slot("tier") == "standard"


def test_rewind_removes_the_last_user_turn_and_restores_state() -> None:
    t = Tracker.for_domain("c1", domain())
    for e in [
        ActionExecuted(name="action_listen"),
        user("greet"),
        ActionExecuted(name="utter_greet"),
        ActionExecuted(name="action_listen"),
        user("nonsense"),
        SlotSet(name="service", value="x"),
    ]:
        t.update(e)
    t.update(UserUtteranceReverted())
    # everything from the last user message on is undone, slots included
    assert names(t) == ["action_listen", "greet", "utter_greet"]
    assert t.latest_intent == "greet"
    assert t.get_slot("service") is None
    t.update(ActionReverted())
    assert names(t) == ["action_listen", "greet"]


def test_repeated_form_runs_collapse_into_the_story_shape() -> None:
    t = Tracker.for_domain("c1", domain())
    for e in [
        ActionExecuted(name="action_listen"),
        user("book"),
        ActionExecuted(name="booking_form"),
        ActiveLoop(name="booking_form"),
        ActionExecuted(name="action_listen"),
        user("inform"),
        ActionExecuted(name="booking_form"),
        ActiveLoop(name=None),
    ]:
        t.update(e)
    assert names(t) == ["action_listen", "book", "booking_form", "booking_form", "active_loop"]
    assert t.active_loop_name is None


def test_rejected_form_is_an_unhappy_path_and_is_not_collapsed() -> None:
    t = Tracker.for_domain("c1", domain())
    for e in [
        ActionExecuted(name="action_listen"),
        user("book"),
        ActionExecuted(name="booking_form"),
        ActiveLoop(name="booking_form"),
        ActionExecuted(name="action_listen"),
        user("ask_prices"),
        ActionExecutionRejected(name="booking_form"),
    ]:
        t.update(e)
    assert t.active_loop.rejected is True
    t.update(ActionExecuted(name="utter_prices"))
    t.update(ActionExecuted(name="booking_form"))
    kinds = [e.event for e in t.applied_events()]
    assert kinds[-3:] == ["action_execution_rejected", "action", "action"]
    assert names(t)[-2:] == ["utter_prices", "booking_form"]
    assert t.active_loop.rejected is False


def test_session_start_forgets_earlier_events_for_prediction() -> None:
    t = Tracker.for_domain("c1", domain())
    t.update(user("greet"))
    t.update(SessionStarted())
    assert t.applied_events() == []
    assert len(t.events) == 2


def test_pause_and_resume() -> None:
    t = Tracker.for_domain("c1", domain())
    t.update(ConversationPaused())
    assert t.paused
    t.update(ConversationResumed())
    assert not t.paused


def test_current_state_matches_rasa_sdk_shape() -> None:
    t = Tracker.for_domain("c1", domain())
    t.update(user("book_appointment", "book me in"))
    t.update(ActiveLoop(name="booking_form"))
    state = t.current_state()
    assert state["sender_id"] == "c1"
    assert state["latest_message"]["intent"]["name"] == "book_appointment"
    assert state["active_loop"]["name"] == "booking_form"
    assert state["events"][0]["event"] == "user"
    assert set(state) >= {"slots", "latest_event_time", "followup_action", "paused", "latest_action_name"}


def test_a_new_session_does_not_unpause_a_conversation_a_human_owns() -> None:
    t = Tracker.for_domain("c1", domain())
    t.update(
        HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", reason="client_request")
    )
    t.update(ConversationPaused())
    t.update(SessionStarted())
    assert t.paused
    t.update(
        HandoffStatusChanged(from_status="queued", to_status="bot", actor="agent:anna", reason="returned")
    )
    t.update(ConversationResumed())
    t.update(SessionStarted())
    assert not t.paused


def test_a_rewind_after_a_return_to_the_bot_does_not_bring_the_handoffs_pause_back() -> None:
    """The muted conversation (issue 11): a trigger handed the conversation off inside a turn
    (its pause sits before the turn's ``action_listen``); an agent claimed it and gave it back
    (status and resume after that ``action_listen``); the client's next message hit a core
    fallback, whose rewind undoes back to and including that ``action_listen``. Replaying
    what remained used to bring back the pause but not the resume: the bot said nothing again."""
    t = Tracker.for_domain("c1", domain())
    t.update(user("greet", "hi"))
    t.update(ActionExecuted(name="utter_greet"))
    t.update(ActionExecuted(name="action_listen"))
    t.update(user("refund", "I want a refund"))  # an immediate trigger hands off in the turn
    t.update(HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", reason="rule:refund"))
    t.update(ConversationPaused())
    t.update(ActionExecuted(name="action_listen", policy="handoff"))
    t.update(HandoffStatusChanged(from_status="queued", to_status="assigned", actor="anna"))
    t.update(HandoffStatusChanged(from_status="assigned", to_status="bot", actor="anna"))
    t.update(ConversationResumed())
    assert not t.paused
    t.update(user("nlu_fallback", "5"))  # typed at the CSAT question: a core fallback
    t.update(ActionExecuted(name="action_default_fallback"))
    t.update(UserUtteranceReverted())
    assert (t.paused, t.handoff_status) == (False, "bot")
    t.update(ActionReverted())
    assert (t.paused, t.handoff_status) == (False, "bot")
    # the same log folded from the start agrees
    rebuilt = Tracker.for_domain("c1", domain(), list(t.events))
    assert (rebuilt.paused, rebuilt.handoff_status) == (False, "bot")


def test_a_rewind_while_a_person_owns_the_conversation_keeps_the_bot_silent() -> None:
    t = Tracker.for_domain("c1", domain())
    t.update(user("greet", "hi"))
    t.update(ActionExecuted(name="action_listen"))
    t.update(HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot"))
    t.update(ConversationPaused())
    t.update(user("nlu_fallback", "???"))
    t.update(UserUtteranceReverted())
    assert (t.paused, t.handoff_status) == (True, "queued")


def test_current_state_events_are_the_callers_own_and_follow_the_log() -> None:
    t = Tracker.for_domain("c1", domain())
    t.update(user("greet", "hi"))
    first = t.current_state()["events"]
    first[0]["parse_data"]["intent"]["name"] = "changed by an action"
    first.append({"event": "slot", "name": "x", "value": 1})
    t.update(ActionExecuted(name="utter_greet"))
    again = t.current_state()["events"]
    assert again == [e.to_dict() for e in t.events]
    t.events = [SessionStarted(), *t.events]  # a replaced list is dumped again
    assert t.current_state()["events"] == [e.to_dict() for e in t.events]
    assert t.fork().current_state() == t.current_state()
