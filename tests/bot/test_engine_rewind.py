"""What a turn sees after a rewind: the tracker's handoff floor and whether a message is left to answer.

The engine listens after a rewind that leaves no client message to answer
(:meth:`bot.tracker.Tracker.awaiting_reply`); these tests pin the fold it reads. The
conversations that showed the bug run end to end in ``tests/handoff/test_never_silent.py``.
"""

from __future__ import annotations

from bot.domain import Domain, SlotDef
from bot.events import (
    ActionExecuted,
    ActionReverted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    HandoffStatus,
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


def action(name: str) -> ActionExecuted:
    return ActionExecuted(name=name)


def moved(to: HandoffStatus, was: HandoffStatus) -> HandoffStatusChanged:
    return HandoffStatusChanged(from_status=was, to_status=to, actor="anna")


def tracker(*events: Event) -> Tracker:
    domain = Domain(slots={"tier": SlotDef(name="tier", initial_value="standard")})
    return Tracker.for_domain("ola", domain, list(events))


def texts(t: Tracker) -> list[str]:
    return [e.text or "" for e in t.applied_events() if isinstance(e, UserUttered)]


OPENING = (action("action_session_start"), SessionStarted(), action("action_listen"))
#: greeted, then a refund request handed off by a trigger (no bot action in that turn), a
#: message written while queued, and the return to the bot with the CSAT question
HANDED_OFF_AND_RETURNED = (
    *OPENING,
    user("greet", "hello"),
    action("utter_greet"),
    BotUttered(text="Welcome!"),
    action("action_listen"),
    user("refund", "refund please"),
    moved(HandoffStatus.QUEUED, HandoffStatus.BOT),
    ConversationPaused(),
    BotUttered(text="A person will reply shortly.", metadata={"handoff": "escalated"}),
    ActionExecuted(name="action_listen", policy="handoff"),
    user("greet", "hello?"),
    moved(HandoffStatus.ASSIGNED, HandoffStatus.QUEUED),
    moved(HandoffStatus.BOT, HandoffStatus.ASSIGNED),
    ConversationResumed(),
    BotUttered(text="How happy are you?"),
)


def test_a_rewind_stops_at_the_return_to_the_bot() -> None:
    t = tracker(
        *HANDED_OFF_AND_RETURNED,
        user("nlu_fallback", "5"),
        action("action_default_fallback"),
        BotUttered(text="Sorry?"),
        UserUtteranceReverted(),
    )
    applied = t.applied_events()
    assert isinstance(applied[-1], ConversationResumed)  # the CSAT line went with the rewind, no more
    assert texts(t) == ["hello", "refund please", "hello?"]
    assert not t.awaiting_reply()  # nothing to answer: neither the refund nor "hello?"
    assert t.handoff_status == HandoffStatus.BOT and not t.paused


def test_going_back_twice_after_the_return_takes_back_only_what_came_after_it() -> None:
    t = tracker(
        *HANDED_OFF_AND_RETURNED,
        user("back", "/back"),
        action("action_back"),
        BotUttered(text="Going back."),
        UserUtteranceReverted(),
        UserUtteranceReverted(),
    )
    assert texts(t) == ["hello", "refund please", "hello?"]
    assert not t.awaiting_reply()


def test_an_undo_never_takes_back_a_handoff_move() -> None:
    t = tracker(*HANDED_OFF_AND_RETURNED, ActionReverted(), ActionReverted())
    assert [type(e) for e in t.applied_events()[-3:]] == [
        HandoffStatusChanged,
        HandoffStatusChanged,
        ConversationResumed,
    ]
    assert texts(t) == ["hello", "refund please", "hello?"]


def test_a_boundary_closes_the_turn_of_the_message_that_triggered_it() -> None:
    asked = tracker(*OPENING, user("refund", "refund please"))
    assert asked.awaiting_reply()
    asked.update(moved(HandoffStatus.QUEUED, HandoffStatus.BOT))
    assert not asked.awaiting_reply()  # the handoff answers it


def test_after_an_ordinary_rewind_the_bot_is_where_it_was_before_it_listened() -> None:
    t = tracker(
        *OPENING,
        user("greet", "hello"),
        action("utter_greet"),
        BotUttered(text="Welcome!"),
        action("action_listen"),
        user("nlu_fallback", "blorp"),
        action("action_default_fallback"),
        BotUttered(text="Sorry?"),
        UserUtteranceReverted(),
    )
    assert isinstance(t.applied_events()[-1], BotUttered) and t.latest_action_name == "utter_greet"
    assert not t.awaiting_reply()


def test_a_rewind_of_a_sessions_first_message_leaves_nothing_to_answer() -> None:
    for start in (OPENING, (*OPENING, user("greet"), action("action_restart"), Restarted(), *OPENING)):
        t = tracker(
            *start,
            user("nlu_fallback", "5"),
            action("action_default_fallback"),
            BotUttered(text="Sorry?"),
            UserUtteranceReverted(),
        )
        assert t.applied_events() == [] and not t.awaiting_reply()


def test_a_message_put_back_after_a_rewind_is_answered() -> None:
    """The two-stage fallback rewinds and then restates the client's message: that one counts."""
    t = tracker(
        *OPENING,
        user("nlu_fallback", "blorp"),
        action("action_two_stage_fallback"),
        UserUtteranceReverted(),
        user("greet", "hello"),
    )
    assert t.awaiting_reply() and t.latest_message is not None and t.latest_message.text == "hello"


def test_slots_set_before_a_boundary_survive_a_rewind_after_it() -> None:
    t = tracker(
        *OPENING,
        SlotSet(name="tier", value="vip"),
        user("refund"),
        moved(HandoffStatus.QUEUED, HandoffStatus.BOT),
        ConversationPaused(),
        moved(HandoffStatus.BOT, HandoffStatus.QUEUED),
        ConversationResumed(),
        user("nlu_fallback", "5"),
        action("action_default_fallback"),
        UserUtteranceReverted(),
    )
    assert t.get_slot("tier") == "vip" and not t.paused
