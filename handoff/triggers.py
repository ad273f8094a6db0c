"""When to hand a conversation to a human: pure functions over its events and config.

Each trigger returns a :class:`TriggerHit` with a machine-readable reason (the
``HandoffRequested.reason`` written to the log: ``client_request``, ``sentiment``,
``repeated_fallback``, ``rule:<name>``) and an explanation an agent can read.

Only the part of the conversation the bot currently owns is considered: events after
the last session start or the last return to the bot, so a conversation a human just
handed back is not escalated again for what was already dealt with.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

from pydantic import BaseModel

from bot.events import (
    ActionExecuted,
    BotUttered,
    Event,
    HandoffStatusChanged,
    Restarted,
    SentimentScore,
    SessionStarted,
    UserUttered,
)
from bot.sentiment.trajectory import trajectory
from handoff.config import Tier, TriggerConfig, TriggerRule

Scorer = Callable[[str], float]
QUOTE_CHARS = 80


class TriggerHit(BaseModel):
    """A reason to hand off, with what made it fire."""

    reason: str
    explanation: str
    immediate: bool = True


# ---- text matching ---------------------------------------------------------------------
# Letters Unicode does not decompose into a base letter plus a mark.
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O"})


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("\u2019", "'").replace("\u02bc", "'").replace("`", "'")


def fold(text: str) -> str:
    """Lower-case, without diacritics, with one kind of apostrophe: what keyword patterns see."""
    return _strip_marks(text.lower())


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    # the pattern is not lower-cased (that would turn \W into \w); IGNORECASE does the job
    return re.compile(r"(?<!\w)(?:" + _strip_marks(pattern) + ")", re.IGNORECASE)


def keyword_match(patterns: dict[str, list[str]], text: str) -> str | None:
    """The first stretch of ``text`` matched by any language's patterns, or None."""
    folded = fold(text)
    for language_patterns in patterns.values():
        for pattern in language_patterns:
            match = _compile(pattern).search(folded)
            if match:
                return match.group(0)
    return None


def _quote(text: str | None) -> str:
    text = " ".join((text or "").split())
    return f'"{text[: QUOTE_CHARS - 1]}…"' if len(text) > QUOTE_CHARS else f'"{text}"'


# ---- the part of the conversation the bot owns -------------------------------------
def bot_segment(events: Sequence[Event]) -> list[Event]:
    """Events after the last session start, restart or return to the bot."""
    start = 0
    for i, event in enumerate(events):
        if isinstance(event, (SessionStarted, Restarted)) or (
            isinstance(event, HandoffStatusChanged) and event.to_status == "bot"
        ):
            start = i + 1
    return list(events[start:])


def client_turns(events: Sequence[Event]) -> list[list[Event]]:
    """The events grouped into turns, each starting with a client message."""
    turns: list[list[Event]] = []
    for event in events:
        if isinstance(event, UserUttered):
            turns.append([event])
        elif turns:
            turns[-1].append(event)
    return turns


def _latest_user(events: Sequence[Event]) -> UserUttered | None:
    return next((e for e in reversed(events) if isinstance(e, UserUttered)), None)


def sentiment_scores(events: Sequence[Event], scorer: Scorer | None = None) -> list[float]:
    """Per-message scores of the client's messages, oldest first: the NLU's
    ``parse_data.sentiment`` where set, else ``scorer(text)``; unscored messages are skipped."""
    scores: list[float] = []
    for event in events:
        if not isinstance(event, UserUttered):
            continue
        scored = event.parse_data.sentiment
        value = scored.score if scored is not None else None
        if value is None and scorer is not None and event.text:
            value = scorer(event.text)
        if value is not None:
            scores.append(float(value))
    return scores


# ---- the triggers ----------------------------------------------------------------------------
def explicit_request(events: Sequence[Event], config: TriggerConfig) -> TriggerHit | None:
    """The client's latest message asks for a person (by intent or in so many words)."""
    latest = _latest_user(bot_segment(events))
    if latest is None:
        return None
    intent = latest.intent_name
    if intent and intent in config.request_intents:
        return TriggerHit(
            reason="client_request",
            explanation=f"client asked for a person (intent {intent}): {_quote(latest.text)}",
        )
    matched = keyword_match(config.request_keywords, latest.text or "")
    if matched:
        return TriggerHit(
            reason="client_request", explanation=f"client asked for a person: {_quote(latest.text)}"
        )
    return None


def falling_sentiment(
    events: Sequence[Event], config: TriggerConfig, scorer: Scorer | None = None
) -> TriggerHit | None:
    """The client's mood is sliding, has stayed very negative, or their anger is rising from
    one message to the next; for every tier (tier-specific rules are :func:`rule_hits`)."""
    scores = sentiment_scores(bot_segment(events), scorer)
    path = trajectory(scores, config.sentiment)
    if path.falling:
        return TriggerHit(reason="sentiment", explanation=f"sentiment {path.describe()}")
    if path.sustained_negative:
        return TriggerHit(
            reason="sentiment",
            explanation=f"sentiment stayed very negative: {path.describe()}",
        )
    if path.rising_anger:
        return TriggerHit(
            reason="sentiment",
            explanation=f"anger rising: {path.describe()}, the latest message {scores[-1]:+.2f}",
        )
    return None


def _is_fallback_turn(turn: list[Event], config: TriggerConfig) -> bool:
    first = turn[0]
    if isinstance(first, UserUttered) and not (first.text or "").strip():
        # a blank message (an empty send, a stray Enter) says nothing the bot could have
        # misunderstood: it is not a failure to understand the client
        return False
    if isinstance(first, UserUttered) and first.intent_name in config.fallback_intents:
        return True
    # a fallback may be an action of its own or a response another action uttered
    # (e.g. the knowledge base's ``utter_kb_no_answer``)
    return any(
        (isinstance(e, ActionExecuted) and e.name in config.fallback_actions)
        or (isinstance(e, BotUttered) and e.metadata.get("utter_action") in config.fallback_actions)
        for e in turn
    )


def repeated_fallbacks(events: Sequence[Event], config: TriggerConfig) -> TriggerHit | None:
    """The bot failed to understand ``fallback_count`` of the last ``fallback_window`` client turns."""
    turns = client_turns(bot_segment(events))[-config.fallback_window :]
    failed = [t for t in turns if _is_fallback_turn(t, config)]
    if len(failed) < config.fallback_count:
        return None
    quotes = ", ".join(_quote(t[0].text if isinstance(t[0], UserUttered) else "") for t in failed[-3:])
    return TriggerHit(
        reason="repeated_fallback",
        explanation=f"bot did not understand {len(failed)} of the last {len(turns)} messages: {quotes}",
    )


def _rule_hit(rule: TriggerRule, latest: UserUttered, tier: Tier) -> TriggerHit | None:
    if rule.tiers and tier not in rule.tiers:
        return None
    what: str | None = None
    intent = latest.intent_name
    if intent and intent in rule.intents:
        what = f"intent {intent}"
    if what is None:
        matched = keyword_match(rule.keywords, latest.text or "")
        if matched:
            what = f'"{matched}"'
    scored = latest.parse_data.sentiment
    score = scored.score if scored is not None else None
    if what is None and rule.max_sentiment is not None and score is not None and score <= rule.max_sentiment:
        what = f"sentiment {score:+.2f} ≤ {rule.max_sentiment:+.2f}"
    if what is None:
        return None
    tier_note = f"{tier} client, " if rule.tiers else ""
    return TriggerHit(
        reason=f"rule:{rule.name}",
        explanation=f"{rule.description} ({tier_note}{what}): {_quote(latest.text)}",
        immediate=rule.immediate,
    )


def rule_hits(
    events: Sequence[Event], config: TriggerConfig, tier: Tier, scorer: Scorer | None = None
) -> list[TriggerHit]:
    """Configured rules matching the client's latest message, in config order."""
    latest = _latest_user(bot_segment(events))
    if latest is None:
        return []
    if latest.parse_data.sentiment is None and scorer is not None and latest.text:
        data = latest.parse_data.model_copy(update={"sentiment": SentimentScore.of(scorer(latest.text))})
        latest = latest.model_copy(update={"parse_data": data})
    hits = (_rule_hit(rule, latest, tier) for rule in config.rules)
    return [h for h in hits if h is not None]


def evaluate_triggers(
    events: Sequence[Event],
    config: TriggerConfig,
    *,
    tier: Tier = "Standard",
    scorer: Scorer | None = None,
) -> list[TriggerHit]:
    """Every trigger that fires, most specific first: the client's request, then rules,
    then repeated fallbacks, then sentiment. The first one is the handoff's reason."""
    hits: list[TriggerHit] = []
    request = explicit_request(events, config)
    if request:
        hits.append(request)
    hits.extend(rule_hits(events, config, tier, scorer))
    for check in (repeated_fallbacks(events, config), falling_sentiment(events, config, scorer)):
        if check:
            hits.append(check)
    return hits
