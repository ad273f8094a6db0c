"""The handoff queue's order: who gets a person first.

Priority = tier weight + urgency x (share of the first-response SLA already used,
growing past 1 once it is blown, capped) + sentiment weight x how negative the client
is + a boost for some reasons (safety above all). A VIP complaint with 20 s of its 60 s
left therefore outranks a Standard question with 200 s of 300 s left, while a Standard
client kept waiting far past their SLA eventually outranks a fresh VIP: nobody starves.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from bot.events import Event, UserUttered
from bot.sentiment.trajectory import trajectory
from handoff.clients import ClientProfile
from handoff.config import HandoffConfig, Tier
from handoff.state import HandoffStatus, ticket
from handoff.triggers import Scorer, sentiment_scores


class QueueItem(BaseModel):
    """A queued conversation as the queue sees it."""

    conversation_id: str
    tier: Tier = "Standard"
    queued_at: float
    sentiment: float | None = None
    reason: str | None = None
    language: str | None = None
    category: str | None = None
    client_name: str | None = None


class RankedItem(BaseModel):
    """A queue item with its priority and why, and its SLA clock."""

    item: QueueItem
    priority: float
    deadline: float
    seconds_left: float
    overdue: bool
    explanation: str


def rank_item(item: QueueItem, now: float, config: HandoffConfig) -> RankedItem:
    """Priority and SLA status of one item at ``now`` (epoch seconds)."""
    weights = config.priority
    sla = config.sla_seconds(item.tier)
    deadline = item.queued_at + sla
    left = deadline - now
    urgency = min(weights.max_urgency, max(0.0, 1.0 - left / sla))
    negativity = max(0.0, -(item.sentiment or 0.0))
    boost = weights.reasons.get(item.reason or "", 0.0)
    priority = weights.tier[item.tier] + weights.urgency * urgency + weights.sentiment * negativity + boost
    parts: list[str] = [item.tier]
    parts.append(f"{abs(left):.0f} s overdue (SLA {sla} s)" if left < 0 else f"{left:.0f} s left of {sla} s")
    if item.sentiment is not None:
        parts.append(f"sentiment {item.sentiment:+.2f}")
    if item.reason:
        parts.append(f"reason {item.reason}" + (f" (+{boost:g})" if boost else ""))
    return RankedItem(
        item=item,
        priority=round(priority, 4),
        deadline=deadline,
        seconds_left=left,
        overdue=left < 0,
        explanation=f"{', '.join(parts)} -> priority {priority:.2f}",
    )


def rank(items: Sequence[QueueItem], now: float, config: HandoffConfig) -> list[RankedItem]:
    """The queue, highest priority first; ties go to the earlier deadline, then the earlier arrival."""
    ranked = [rank_item(item, now, config) for item in items]
    return sorted(ranked, key=lambda r: (-r.priority, r.deadline, r.item.queued_at, r.item.conversation_id))


def queue_item(
    conversation_id: str,
    events: Sequence[Event],
    config: HandoffConfig,
    *,
    client: ClientProfile | None = None,
    category: str | None = None,
    scorer: Scorer | None = None,
) -> QueueItem | None:
    """The queue's view of a conversation from its log and client, or None if it is not queued.

    Sentiment is the smoothed latest score (one bad word does not dominate); the
    category, when not given, is the client's most recent service category.
    """
    current = ticket(conversation_id, events)
    if current.status != HandoffStatus.QUEUED or current.queued_at is None:
        return None
    path = trajectory(sentiment_scores(events, scorer), config.triggers.sentiment)
    language = next(
        (
            e.parse_data.language
            for e in reversed(events)
            if isinstance(e, UserUttered) and e.parse_data.language
        ),
        None,
    )
    if category is None and client is not None and client.recent_visits:
        category = client.recent_visits[0].category
    return QueueItem(
        conversation_id=conversation_id,
        tier=client.tier if client else "Standard",
        queued_at=current.queued_at,
        sentiment=path.latest,
        reason=current.reason,
        language=language or (client.language if client else None),
        category=category,
        client_name=client.display_name if client else None,
    )
