"""Turning stored events into what people see: transcript lines and outbound messages."""

from __future__ import annotations

from bot.events import BotUttered, Event, UserUttered
from bot.models import Button, OutboundMessage, TranscriptEntry


def _buttons(data: dict[str, object]) -> list[Button]:
    raw = data.get("buttons") or data.get("quick_replies") or []
    if not isinstance(raw, list):
        return []
    return [
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in raw
        if isinstance(b, dict)
    ]


def transcript_entry(seq: int, event: Event) -> TranscriptEntry | None:
    """The transcript line for an event, or None for events people do not see."""
    if isinstance(event, UserUttered):
        return TranscriptEntry(
            seq=seq, sender="client", text=event.text, timestamp=event.timestamp, message_id=event.message_id
        )
    if isinstance(event, BotUttered):
        sender = event.metadata.get("sender", "bot")
        if sender not in ("bot", "agent", "system"):
            sender = "bot"
        image = event.data.get("image")
        return TranscriptEntry(
            seq=seq,
            sender=sender,
            text=event.text,
            buttons=_buttons(event.data),
            image=image if isinstance(image, str) else None,
            timestamp=event.timestamp,
        )
    return None


def outbound_from_bot_event(event: BotUttered, channel: str, recipient_id: str) -> OutboundMessage:
    """The message a channel sends for a ``BotUttered`` event."""
    image = event.data.get("image")
    custom = event.data.get("custom")
    sender = event.metadata.get("sender", "bot")
    return OutboundMessage(
        channel=channel,
        recipient_id=recipient_id,
        text=event.text,
        buttons=_buttons(event.data),
        image=image if isinstance(image, str) else None,
        custom=custom if isinstance(custom, dict) else None,
        sender=sender if sender in ("bot", "agent", "system") else "bot",
    )
