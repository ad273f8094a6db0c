"""A rasa_sdk-compatible API for custom actions that run inside the bot's process.

An actions file written for rasa_sdk runs here unchanged apart from its imports::

    try:
        from rasa_sdk import Action, Tracker
        from rasa_sdk.events import SlotSet
        from rasa_sdk.executor import CollectingDispatcher
        from rasa_sdk.forms import FormValidationAction
    except ImportError:
        from actions.sdk import Action, CollectingDispatcher, FormValidationAction, SlotSet, Tracker

The submodules mirror rasa_sdk's (``actions.sdk.events``, ``.executor``, ``.forms``,
``.interfaces``, ``.types``), and the same file can move to a real rasa_sdk action
server, which the bot calls over the webhook (:mod:`actions.remote`).
"""

from actions.sdk.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    EventType,
    FollowupAction,
    LoopInterrupted,
    ReminderCancelled,
    ReminderScheduled,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from actions.sdk.executor import CollectingDispatcher
from actions.sdk.forms import REQUESTED_SLOT, FormValidationAction, ValidationAction
from actions.sdk.interfaces import Action, ActionExecutionRejection, ActionNotFoundException, Tracker
from actions.sdk.types import DomainDict, TrackerState

__all__ = [
    "REQUESTED_SLOT",
    "Action",
    "ActionExecuted",
    "ActionExecutionRejected",
    "ActionExecutionRejection",
    "ActionNotFoundException",
    "ActionReverted",
    "ActiveLoop",
    "AllSlotsReset",
    "BotUttered",
    "CollectingDispatcher",
    "ConversationPaused",
    "ConversationResumed",
    "DomainDict",
    "EventType",
    "FollowupAction",
    "FormValidationAction",
    "LoopInterrupted",
    "ReminderCancelled",
    "ReminderScheduled",
    "Restarted",
    "SessionStarted",
    "SlotSet",
    "Tracker",
    "TrackerState",
    "UserUtteranceReverted",
    "UserUttered",
    "ValidationAction",
]
