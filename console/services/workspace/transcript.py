"""The agent's transcript: the client's lines plus what only staff see.

The client's widget shows ``bot.transcript.transcript_entry`` lines (client, bot and agent
messages). The agent sees those and, in the same ``seq`` order, internal notes, handoff
moves ("claimed by Anna") and CSAT questions and answers, so the whole story of a
conversation reads top to bottom from the one event log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.events import (
    AgentNoteAdded,
    BotUttered,
    CsatRecorded,
    CsatRequested,
    HandoffRequested,
    HandoffStatusChanged,
    UserUttered,
)
from bot.store.event_store import StoredEvent
from console.services.workspace.models import SentimentPoint, WorkspaceLine

STATUS_WORDS = {
    "queued": "in the queue",
    "assigned": "assigned",
    "resolved": "resolved",
    "bot": "back with the bot",
}


def _buttons(event: BotUttered) -> list[str]:
    raw = event.data.get("buttons") or event.data.get("quick_replies") or []
    return [str(b.get("title", "")) for b in raw if isinstance(b, dict)] if isinstance(raw, list) else []


def _status_text(event: HandoffStatusChanged, name_of: Callable[[str], str]) -> str:
    if event.to_status == "assigned":
        agent = str(event.metadata.get("agent_id") or event.actor)
        who = name_of(agent)
        text = f"Claimed by {who}" if event.actor == agent else f"Assigned to {who} by {name_of(event.actor)}"
    elif event.to_status == "queued" and event.from_status == "bot":
        text = "Handed off: waiting in the queue"
    elif event.to_status == "queued":
        text = f"Back in the queue ({name_of(event.actor)})"
    elif event.to_status == "bot":
        text = f"Returned to the bot by {name_of(event.actor)}"
    else:
        text = f"Marked {STATUS_WORDS.get(event.to_status, event.to_status)} by {name_of(event.actor)}"
    quiet = event.from_status == "bot" or event.reason in ("claimed", "resolved", "returned to bot")
    if event.reason and not quiet and not event.reason.startswith("assigned by"):
        text += f": {event.reason}"
    return text


def workspace_line(stored: StoredEvent, name_of: Callable[[str], str] = str) -> WorkspaceLine | None:
    """The agent's line for one stored event, or None for bookkeeping events (slots, actions)."""
    seq, event = stored.seq, stored.event
    if isinstance(event, UserUttered):
        sentiment = event.parse_data.sentiment
        title = event.metadata.get("title")
        return WorkspaceLine(
            seq=seq,
            kind="client",
            text=title if isinstance(title, str) and title else event.text,
            timestamp=event.timestamp,
            sentiment=sentiment.score if sentiment else None,
            sentiment_label=sentiment.label if sentiment else None,
            intent=event.intent_name,
        )
    if isinstance(event, BotUttered):
        sender = event.metadata.get("sender", "bot")
        kind = sender if sender in ("bot", "agent", "system") else "bot"
        author = event.metadata.get("agent_name") if kind == "agent" else None
        return WorkspaceLine(
            seq=seq,
            kind=kind,
            text=event.text,
            timestamp=event.timestamp,
            author=str(author) if author else None,
            buttons=_buttons(event),
        )
    if isinstance(event, AgentNoteAdded):
        return WorkspaceLine(
            seq=seq, kind="note", text=event.text, timestamp=event.timestamp, author=event.author
        )
    if isinstance(event, HandoffRequested):
        text = f"Handoff requested: {event.reason}" + (f" ({event.detail})" if event.detail else "")
        return WorkspaceLine(seq=seq, kind="event", text=text, timestamp=event.timestamp)
    if isinstance(event, HandoffStatusChanged):
        return WorkspaceLine(
            seq=seq, kind="event", text=_status_text(event, name_of), timestamp=event.timestamp
        )
    if isinstance(event, CsatRequested):
        return WorkspaceLine(seq=seq, kind="event", text="CSAT question sent", timestamp=event.timestamp)
    if isinstance(event, CsatRecorded):
        text = f"CSAT: {event.score}/5" + (f" ({event.comment})" if event.comment else "")
        return WorkspaceLine(seq=seq, kind="event", text=text, timestamp=event.timestamp)
    return None


def workspace_lines(
    stored: Sequence[StoredEvent], name_of: Callable[[str], str] = str
) -> list[WorkspaceLine]:
    """Every line the agent sees, in ``seq`` order."""
    lines = (workspace_line(s, name_of) for s in stored)
    return [line for line in lines if line is not None]


def sentiment_points(stored: Sequence[StoredEvent]) -> list[SentimentPoint]:
    """The scored client messages, oldest first (the trajectory on the client card)."""
    points = []
    for s in stored:
        if isinstance(s.event, UserUttered) and s.event.parse_data.sentiment is not None:
            score = s.event.parse_data.sentiment
            points.append(SentimentPoint(seq=s.seq, score=score.score, label=score.label))
    return points
