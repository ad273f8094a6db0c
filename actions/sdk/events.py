"""Event helpers with rasa_sdk's names and signatures (``rasa_sdk.events``).

Each returns the event as a plain dict in Rasa's wire format, exactly what a
rasa_sdk action returns, so an action file works with either library.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

EventType = dict[str, Any]


def UserUttered(
    text: str | None,
    parse_data: dict[str, Any] | None = None,
    timestamp: float | None = None,
    input_channel: str | None = None,
) -> EventType:
    """The user said ``text`` (used to inject a message, e.g. after a clarification)."""
    return {
        "event": "user",
        "timestamp": timestamp,
        "text": text,
        "parse_data": parse_data,
        "input_channel": input_channel,
    }


def BotUttered(
    text: str | None = None,
    data: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    timestamp: float | None = None,
) -> EventType:
    """The bot said something (prefer ``dispatcher.utter_message``)."""
    return {"event": "bot", "timestamp": timestamp, "text": text, "data": data, "metadata": metadata}


def SlotSet(key: str, value: Any = None, timestamp: float | None = None) -> EventType:
    """Set slot ``key`` to ``value`` (None clears it)."""
    return {"event": "slot", "timestamp": timestamp, "name": key, "value": value}


def Restarted(timestamp: float | None = None) -> EventType:
    """Reset the conversation; a new session starts."""
    return {"event": "restart", "timestamp": timestamp}


def SessionStarted(timestamp: float | None = None) -> EventType:
    """Mark the start of a new conversation session."""
    return {"event": "session_started", "timestamp": timestamp}


def UserUtteranceReverted(timestamp: float | None = None) -> EventType:
    """Undo everything back to and including the last user message."""
    return {"event": "rewind", "timestamp": timestamp}


def AllSlotsReset(timestamp: float | None = None) -> EventType:
    """Reset every slot to its initial value."""
    return {"event": "reset_slots", "timestamp": timestamp}


def ActionReverted(timestamp: float | None = None) -> EventType:
    """Undo the last action."""
    return {"event": "undo", "timestamp": timestamp}


def FollowupAction(name: str, timestamp: float | None = None) -> EventType:
    """Run action ``name`` next, without asking the policies."""
    return {"event": "followup", "timestamp": timestamp, "name": name}


def ConversationPaused(timestamp: float | None = None) -> EventType:
    """Stop the bot from answering (rasa_sdk's helper, kept so action files import alike).

    Concierge refuses it from an action (logged, the rest of the answer kept): who owns a
    conversation is the handoff service's to write. Return ``handoff_requested`` to ask for
    a person instead."""
    return {"event": "pause", "timestamp": timestamp}


def ConversationResumed(timestamp: float | None = None) -> EventType:
    """Let the bot answer again (rasa_sdk's helper; refused by Concierge like
    :func:`ConversationPaused`: only an agent or the console hands a conversation back)."""
    return {"event": "resume", "timestamp": timestamp}


def ActionExecuted(
    action_name: str,
    policy: str | None = None,
    confidence: float | None = None,
    timestamp: float | None = None,
) -> EventType:
    """Record that an action ran."""
    return {
        "event": "action",
        "name": action_name,
        "policy": policy,
        "confidence": confidence,
        "timestamp": timestamp,
    }


def ActiveLoop(name: str | None, timestamp: float | None = None) -> EventType:
    """Activate the loop (form) ``name``, or deactivate the active one with None."""
    return {"event": "active_loop", "name": name, "timestamp": timestamp}


def LoopInterrupted(is_interrupted: bool, timestamp: float | None = None) -> EventType:
    """Mark the active loop as interrupted (its input is not validated this turn)."""
    return {"event": "loop_interrupted", "is_interrupted": is_interrupted, "timestamp": timestamp}


def ActionExecutionRejected(
    action_name: str,
    policy: str | None = None,
    confidence: float | None = None,
    timestamp: float | None = None,
) -> EventType:
    """Refuse to run ``action_name`` on this turn; the policies choose again."""
    return {
        "event": "action_execution_rejected",
        "name": action_name,
        "policy": policy,
        "confidence": confidence,
        "timestamp": timestamp,
    }


def ReminderScheduled(
    intent_name: str,
    trigger_date_time: datetime,
    entities: list[dict[str, Any]] | dict[str, Any] | None = None,
    name: str | None = None,
    kill_on_user_message: bool = True,
    timestamp: float | None = None,
) -> EventType:
    """Ask for ``intent_name`` at ``trigger_date_time`` (Concierge: a proactive message, see
    :mod:`proactive`); ``name`` identifies it for :func:`ReminderCancelled`."""
    return {
        "event": "reminder",
        "intent": intent_name,
        "entities": entities,
        "date_time": trigger_date_time.isoformat(),
        "name": name,
        "kill_on_user_msg": kill_on_user_message,
        "timestamp": timestamp,
    }


def ReminderCancelled(
    name: str | None = None,
    intent_name: str | None = None,
    entities: list[dict[str, Any]] | dict[str, Any] | None = None,
    timestamp: float | None = None,
) -> EventType:
    """Cancel the reminder ``name``."""
    return {
        "event": "cancel_reminder",
        "name": name,
        "intent": intent_name,
        "entities": entities,
        "timestamp": timestamp,
    }
