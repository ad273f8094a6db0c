"""The warm-handoff packet: what an agent needs to know before typing the first word.

Built from the conversation's events (the same log the bot used) and the client's
profile: who the client is and their tier, why the bot handed off, a short summary,
the client's key messages, what the bot already tried (replies, actions, knowledge
articles cited), the intents seen and the sentiment trajectory. The summary is
extractive by default; an LLM summariser can be injected and is used when it answers,
with the extractive one as the fallback.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from bot.events import ActionExecuted, BotUttered, Event, Restarted, SessionStarted, UserUttered
from bot.models import ContactHints
from bot.redact import conversation_ref
from bot.sentiment.trajectory import SentimentTrajectory, trajectory
from handoff.clients import ClientProfile, Visit
from handoff.config import HandoffConfig, Tier
from handoff.recognition import unverified_contact
from handoff.state import ticket
from handoff.triggers import Scorer, keyword_match, sentiment_scores

log = logging.getLogger(__name__)

KEY_MESSAGES = 4
QUIET_ACTIONS = {"action_listen", "action_session_start", "action_extract_slots", "action_restart"}


class TranscriptLine(BaseModel):
    """One line for a summariser: who said what."""

    sender: Literal["client", "bot", "agent", "system"]
    text: str


class Summariser(Protocol):
    """An optional LLM summary of the transcript (a few sentences for the agent)."""

    async def summarise(self, lines: list[TranscriptLine]) -> str:
        """A few sentences for the agent; raise or return "" to fall back to the extractive summary."""
        ...


class KeyMessage(BaseModel):
    """A client message worth reading first."""

    timestamp: float
    text: str
    intent: str | None = None
    sentiment: float | None = None


class BotAttempt(BaseModel):
    """Something the bot did: an action it ran or a reply it sent, with cited sources."""

    timestamp: float
    action: str | None = None
    text: str | None = None
    sources: list[str] = []


class IntentSeen(BaseModel):
    """An intent recognised in the conversation and how often."""

    name: str
    count: int


class ClientCard(BaseModel):
    """The client as the agent sees them in the packet."""

    id: str
    name: str
    tier: Tier
    tier_reason: str
    concierge_agent_id: str | None
    language: str | None
    preferences: dict[str, str]
    notes: list[str]
    recent_visits: list[Visit]
    milestones: list[str]

    @classmethod
    def of(cls, profile: ClientProfile) -> ClientCard:
        """The card of a stored profile."""
        return cls(
            id=profile.id,
            name=profile.display_name,
            tier=profile.tier,
            tier_reason=profile.tier_reason,
            concierge_agent_id=profile.concierge_agent_id,
            language=profile.language,
            preferences=profile.preferences,
            notes=[n.text for n in profile.notes],
            recent_visits=profile.recent_visits[:3],
            milestones=[m.description for m in profile.milestones],
        )


class HandoffPacket(BaseModel):
    """Everything the agent receives with a handed-off conversation."""

    conversation_id: str
    reason: str | None
    reason_detail: str | None
    tier: Tier
    language: str | None
    client: ClientCard | None
    summary: str
    summary_source: Literal["extractive", "llm"]
    key_messages: list[KeyMessage]
    bot_attempts: list[BotAttempt]
    intents: list[IntentSeen]
    sentiment: SentimentTrajectory | None
    knowledge_sources: list[str]
    queued_at: float | None
    sla_deadline: float | None
    #: contact details the client claimed but no channel proved (never used to recognise)
    unverified_contact: ContactHints | None = None


def _session(events: Sequence[Event]) -> list[Event]:
    start = 0
    for i, event in enumerate(events):
        if isinstance(event, (SessionStarted, Restarted)):
            start = i + 1
    return list(events[start:])


def _sources(metadata: dict[str, Any]) -> list[str]:
    """Knowledge sources named in an event's metadata (``sources`` or ``knowledge.sources``)."""
    raw: Any = metadata.get("sources")
    knowledge = metadata.get("knowledge")
    if raw is None and isinstance(knowledge, dict):
        raw = knowledge.get("sources")
    out: list[str] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            label = item.get("title") or item.get("article_id") or item.get("id")
            if label:
                out.append(str(label))
        elif isinstance(item, str):
            out.append(item)
    return out


def readable_intent(name: str) -> str:
    """An intent as an agent reads it: ``nlu_fallback`` is "unclear message", ``faq/lateness``
    "lateness question", ``request_human`` "request human"."""
    if name == "nlu_fallback":
        return "unclear message"
    base, _, key = name.partition("/")
    if key:
        return f"{key.replace('_', ' ')} question"
    return base.replace("_", " ")


def readable_action(name: str) -> str:
    """A bot action as an agent reads it: ``utter_ask_details`` -> "ask details"."""
    for prefix in ("action_", "utter_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.replace("_", " ")


def _typed(message: UserUttered) -> bool:
    """The client wrote it (a button press arrives as a ``/intent{...}`` payload)."""
    text = (message.text or "").strip()
    return bool(text) and not text.startswith("/")


def _key_messages(
    messages: list[UserUttered], scores: dict[int, float], config: HandoffConfig
) -> list[KeyMessage]:
    patterns: dict[str, list[str]] = {}
    for rule in config.triggers.rules:
        for lang, found in rule.keywords.items():
            patterns.setdefault(lang, []).extend(found)
    weighted = []
    seen: set[str] = set()
    for i, message in enumerate(messages):
        text = (message.text or "").strip()
        if not _typed(message) or text.casefold() in seen:
            continue  # button presses are not what the client said; the same words once
        seen.add(text.casefold())
        weight = 0.0
        if i == 0:
            weight += 2
        if i == len(messages) - 1:
            weight += 2
        weight += 2 * max(0.0, -scores.get(i, 0.0))
        if keyword_match(patterns, message.text or ""):
            weight += 1.5
        weight += min(len(message.text or ""), 200) / 200  # longer messages usually say more
        weighted.append((weight, i))
    chosen = sorted(i for _, i in sorted(weighted, reverse=True)[:KEY_MESSAGES])
    return [
        KeyMessage(
            timestamp=messages[i].timestamp,
            text=messages[i].text or "",
            intent=messages[i].intent_name,
            sentiment=scores.get(i),
        )
        for i in chosen
    ]


def _extractive_summary(
    name: str,
    tier: Tier,
    language: str | None,
    messages: list[UserUttered],
    intents: list[IntentSeen],
    attempts: list[BotAttempt],
    sources: list[str],
    path: SentimentTrajectory | None,
    detail: str | None,
    key: list[KeyMessage],
) -> str:
    who = f"{name} ({tier}{', ' + language if language else ''})"
    parts = [f"{who} wrote {len(messages)} message{'s' if len(messages) != 1 else ''}"]
    if intents:
        parts[0] += " about " + ", ".join(dict.fromkeys(readable_intent(i.name) for i in intents[:4]))
    if detail:
        parts.append(f"Handed off: {detail}")
    tried = [readable_action(a.action) for a in attempts if a.action]
    if tried:
        parts.append("Bot tried: " + ", ".join(dict.fromkeys(tried)))
    if sources:
        parts.append("Knowledge cited: " + ", ".join(sources))
    if path is not None and path.scores:
        parts.append(f"Mood {path.describe()}")
    if key:
        parts.append("Key messages: " + " / ".join(f'"{k.text}"' for k in key))
    return ". ".join(parts) + "."


async def build_packet(
    conversation_id: str,
    events: Sequence[Event],
    *,
    config: HandoffConfig,
    client: ClientProfile | None = None,
    summariser: Summariser | None = None,
    scorer: Scorer | None = None,
) -> HandoffPacket:
    """The packet for a conversation, from its events (current session) and client profile."""
    session = _session(events)
    current = ticket(conversation_id, events)
    tier: Tier = client.tier if client else "Standard"
    messages = [e for e in session if isinstance(e, UserUttered)]
    score_list = sentiment_scores(messages, scorer)
    scored = [i for i, m in enumerate(messages) if m.parse_data.sentiment is not None or (scorer and m.text)]
    scores = dict(zip(scored, score_list, strict=True))
    counts = Counter(m.intent_name for m in messages if m.intent_name)
    intents = [IntentSeen(name=name, count=n) for name, n in counts.most_common()]
    attempts: list[BotAttempt] = []
    sources: list[str] = []
    for event in session:
        if isinstance(event, ActionExecuted) and event.name not in QUIET_ACTIONS:
            found = _sources(event.metadata)
            attempts.append(BotAttempt(timestamp=event.timestamp, action=event.name, sources=found))
            sources.extend(found)
        elif isinstance(event, BotUttered) and event.metadata.get("sender", "bot") == "bot":
            found = _sources(event.metadata)
            attempts.append(BotAttempt(timestamp=event.timestamp, text=event.text, sources=found))
            sources.extend(found)
    sources = list(dict.fromkeys(sources))
    path = trajectory(score_list, config.triggers.sentiment) if score_list else None
    language = next((m.parse_data.language for m in reversed(messages) if m.parse_data.language), None)
    language = language or (client.language if client else None)
    key = _key_messages(messages, scores, config)
    name = client.display_name if client else "Client"
    summary = _extractive_summary(
        name, tier, language, messages, intents, attempts, sources, path, current.detail, key
    )
    source: Literal["extractive", "llm"] = "extractive"
    if summariser is not None:
        lines = [
            TranscriptLine(sender="client", text=e.text or "")
            if isinstance(e, UserUttered)
            else TranscriptLine(
                sender="agent" if e.metadata.get("sender") == "agent" else "bot", text=e.text or ""
            )
            for e in session
            if isinstance(e, (UserUttered, BotUttered))
        ]
        try:
            written = (await summariser.summarise(lines)).strip()
        except Exception:  # the agent still gets the extractive summary
            log.warning(
                "LLM summary failed for %s; using the extractive one",
                conversation_ref(conversation_id),
                exc_info=True,
            )
            written = ""
        if written:
            summary, source = written, "llm"
    deadline = current.queued_at + config.sla_seconds(tier) if current.queued_at is not None else None
    return HandoffPacket(
        conversation_id=conversation_id,
        reason=current.reason,
        reason_detail=current.detail,
        tier=tier,
        language=language,
        client=ClientCard.of(client) if client else None,
        summary=summary,
        summary_source=source,
        key_messages=key,
        bot_attempts=attempts,
        intents=intents,
        sentiment=path,
        knowledge_sources=sources,
        queued_at=current.queued_at,
        sla_deadline=deadline,
        unverified_contact=unverified_contact(session),
    )
