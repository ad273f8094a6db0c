"""Scripted conversations as event logs, the way the engine writes them."""

from __future__ import annotations

from bot.events import (
    ActionExecuted,
    BotUttered,
    Event,
    IntentPrediction,
    ParseData,
    SessionStarted,
    UserUttered,
)


class Script:
    """Builds a conversation turn by turn with increasing timestamps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.events: list[Event] = [
            ActionExecuted(name="action_session_start", timestamp=start),
            SessionStarted(timestamp=start),
        ]

    def _tick(self) -> float:
        self.now += 5
        return self.now

    def client(
        self, text: str, intent: str = "inform", sentiment: float | None = None, language: str | None = None
    ) -> Script:
        parse = ParseData(
            text=text,
            intent=IntentPrediction(name=intent, confidence=0.9),
            sentiment=sentiment,
            language=language,
        )
        self.events.append(
            UserUttered(text=text, parse_data=parse, timestamp=self._tick(), metadata={"sender": "client"})
        )
        return self

    def bot(self, action: str, text: str | None = None, **metadata: object) -> Script:
        self.events.append(
            ActionExecuted(name=action, policy="RulePolicy", confidence=1.0, timestamp=self._tick())
        )
        if text is not None:
            self.events.append(BotUttered(text=text, timestamp=self._tick(), metadata=dict(metadata)))
        self.events.append(ActionExecuted(name="action_listen", timestamp=self._tick()))
        return self

    def add(self, *events: Event) -> Script:
        self.events.extend(events)
        return self
