"""What happened to a conversation, defined once: the outcome every report counts.

The read model (:mod:`handoff.projections`, ``conversation_facts``) keeps the per-conversation
facts these rules need (how many real questions the client asked, how many real answers and
fallbacks the bot gave, handoffs, resolution and reopen times, CSAT); :func:`classify` turns
one row into an :class:`Outcome`; the analytics service (``console/services/analytics``)
aggregates them. ``docs/analytics.md`` sets the definitions beside Intercom Fin's, Zendesk's
and Chatwoot's.

- ``greeting_only``: the client never asked anything real (only greetings, thanks, yes/no,
  chit-chat) and nobody was asked to help. Excluded from every rate, so a flood of "hi"
  raises nothing.
- ``abandoned``: a real question, no handoff, and the client left before any answer at all.
- ``unresolved``: the bot could not help: its last answer was a fallback or an
  "I don't know", it fell back repeatedly, or the client came back within the reopen window
  (``reopen_days``) after the bot's answer (a return deducts the containment).
- ``contained``: the bot alone answered with a real answer, not reopened within the window.
  ``confirmed`` when the client said so (affirm/thanks after the answer) or rated it 4-5.
- ``assisted``: handed to a person and not (durably) resolved by one: still waiting, answered
  but not resolved, or resolved and then reopened within the window (the reopen deducts).
- ``resolved``: handed to a person, a person's reply was delivered, the ticket was resolved
  and the client did not come back within the window. Like Fin's "assumed" resolutions a
  resolution younger than the window counts until the client returns.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

#: the reopen window: a client returning within it deducts the resolution
DEFAULT_REOPEN_DAYS = 7
#: a client message this long after the previous one is a return, not the same exchange
RETURN_GAP_SECONDS = 3600.0
#: intents that are not a question to the business (a greeting flood is not a conversation)
CHITCHAT_INTENTS = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "mood_great", "chitchat"}
)
#: intents by which a client confirms an answer helped
CONFIRM_INTENTS = frozenset({"thank", "affirm"})
#: responses that say "I could not help" (the core fallback and the knowledge base's no-answer)
FALLBACK_RESPONSES = frozenset({"utter_default", "utter_kb_no_answer", "utter_ask_rephrase"})
#: CSAT scores that confirm a resolution
SATISFIED = 4


class Outcome(StrEnum):
    """One conversation's outcome (see the module docstring for each definition)."""

    GREETING_ONLY = "greeting_only"
    ABANDONED = "abandoned"
    UNRESOLVED = "unresolved"
    CONTAINED = "contained"
    ASSISTED = "assisted"
    RESOLVED = "resolved"


#: outcomes that count in rates (greeting-only conversations are excluded)
RATED = frozenset(set(Outcome) - {Outcome.GREETING_ONLY})
#: outcomes that are a resolution (bot or person)
RESOLUTIONS = frozenset({Outcome.CONTAINED, Outcome.RESOLVED})

#: handoff reason codes in the words a manager reads
REASON_WORDS = {
    "client_request": "Client asked for a person",
    "sentiment": "Client upset (negative sentiment)",
    "repeated_fallback": "Bot did not understand, repeatedly",
    "concierge": "Client asked for their concierge",
    "out_of_hours": "Outside business hours",
    "unknown": "Reason not recorded",
}


def reason_words(code: str | None) -> str:
    """A handoff reason code in human words (``rule:vip_complaint`` -> "Rule: VIP complaint")."""
    if not code:
        return REASON_WORDS["unknown"]
    if code in REASON_WORDS:
        return REASON_WORDS[code]
    if code.startswith("rule:"):
        name = code.removeprefix("rule:").replace("_", " ").strip()
        words = [w.upper() if w.lower() == "vip" else w for w in name.split()]
        phrase = " ".join(words)
        return "Rule: " + (phrase[:1].upper() + phrase[1:] if phrase else "unnamed")
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def is_substantive(intent: str | None) -> bool:
    """True when a client message is a real question or request, not chit-chat.

    A message the NLU could not name (no intent, ``nlu_fallback``) counts as real: the client
    asked something the bot did not understand, which must not vanish from the rates.
    """
    return intent not in CHITCHAT_INTENTS


def is_fallback(metadata: dict[str, Any]) -> bool:
    """True when a bot line says the bot could not help (fallback or knowledge no-answer)."""
    if metadata.get("utter_action") in FALLBACK_RESPONSES:
        return True
    knowledge = metadata.get("knowledge")
    return isinstance(knowledge, dict) and knowledge.get("answered") is False


class OutcomeInput(BaseModel):
    """The facts :func:`classify` reads (the ``conversation_facts`` columns of the same names)."""

    substantive_messages: int = 0
    answers: int = 0
    fallbacks: int = 0
    last_answer_fallback: bool = False
    confirmed: bool = False
    csat_score: int | None = None
    handoffs: int = 0
    resolved_at: float | None = None
    reopened_after: float | None = None
    returned_after: float | None = None


def classify(
    facts: OutcomeInput,
    *,
    human_replied: bool,
    reopen_days: int = DEFAULT_REOPEN_DAYS,
) -> Outcome:
    """The conversation's outcome; ``human_replied``: a person's reply was DELIVERED to it."""
    window = reopen_days * 86400.0
    if facts.handoffs > 0:
        reopened = facts.reopened_after is not None and facts.reopened_after <= window
        if facts.resolved_at is not None and human_replied and not reopened:
            return Outcome.RESOLVED
        return Outcome.ASSISTED
    if facts.substantive_messages == 0:
        return Outcome.GREETING_ONLY
    if facts.answers == 0 and facts.fallbacks == 0:
        return Outcome.ABANDONED
    if facts.answers == 0 or facts.last_answer_fallback or facts.fallbacks >= 2:
        return Outcome.UNRESOLVED
    if facts.returned_after is not None and facts.returned_after <= window:
        return Outcome.UNRESOLVED
    return Outcome.CONTAINED


def confirmed(facts: OutcomeInput) -> bool:
    """A resolution the client confirmed: said so after the answer, or rated it 4 or 5."""
    return facts.confirmed or (facts.csat_score is not None and facts.csat_score >= SATISFIED)


def first_contact(facts: OutcomeInput, outcome: Outcome) -> bool:
    """Resolved at first contact: a resolution, at most one handoff, the client never came back."""
    return (
        outcome in RESOLUTIONS
        and facts.handoffs <= 1
        and facts.returned_after is None
        and facts.reopened_after is None
    )
