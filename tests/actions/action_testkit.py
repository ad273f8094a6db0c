"""Helpers shared by the action tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any

from actions.registry import ActionRegistry
from bot.domain import ACTION_EXTRACT_SLOTS, ACTION_LISTEN
from bot.errors import ActionRejected
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    EntityValue,
    Event,
    IntentPrediction,
    ParseData,
    UserUttered,
)
from bot.tracker import Tracker


def user_message(
    text: str,
    intent: str | None,
    entities: list[dict[str, Any]] | None = None,
    *,
    confidence: float = 1.0,
    ranking: list[tuple[str, float]] | None = None,
    response_selector: dict[str, Any] | None = None,
) -> UserUttered:
    """A parsed client message, as the NLU pipeline would produce it."""
    parse = ParseData(
        text=text,
        intent=IntentPrediction(name=intent, confidence=confidence),
        entities=[EntityValue(**e) for e in entities or []],
        intent_ranking=[IntentPrediction(name=n, confidence=c) for n, c in ranking or [(intent, confidence)]],
        response_selector=response_selector,
    )
    return UserUttered(text=text, parse_data=parse, input_channel="rest")


class Conversation:
    """One conversation driven the way ``bot.engine.Engine`` drives it: the client's
    message, ``action_extract_slots``, then actions whose events are applied after an
    ``ActionExecuted`` (or an ``ActionExecutionRejected`` when they refuse)."""

    def __init__(self, registry: ActionRegistry, channel: str = "rest", sender_id: str = "client-1") -> None:
        self.registry = registry
        self.domain = registry.domain
        self.nlg = registry.nlg
        self.channel = channel
        self.tracker = Tracker.for_domain(sender_id, self.domain, [ActionExecuted(name=ACTION_LISTEN)])

    def apply(self, events: list[Event]) -> None:
        for event in events:
            self.tracker.update(event)

    async def say(
        self, text: str, intent: str | None, entities: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[Event]:
        """The client's message plus slot extraction; returns the extraction's events."""
        self.apply([user_message(text, intent, entities, **kwargs)])
        extracted = await self.registry.get(ACTION_EXTRACT_SLOTS).run(
            self.tracker, self.domain, self.nlg, self.channel
        )
        self.apply(extracted)
        return extracted

    async def run(self, name: str) -> list[Event]:
        """Run an action as the engine does; returns the events it added to the tracker."""
        try:
            events = await self.registry.get(name).run(self.tracker, self.domain, self.nlg, self.channel)
        except ActionRejected:
            rejected: list[Event] = [ActionExecutionRejected(name=name)]
            self.apply(rejected)
            return rejected
        if any(isinstance(e, ActionExecutionRejected) for e in events):
            self.apply(events)
            return events
        added: list[Event] = [ActionExecuted(name=name), *events]
        self.apply(added)
        return added

    async def listen(self) -> None:
        await self.run(ACTION_LISTEN)


def texts(events: list[Event]) -> list[str | None]:
    """What the client reads: the text of each bot message."""
    return [e.text for e in events if isinstance(e, BotUttered)]
